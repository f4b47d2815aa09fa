"""One fork server shared by several LocalBackends (as every task of a pyATS job
shares the job's): real processes, a real S3 server. Each backend's actions are
its own; a backend that closes or whose process is killed takes only its own
actions with it; the server dies with its owner, even when the owner forked."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.backends.local.server_process import ForkServerProcess
from faasr_easypy.environment import start_s3
from faasr_easypy.invocation import Invocation
from faasr_easypy.s3.client import make_client
from faasr_easypy.workflow import parse_workflow

from .processes import alive, children, cmdline
from .workflow_factory import action, workflow

pytestmark = pytest.mark.timeout(120)

FUNCTIONS = """
import os, time
from FaaSr_py.client.py_client_stubs import faasr_log, faasr_put_file, faasr_invocation_id

def where():
    open("here.txt", "w").write(os.getcwd())
    faasr_put_file(local_file="here.txt", remote_folder="where/" + faasr_invocation_id(), remote_file="cwd.txt")
    faasr_log(f"pid={os.getpid()} cwd={os.getcwd()} files={sorted(os.listdir('.'))}")

def hangs():
    faasr_log("sleeping forever")
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def s3():
    service = start_s3()
    yield service
    service.close()


@pytest.fixture
def server():
    server = ForkServerProcess().start()
    yield server
    server.stop()


@pytest.fixture
def functions(tmp_path):
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "funcs.py").write_text(textwrap.dedent(FUNCTIONS))
    return folder


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def actions_of(server):
    return [p for p in children(server.pid) if alive(p)]


def test_the_socket_is_private_and_gone_after_stop(server):
    assert (os.stat(server.folder).st_mode & 0o777) == 0o700
    assert server.alive() and "forkserver" in cmdline(server.pid)
    server.stop()
    assert not alive(server.pid)
    assert not os.path.exists(server.folder)
    server.stop()  # twice is fine


def test_backends_sharing_a_server_run_isolated_actions(s3, server, functions):
    wf = parse_workflow(workflow({"start": action(function="where", nxt=["more(3)"]),
                                  "more": action(function="where")}))
    stores = s3.stores_for(wf)
    backends = [LocalBackend(functions, stores, fork_server=server) for _ in range(3)]
    invocations = [Invocation(wf) for _ in backends]
    try:
        for backend, inv in zip(backends, invocations, strict=True):
            backend.trigger(inv)
        for backend, inv in zip(backends, invocations, strict=True):
            assert backend.wait(inv, 30)
            assert all(r["ok"] for r in backend.results(inv).values()), backend.results(inv)
    finally:
        for backend in backends:
            backend.close()
    assert server.alive(), "closing a backend must not stop a shared server"
    client = make_client(stores["S3"])
    pids, cwds = set(), set()
    for inv in invocations:
        for name, rank in (("start", None), ("more", 1), ("more", 2), ("more", 3)):
            log = client.get_object(Bucket="faasr", Key=inv.layout.log_key(name, rank))["Body"].read().decode()
            line = next(x for x in log.splitlines() if x.startswith("pid="))
            pid, cwd, files = line.split(" ", 2)
            pids.add(pid)
            cwds.add(cwd)
            assert files == "files=['console.log', 'here.txt']", line  # a fresh working directory
        key = f"where/{inv.invocation_id}/cwd.txt"
        assert client.get_object(Bucket="faasr", Key=key)["Body"].read()
    assert len(pids) == 12 and len(cwds) == 12  # one process and one folder per action


def test_closing_or_cancelling_one_backend_leaves_the_others_running(s3, server, functions):
    wf = parse_workflow(workflow({"start": action(function="hangs")}))
    stores = s3.stores_for(wf)
    a, b, c = (LocalBackend(functions, stores, fork_server=server) for _ in range(3))
    inv_a, inv_b, inv_c = Invocation(wf), Invocation(wf), Invocation(wf)
    try:
        for backend, inv in ((a, inv_a), (b, inv_b), (c, inv_c)):
            backend.trigger(inv)
        assert wait_until(lambda: len(actions_of(server)) == 3), actions_of(server)
        running = set(actions_of(server))
        a.close()  # like a task ending: its action is killed and reaped before close() returns
        left = set(actions_of(server))
        assert len(left) == 2 and left < running
        b.cancel(inv_b)
        assert b.wait(inv_b, 10)
        assert "cancelled" in b.results(inv_b)["start"]["error"]
        assert not c.wait(inv_c, 0.5), "c's action must still run"
        assert len(actions_of(server)) == 1
    finally:
        for backend in (a, b, c):
            backend.close()
    assert wait_until(lambda: not actions_of(server))
    log = make_client(stores["S3"]).get_object(Bucket="faasr", Key=inv_a.layout.log_key("start"))
    assert "did not finish: the harness stopped" in log["Body"].read().decode()


CLIENT = """
import sys, time
from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.backends.local.server_process import ForkServerProcess
from faasr_easypy.environment import S3Service
from faasr_easypy.invocation import Invocation
from faasr_easypy.workflow import parse_workflow
from tests.workflow_factory import action, workflow

endpoint, access, secret, address, functions = sys.argv[1:]
server = ForkServerProcess()
server.address, server.log_path = address, "(test)"
wf = parse_workflow(workflow({"start": action(function="hangs")}))
stores = S3Service(endpoint, access, secret).stores_for(wf)
backend = LocalBackend(functions, stores, fork_server=server)
backend.trigger(Invocation(wf))
print("triggered", backend.workdir_root, flush=True)
time.sleep(600)
"""


def test_a_killed_client_loses_its_actions_and_the_server_serves_on(s3, server, functions, tmp_path):
    """A pyATS task killed by max_runtime or kill -9: its actions must not run on."""
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, str(script), s3.endpoint, s3.access_key, s3.secret_key,
                             server.address, str(functions)], cwd=root, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=root))
    try:
        said, actions_root = proc.stdout.readline().split()
        assert said == "triggered" and os.path.isdir(actions_root)
        assert wait_until(lambda: len(actions_of(server)) == 1)
        orphan = actions_of(server)[0]
        proc.kill()
        proc.wait(10)
        assert wait_until(lambda: not alive(orphan)), "the killed client's action still runs"
        # Nobody else is left to remove the dead client's action folders.
        assert wait_until(lambda: not os.path.exists(actions_root)), "the killed client's folders remain"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert server.alive()
    wf = parse_workflow(workflow({"start": action(function="where")}))
    backend = LocalBackend(functions, s3.stores_for(wf), fork_server=server)
    inv = Invocation(wf)
    try:
        backend.trigger(inv)
        assert backend.wait(inv, 30) and backend.results(inv)["start"]["ok"]
    finally:
        backend.close()


def test_stopping_the_server_kills_running_actions(s3, server, functions):
    wf = parse_workflow(workflow({"start": action(function="hangs")}))
    backend = LocalBackend(functions, s3.stores_for(wf), fork_server=server)
    inv = Invocation(wf)
    try:
        backend.trigger(inv)
        assert wait_until(lambda: len(actions_of(server)) == 1)
        running = actions_of(server)
        server.stop()
        assert not alive(server.pid) and not any(alive(p) for p in running)
        assert backend.wait(inv, 10)  # the backend sees its run fail, it does not hang
        assert backend.results(inv)["start"]["ok"] is False
    finally:
        backend.close()


OWNER = """
import os, sys, time
from faasr_easypy.backends.local.server_process import ForkServerProcess

server = ForkServerProcess().start()
child = os.fork()
if child == 0:  # like a pyATS task forked from the job
    time.sleep(600)
    os._exit(0)
print(server.pid, child, server.folder, flush=True)
time.sleep(600)
"""


def test_the_server_dies_with_its_owner_even_when_the_owner_forked(tmp_path):
    """kill -9 of a pyATS job whose tasks still live: the tasks do not keep the server alive."""
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    server_pid = child = None
    try:
        server_pid, child, folder = proc.stdout.readline().split()
        server_pid, child = int(server_pid), int(child)
        assert alive(server_pid) and alive(child) and os.path.isdir(folder)
        proc.kill()
        proc.wait(10)
        assert wait_until(lambda: not alive(server_pid), 10), "the fork server outlived its owner"
        assert alive(child)
        assert not os.path.exists(folder), "the fork server left its socket folder behind"
    finally:
        for pid in (server_pid, child):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
