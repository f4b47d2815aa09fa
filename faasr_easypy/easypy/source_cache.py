"""The source of a testscript's classes, found once per file instead of once per call.

aetest asks for the source of every section it reports (pyATS hashes it with
``inspect.getsource``). On Python 3.11, ``inspect.getsource`` of a *class*
parses the whole file with ``ast`` on every call: about a fifth of a workflow
task's CPU for our testscripts. Where each class of a file starts depends only
on the file, so this module parses a file once, keeps the start line of every
class by qualified name, and answers exactly what ``inspect.getsource`` would
(same lines, same block rule). :func:`warm` does the parse in the job process
before a task forks, so the task inherits it; :func:`install` makes pyATS's
source lookups use it. Functions (the sections) get the same treatment: the
block of each is found once. Anything else goes to ``inspect`` unchanged.
"""

import ast
import inspect
import linecache
import logging
import os

from ..forksafe import ForkSafeLock

log = logging.getLogger(__name__)

# pyATS modules that call inspect.getsource / getsourcelines through their module-level
# name `inspect` (Cython modules look it up at call time, so a substitute there is used).
USERS = ("pyats.reporter.utils", "pyats.aetest.utils")

_cache = {}  # (absolute path, mtime_ns, size) -> _FileClasses
_lock = ForkSafeLock()


class _ClassStarts(ast.NodeVisitor):
    """Start line of every class, as inspect's _ClassFinder finds it (first match wins,
    the first decorator's line when decorated, functions' locals named `<locals>`)."""

    def __init__(self):
        self.stack = []
        self.starts = {}
        self.functions = []  # 0-based start lines of every def

    def visit_FunctionDef(self, node):
        # Where inspect.findsource puts a function (co_firstlineno: its first decorator).
        line = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        self.functions.append(line - 1)
        self.stack += [node.name, "<locals>"]
        self.generic_visit(node)
        del self.stack[-2:]

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.stack.append(node.name)
        line = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        self.starts.setdefault(".".join(self.stack), line - 1)
        self.generic_visit(node)
        self.stack.pop()


def _file_key(path):
    path = os.path.abspath(path)
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


class _FileClasses:
    """One version of a file: its lines, where each class starts, the blocks found so far."""

    def __init__(self, lines, starts, functions=()):
        self.lines, self.starts, self.blocks = lines, starts, {}
        self.functions = list(functions)

    def function_lines(self, lnum):
        """inspect.getsourcelines of the function inspect.findsource put at `lnum`."""
        key = ("def", lnum)
        found = self.blocks.get(key)
        if found is None:
            found = self.blocks[key] = (inspect.getblock(self.lines[lnum:]), lnum + 1)
        return list(found[0]), found[1]

    def sourcelines(self, qualname):
        """inspect.getsourcelines of the class `qualname`, or None if the file has none."""
        found = self.blocks.get(qualname)
        if found is None and qualname in self.starts:
            start = self.starts[qualname]
            found = self.blocks[qualname] = (inspect.getblock(self.lines[start:]), start + 1)
        if found is None:
            return None
        return list(found[0]), found[1]  # a copy: callers may change their list


def _class_table(path):
    """The _FileClasses of the file at `path`, parsed once per version of the file."""
    key = _file_key(path)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    linecache.checkcache(key[0])
    lines = linecache.getlines(key[0])
    finder = _ClassStarts()
    finder.visit(ast.parse("".join(lines)))
    found = _FileClasses(lines, finder.starts, finder.functions)
    with _lock:
        for old in [k for k in _cache if k[0] == key[0]]:
            del _cache[old]
        _cache[key] = found
    return found


def _class_lines(obj):
    """inspect.getsourcelines(cls) from the table, or None when inspect must answer."""
    obj = inspect.unwrap(obj)
    if not inspect.isclass(obj):
        return None
    try:
        path = inspect.getsourcefile(obj)
        if not path or not os.path.isfile(path):
            return None
        return _class_table(path).sourcelines(obj.__qualname__)
    except Exception:  # whatever inspect would say about it, it says itself
        return None


def _function_lines(obj):
    """inspect.getsourcelines(function) with the block rule run once per function: the
    answer of inspect.findsource (cheap) picks the cached block (tokenizing is not)."""
    obj = inspect.unwrap(obj)
    if inspect.ismethod(obj):
        obj = obj.__func__
    if not inspect.isfunction(obj):
        return None
    try:
        path = inspect.getsourcefile(obj)
        if not path or not os.path.isfile(path):
            return None
        table = _class_table(path)
        lines, lnum = inspect.findsource(obj)
        if lines is not table.lines and lines != table.lines:
            return None  # not the version of the file the table holds
        return table.function_lines(lnum)
    except Exception:  # whatever inspect would say about it, it says itself
        return None


def _lines(obj):
    found = _class_lines(obj)
    return found if found is not None else _function_lines(obj)


def getsourcelines(obj):
    """Same as inspect.getsourcelines."""
    found = _lines(obj)
    return found if found is not None else inspect.getsourcelines(obj)


def getsource(obj):
    """Same as inspect.getsource."""
    found = _lines(obj)
    return "".join(found[0]) if found is not None else inspect.getsource(obj)


class _Inspect:
    """The inspect module, but with this module's source lookups (given to pyATS only)."""

    getsource = staticmethod(getsource)
    getsourcelines = staticmethod(getsourcelines)

    def __getattr__(self, name):
        return getattr(inspect, name)


_substitute = _Inspect()


def install():
    """Let pyATS's source lookups use the table (idempotent, best effort)."""
    import importlib

    done = False
    for name in USERS:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # another pyATS version: leave it alone
            log.debug("%s not found: %s", name, exc)
            continue
        if getattr(module, "inspect", None) in (inspect, _substitute):
            module.inspect = _substitute
            done = True
    return done


def warm(path):
    """Job process, before forking: parse the testscript at `path` so the task inherits it."""
    try:
        table = _class_table(str(path))
        for qualname in table.starts:
            table.sourcelines(qualname)
        for lnum in table.functions:
            table.function_lines(lnum)
    except Exception as exc:  # a broken testscript: the task reports it
        log.debug("source of %s: %s", path, exc)
