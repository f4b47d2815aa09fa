"""The workflow's own settings on the local backend: PyPIPackageDownloads installed once into a
cached folder the actions import from (not into the harness), ActionContainers reported."""

import os
import subprocess
import sys
import textwrap

import pytest

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.backends.local.packages import cache_root, container_note, package_folder
from faasr_easypy.environment import S3Service
from faasr_easypy.errors import BackendError
from faasr_easypy.tester import WorkflowTester

from .workflow_factory import action, workflow, write_workflow

FUNCTION = textwrap.dedent("""
    from FaaSr_py.client.py_client_stubs import faasr_put_file


    def table():
        import tabulate  # from PyPIPackageDownloads, not the harness

        with open("t.txt", "w") as fh:
            fh.write(tabulate.tabulate([[1, 2]], tablefmt="plain"))
        faasr_put_file(local_file="t.txt", remote_file="table.txt", remote_folder="pkgs")
""")


def _pypi_or_skip(tmp_path):
    try:
        return package_folder(["tabulate"], root=tmp_path / "probe")
    except BackendError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI has PyPI access, so this test must run there: {exc}")
        pytest.skip(f"PyPI cannot be reached here: {exc}")


@pytest.mark.slow
def test_pypi_packages_reach_the_actions_only(s3_server, tmp_path, monkeypatch):
    monkeypatch.setenv("FAASR_EASYPY_PYPI_CACHE", str(tmp_path / "cache"))
    _pypi_or_skip(tmp_path)
    data = workflow({"start": action("table")}, name="Packages")
    data["PyPIPackageDownloads"] = {"table": ["tabulate"]}
    data["ActionContainers"] = {"start": "ghcr.io/faasr/github-actions-python:latest"}
    wf, functions = write_workflow(tmp_path, data, FUNCTION)
    stores = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key).stores_for(wf)
    for _ in range(2):  # the second run installs nothing: the folder is cached
        with LocalBackend(functions, stores) as backend:
            with WorkflowTester(wf, backend, stores["S3"], timeout=120, check_interval=0.2) as tester:
                tester.wait_for("start")
                tester.assert_content_equals("pkgs/table.txt", "1  2")
    assert len([p for p in cache_root().iterdir() if p.is_dir()]) == 1
    harness = subprocess.run([sys.executable, "-c", "import tabulate"], capture_output=True)
    assert harness.returncode != 0  # nothing went into the harness's environment
    assert container_note(wf) == (
        "Packages: ActionContainers (start: ghcr.io/faasr/github-actions-python:latest) are not used "
        "locally: actions run in this machine's Python, with PyPIPackageDownloads installed for them; "
        "a container's other contents (system libraries, tools) are not there.")


def test_a_package_pip_cannot_install_is_one_clear_error(tmp_path):
    with pytest.raises(BackendError, match=r"PyPIPackageDownloads: `pip install \./no-such-package-dir` "
                                           r"failed .*Fix the package names"):
        package_folder(["./no-such-package-dir"], root=tmp_path)
    assert not any(p.is_dir() for p in tmp_path.iterdir())  # nothing half-installed is kept


TOP_LEVEL_IMPORT = FUNCTION.replace(
    "    import tabulate  # from PyPIPackageDownloads, not the harness\n\n", "").replace(
    "from FaaSr_py.client.py_client_stubs import faasr_put_file\n",
    "import tabulate  # at the top of the file, as most functions import\n"
    "from FaaSr_py.client.py_client_stubs import faasr_put_file\n")


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "faasr_easypy.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.mark.slow
def test_a_top_level_import_of_a_listed_package_passes_the_pre_run_check_and_runs(tmp_path, monkeypatch):
    """The functions check before a run must not refuse what the run itself installs."""
    assert "import tabulate  # at the top" in TOP_LEVEL_IMPORT and "    import tabulate" not in TOP_LEVEL_IMPORT
    env = dict(os.environ, FAASR_EASYPY_PYPI_CACHE=str(tmp_path / "cache"))
    monkeypatch.setenv("FAASR_EASYPY_PYPI_CACHE", env["FAASR_EASYPY_PYPI_CACHE"])
    _pypi_or_skip(tmp_path)
    data = workflow({"start": action("table")}, name="TopLevel")
    data["PyPIPackageDownloads"] = {"table": ["tabulate"]}
    wf, functions = write_workflow(tmp_path, data, TOP_LEVEL_IMPORT)

    checked = _cli("validate", wf.source, "--functions", functions, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = _cli("run", wf.source, "--functions", functions, env=env)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "COMPLETED" in ran.stdout

    del data["PyPIPackageDownloads"]
    (tmp_path / "unlisted").mkdir()
    unlisted, functions = write_workflow(tmp_path / "unlisted", data, TOP_LEVEL_IMPORT)
    refused = _cli("run", unlisted.source, "--functions", functions, env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "imports 'tabulate'" in refused.stderr and "PyPIPackageDownloads" in refused.stderr
    assert "Traceback" not in refused.stderr and "Invocation folder" not in refused.stdout  # before the trigger
