"""FaaSrPyBackend: its refusals, its GitHub API stand-in, and (slow) that it stops everything."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from faasr_easypy.backends.faasr_py import FaaSrPyBackend, FaaSrPyUnavailable, faasr_py_python
from faasr_easypy.backends.faasr_py import backend as backend_mod
from faasr_easypy.backends.faasr_py.github_api import GitHubAPIStandIn
from faasr_easypy.environment import start_s3
from faasr_easypy.errors import BackendError
from faasr_easypy.invocation import Invocation
from faasr_easypy.s3.client import DataStore
from faasr_easypy.workflow import load_workflow, parse_workflow

from .helpers import REPO
from .processes import cmdline, parents
from .workflow_factory import slow_on_faasr_py

pytestmark = pytest.mark.timeout(600)
STORES = {"My_S3_Bucket": DataStore(name="My_S3_Bucket", bucket="faasr", endpoint="http://127.0.0.1:9",
                                    access_key="a", secret_key="s")}


def test_an_unusable_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FAASR_EASYPY_FAASR_PY_PYTHON", "/nonexistent/python")
    with pytest.raises(FaaSrPyUnavailable, match="FAASR_EASYPY_FAASR_PY_PYTHON is set to /nonexistent/python"):
        faasr_py_python()


def test_a_venv_that_cannot_be_created_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("FAASR_EASYPY_FAASR_PY_PYTHON", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(FaaSrPyUnavailable, match="Set FAASR_EASYPY_FAASR_PY_VENV to a writable folder"):
        faasr_py_python(venv_dir=blocker / "venv")


def test_non_github_servers_are_refused():
    data = load_workflow(REPO / "workflows/conditional.json").copy_data()
    data["ComputeServers"]["My_GitHub_Account"] = {"FaaSType": "Lambda", "Region": "us-east-1"}
    with FaaSrPyBackend(REPO / "workflows/functions/ConditionalCheck", STORES, python=sys.executable) as backend:
        with pytest.raises(BackendError, match="must be FaaSType GitHubActions"):
            backend.trigger(Invocation(parse_workflow(data)))


def test_port_8000_taken_by_another_program_is_refused():
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT of an earlier run is fine
    try:
        holder.bind(("127.0.0.1", backend_mod.RPC_PORT))
        holder.listen()
    except OSError:
        pass  # something else already holds it: the refusal is what we test either way
    try:
        with FaaSrPyBackend(REPO / "workflows/functions/ConditionalCheck", STORES, python=sys.executable) as backend:
            with pytest.raises(BackendError, match="Port 8000 on 127.0.0.1 is in use by another program"):
                backend.trigger(Invocation(load_workflow(REPO / "workflows/conditional.json")))
    finally:
        holder.close()


def test_github_stand_in_checks_dispatches_like_github(tmp_path):
    seen = []
    api = GitHubAPIStandIn("sekrit", lambda d: seen.append(d) or (None if d.workflow_file == "WF-a.yml"
                                                                  else "Not Found"))
    try:
        url = f"{api.url}/repos/o/r/actions/workflows/WF-a.yml/dispatches"
        body = {"ref": "main", "inputs": {"OVERWRITTEN": json.dumps({"FunctionInvoke": "a"}),
                                          "PAYLOAD_URL": "o/r/main/wf.json"}}
        assert requests.post(url, json=body, headers={"Authorization": "token nope"}).status_code == 401
        assert requests.post(url, json={"inputs": {}}, headers={"Authorization": "token sekrit"}).status_code == 422
        assert requests.post(url.replace("WF-a", "WF-b"), json=body,
                             headers={"Authorization": "token sekrit"}).status_code == 404
        assert requests.post(url, json=body, headers={"Authorization": "token sekrit"}).status_code == 204
        assert [d.workflow_file for d in seen] == ["WF-b.yml", "WF-a.yml"]
        assert seen[-1].overwritten == {"FunctionInvoke": "a"} and seen[-1].ref == "main"

        api.publish_file("o", "r", "main", "wf.json", b'{"x": 1}')
        got = requests.get(f"{api.url}/repos/o/r/contents/wf.json", params={"ref": "main"}).json()
        assert got["encoding"] == "base64" and got["content"] == "eyJ4IjogMX0="
        assert requests.get(f"{api.url}/repos/o/r/contents/wf.json", params={"ref": "dev"}).status_code == 404
        (tmp_path / "f.py").write_text("x = 1\n")
        api.publish_folder("o", "r", "functions/WF", tmp_path)
        import io
        import tarfile
        tar = tarfile.open(fileobj=io.BytesIO(requests.get(f"{api.url}/repos/o/r/tarball").content))
        assert tar.getnames()[0] == "o-r-0000000"
        assert "o-r-0000000/functions/WF/f.py" in tar.getnames()
    finally:
        api.close()


# -- with the real runtime ------------------------------------------------------------------


def runtime_processes():
    return [pid for pid in parents() if "faasr_py/faasr_entry.py" in cmdline(pid)]


@pytest.mark.slow
def test_close_mid_action_stops_the_runtime_and_frees_port_8000(faasr_python, tmp_path):
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "slow.py").write_text(textwrap.dedent("""
        import time
        def slow():
            time.sleep(120)
        """))
    wf = parse_workflow(slow_on_faasr_py())
    s3 = start_s3()
    try:
        backend = FaaSrPyBackend(functions, s3.stores_for(wf), python=faasr_python)
        invocation = Invocation(wf)
        backend.trigger(invocation)
        deadline = time.monotonic() + 60
        while backend_mod._port_free() or len(runtime_processes()) < 3:  # driver, RPC server, function
            assert time.monotonic() < deadline, "the runtime never started the function"
            time.sleep(0.2)
        backend.close()
        assert runtime_processes() == []
        assert backend_mod._port_free()
        assert not os.path.exists(f"/tmp/functions/{invocation.invocation_id}")
        assert backend.results(invocation)[0]["error"] == "cancelled"
    finally:
        s3.close()


@pytest.mark.slow
def test_cli_runs_a_workflow_on_faasr_py(faasr_python):
    env = dict(os.environ, FAASR_EASYPY_FAASR_PY_PYTHON=faasr_python)
    done = subprocess.run([sys.executable, "-m", "faasr_easypy.cli", "run", "workflows/conditional.json",
                           "--backend", "faasr-py", "--check-interval", "0.25"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Workflow ConditionalCheck passed" in done.stdout
    assert "below                          NOT_INVOKED" in done.stdout
