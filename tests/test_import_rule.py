"""The core never imports easypy/ (docs/ARCHITECTURE.md): plain-Python and pytest users load
no pyATS code. Checked statically (every import statement outside faasr_easypy/easypy/) and
at run time (sys.modules of a fresh interpreter and of a fresh pytest run)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "faasr_easypy"
INTEGRATION = PACKAGE / "easypy"
PYATS_PACKAGES = {"pyats", "genie", "unicon"}
CORE_MODULES = ["faasr_easypy", "faasr_easypy.runner", "faasr_easypy.tester", "faasr_easypy.placement",
                "faasr_easypy.placement.place", "faasr_easypy.cli", "faasr_easypy.pytest_plugin",
                "faasr_easypy.defaults", "faasr_easypy.overrides", "faasr_easypy.report.results_file"]
# The top-level package's names that load pyATS when first used: the jobfile API, nothing else.
JOBFILE_API = {"run_workflow", "run_workflows", "WorkflowPool", "workflow_statuses"}


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """(line, absolute module name) of every import in `path`, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield node.lineno, module
            for alias in node.names:  # from . import easypy
                yield node.lineno, f"{module}.{alias.name}"


def _core_files():
    files = [p for p in PACKAGE.rglob("*.py") if INTEGRATION not in p.parents]
    assert len(files) > 20, files  # the walk found the package
    return files


def test_no_core_module_imports_easypy_or_pyats():
    wrong = []
    for path in _core_files():
        for line, module in _imports(path):
            if module == "faasr_easypy.easypy" or module.startswith("faasr_easypy.easypy.") \
                    or module.split(".")[0] in PYATS_PACKAGES:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_rule_check_sees_relative_imports():
    """The check above resolves `from ..easypy import x` and `from . import easypy`."""
    names = [m for _, m in _imports(PACKAGE / "runner.py")]
    assert "faasr_easypy.invocation" in names and "faasr_easypy.placement.place" in names
    names = [m for _, m in _imports(INTEGRATION / "task.py")]
    assert "faasr_easypy.placement.place" in names


def _loaded_after(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("module", CORE_MODULES)
def test_importing_the_core_loads_no_pyats(module):
    loaded = _loaded_after(f"import {module}")
    assert module in loaded
    assert not [m for m in loaded if m.split(".")[0] in PYATS_PACKAGES or m.startswith("faasr_easypy.easypy")]


def test_the_public_api_loads_no_pyats_but_for_the_jobfile_api():
    import faasr_easypy

    plain = sorted(set(faasr_easypy.__all__) - JOBFILE_API - {"__version__"})
    loaded = _loaded_after("import faasr_easypy\n" + "".join(f"faasr_easypy.{n}\n" for n in plain))
    assert "faasr_easypy.runner" in loaded and "faasr_easypy.tester" in loaded
    assert not [m for m in loaded if m.split(".")[0] in PYATS_PACKAGES or m.startswith("faasr_easypy.easypy")]
    loaded = _loaded_after("import faasr_easypy\nfaasr_easypy.run_workflow")
    assert "faasr_easypy.easypy.jobs_api" in loaded and "pyats.easypy" in loaded


def test_importing_the_package_loads_nothing_else():
    loaded = _loaded_after("import faasr_easypy")
    assert [m for m in loaded if m.startswith("faasr_easypy")] == ["faasr_easypy"]


def test_the_check_would_see_pyats():
    loaded = _loaded_after("import faasr_easypy.easypy.pyats_testbed; faasr_easypy.easypy.pyats_testbed.load_builtin()")
    assert "pyats.topology" in loaded


@pytest.mark.slow
def test_the_pytest_fixture_loads_no_pyats(pytester):
    """A fresh pytest run that places a workflow through --faasr-testbed and runs it."""
    pytester.makepyfile(f"""
        import sys

        def test_run(faasr_workflow):
            with faasr_workflow({str(ROOT / 'workflows/data_pipeline.json')!r}) as tester:
                tester.wait_for("publish")
                tester.assert_content_equals(f"pipeline/{{tester.invocation_id}}/sum.txt", "210")
            pyats = [m for m in sys.modules if m.split(".")[0] in {sorted(PYATS_PACKAGES)!r}
                     or m.startswith("faasr_easypy.easypy")]
            assert not pyats, pyats
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-check-interval", "0.2",
                                           "--faasr-testbed", str(ROOT / "testbeds/local.yaml"))
    result.assert_outcomes(passed=1)



ENTRY_POINTS = {"faasr_easypy.runner", "faasr_easypy.tester", "faasr_easypy.cli", "faasr_easypy.pytest_plugin",
                "faasr_easypy.status_table"}


def test_the_core_does_not_import_the_entry_points():
    """The inner ring of docs/ARCHITECTURE.md: placement, workflow, monitor, backends, S3,
    report... are used by the runner, tester, CLI and pytest plugin, never the reverse."""
    wrong = []
    for path in _core_files():
        if _module_name(path) in ENTRY_POINTS:
            continue
        for line, module in _imports(path):
            if module in ENTRY_POINTS or any(module.startswith(f"{e}.") for e in ENTRY_POINTS):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert not wrong, "\n".join(wrong)
