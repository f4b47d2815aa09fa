"""The testscript source cache: same answers as inspect, filled in the parent before a fork."""

import ast
import importlib.util
import inspect
import os
import sys
import textwrap

import pytest

from faasr_easypy.easypy import source_cache

from .processes import answer_from_fork

SCRIPT = textwrap.dedent('''
    import functools


    def deco(cls):
        return cls


    class Plain:
        def method(self):
            return 1


    @deco
    class Decorated:
        class Inner:
            x = 1


    def factory():
        class Local:
            pass
        return Local


    class Plain2(Plain):
        """Docstring."""

        @functools.lru_cache()
        def cached(self):
            return 2


    def outer():
        def inner(x):
            return x  # a comment at the end
        # a comment after the block
        return inner


    square = lambda x: x * x  # noqa: E731
''')


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script_for_source_cache.py"
    path.write_text(SCRIPT)
    module = _load(path, "script_for_source_cache")
    yield path, module
    sys.modules.pop("script_for_source_cache", None)


def test_same_source_as_inspect(script):
    _, module = script
    objects = [module.Plain, module.Decorated, module.Decorated.Inner, module.factory(), module.Plain2,
               module.Plain.method, module.Plain2.cached, module.deco, module, module.outer,
               module.outer(), module.square, module.Plain().method]
    for obj in objects:
        assert source_cache.getsource(obj) == inspect.getsource(obj), obj
        assert source_cache.getsourcelines(obj) == inspect.getsourcelines(obj), obj


def test_same_source_for_the_projects_testscripts():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [os.path.join(root, "testscripts", f) for f in sorted(os.listdir(os.path.join(root, "testscripts")))
             if f.endswith(".py")]
    paths.append(os.path.join(root, "faasr_easypy", "easypy", "generic_testscript.py"))
    for i, path in enumerate(paths):
        name = f"_source_cache_ts_{i}"
        module = _load(path, name)
        try:
            classes = [o for o in vars(module).values() if inspect.isclass(o) and o.__module__ == name]
            assert classes
            for cls in classes:
                assert source_cache.getsource(cls) == inspect.getsource(cls), (path, cls)
                for member in vars(cls).values():  # the sections
                    if inspect.isfunction(member):
                        assert source_cache.getsourcelines(member) == inspect.getsourcelines(member), \
                            (path, member)
        finally:
            sys.modules.pop(name, None)


def test_a_changed_file_is_parsed_again(script, tmp_path):
    path, module = script
    assert "return 1" in source_cache.getsource(module.Plain)
    path.write_text(SCRIPT.replace("return 1", "return 10  # changed"))
    os.utime(path, ns=(1, 1))  # a different mtime even within the clock's resolution
    changed = _load(path, "script_for_source_cache")
    assert source_cache.getsource(changed.Plain) == inspect.getsource(changed.Plain)
    assert "return 10" in source_cache.getsource(changed.Plain)


def test_warm_fills_the_cache_before_a_fork(script, monkeypatch):
    """After warm() in the parent, a forked child answers without parsing the file."""
    path, module = script
    source_cache.warm(path)
    expected = inspect.getsource(module.Decorated)
    def child():  # any parse would fail here
        ast.parse = None
        return b"same" if source_cache.getsource(module.Decorated) == expected else b"different"

    assert answer_from_fork(child) == b"same"


def test_warm_finds_the_functions_blocks_before_a_fork(script):
    """The sections' blocks too: a forked child answers without tokenizing the file."""
    path, module = script
    source_cache.warm(path)
    expected = [inspect.getsourcelines(f) for f in (module.Plain.method, module.Plain2.cached, module.outer)]

    def child():  # any block search would fail here
        inspect.getblock = None
        found = [source_cache.getsourcelines(f) for f in (module.Plain.method, module.Plain2.cached, module.outer)]
        return b"same" if found == expected else b"different"

    assert answer_from_fork(child) == b"same"


def test_install_gives_pyats_the_cached_lookups():
    assert source_cache.install()
    from pyats.aetest import utils as aetest_utils
    from pyats.reporter import utils as reporter_utils

    for module in (aetest_utils, reporter_utils):
        assert module.inspect.getsource is source_cache.getsource
        assert module.inspect.getsourcelines is source_cache.getsourcelines
        assert module.inspect.isclass is inspect.isclass  # everything else is inspect's own
