"""The workflow's Secrets reach the functions from the harness's environment, and a missing one
fails in faasr-py's words, on the local and the faasr-py backends (FaaSr-Integration-Tests'
test_faasr_secret_workflow.py, unchanged in substance)."""

import textwrap

import pytest

from faasr_easypy.environment import S3Service
from faasr_easypy.tester import WorkflowTester

from .workflow_factory import action, workflow, write_workflow

FUNCTIONS = textwrap.dedent("""
    from FaaSr_py.client.py_client_stubs import faasr_put_file, faasr_secret


    def python_secret(name):
        with open("secret.txt", "w") as fh:
            fh.write(faasr_secret(name))
        faasr_put_file(local_file="secret.txt", remote_file="secret_python.txt", remote_folder="secrets")
""")
MISSING = "faasr_secret: Secret 'NON_EXISTENT_SECRET' not found in environment variables"


def _run(backend_class, s3_server, tmp_path, monkeypatch, **backend_kwargs):
    monkeypatch.setenv("TEST_SECRET", "TEST_SECRET_VALUE")
    monkeypatch.delenv("NON_EXISTENT_SECRET", raising=False)
    actions = {"python-secret": action("python_secret", args={"name": "TEST_SECRET"}, nxt=["python-secret-fail"]),
               "python-secret-fail": action("python_secret", args={"name": "NON_EXISTENT_SECRET"})}
    data = workflow(actions, entry="python-secret", name="SecretFlow")
    data["Secrets"] = ["TEST_SECRET"]
    data["FunctionGitRepo"] = {"python_secret": "u/r/functions"}
    wf, functions = write_workflow(tmp_path, data, FUNCTIONS)
    stores = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key).stores_for(wf)
    with backend_class(functions, stores, **backend_kwargs) as backend:
        with WorkflowTester(wf, backend, stores["S3"], timeout=300, check_interval=0.2) as tester:
            tester.wait_for("python-secret")
            tester.assert_content_equals("secrets/secret_python.txt", "TEST_SECRET_VALUE")
            tester.wait_for("python-secret-fail", should_fail=True)
            tester.assert_function_failed("python-secret-fail")
            tester.assert_logs_contain("python-secret-fail", MISSING)


def test_secrets_on_the_local_backend(s3_server, tmp_path, monkeypatch):
    from faasr_easypy.backends.local import LocalBackend

    _run(LocalBackend, s3_server, tmp_path, monkeypatch)


@pytest.mark.slow
def test_secrets_on_the_faasr_py_backend(s3_server, faasr_python, tmp_path, monkeypatch):
    from faasr_easypy.backends.faasr_py import FaaSrPyBackend

    _run(FaaSrPyBackend, s3_server, tmp_path, monkeypatch, python=faasr_python)
