"""FaaSrPyBackend: every action runs in the real faasr-py 2.1.0 runtime, one at a time.

This backend plays GitHub Actions for a workflow whose compute servers are
GitHubActions: it publishes the workflow JSON and the functions folder through
a loopback GitHub API stand-in (github_api.py), starts one runtime process per
action (faasr_entry.py, in faasr-py's own virtualenv, see venv.py), and treats every
workflow_dispatch the runtime sends as GitHub would: it queues that action.
Fan-in is the runtime's own: each predecessor instance triggers a copy, each copy
joins the `.candidate` election, one wins.

Only one action runs at a time on this host: faasr-py's RPC server is
hard-wired to 127.0.0.1:8000. A host-wide file lock serialises faasr-easypy
processes; anything else holding port 8000 is refused with a message.
What lands in S3 is written by faasr-py alone; the backend adds nothing, so
the monitor sees exactly what it would see on GitHub Actions.
"""

import fcntl
import itertools
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from ...defaults import DEFAULTS
from ...errors import BackendError
from ...layout import instance_label
from ..base import Backend, without_run
from ..local.action_env import named_secrets
from ..remote import default_payload_path, github_payload_url
from .github_api import GitHubAPIStandIn
from .venv import faasr_py_python

log = logging.getLogger(__name__)

DRIVER = str(Path(__file__).with_name("faasr_entry.py"))
RPC_PORT = 8000  # hard-wired in faasr-py (executor, client stubs, server)
PORT_LOCK = os.path.join(tempfile.gettempdir(), "faasr-easypy-faasr-py-rpc-8000.lock")
RUNTIME_TMP = "/tmp"  # faasr-py stages functions and .done files under a hard-wired /tmp


class _Run:
    """One invocation: its published payload, queued actions and finished attempts."""

    def __init__(self, invocation, payload_url, repo_key):
        self.invocation = invocation
        self.workflow = invocation.workflow
        self.payload_url = payload_url
        self.repo_key = repo_key  # (owner, repo, branch, path) of the published JSON
        self.pending = 0  # queued + running actions
        self.cancelled = False
        self.done = threading.Event()
        self.attempts = []  # one dict per runtime process, in order


class FaaSrPyBackend(Backend):
    #: the runtime writes GitHub's invoker line: "GitHub Action: Successfully invoked: X"
    platform = "GitHubActions"
    start_grace_key = "faasr-py"  # but actions start on this host, in seconds (platforms.START_GRACE)

    def __init__(self, functions_dir, data_stores, action_timeout=DEFAULTS["action_timeout"], keep_workdirs=False,
                 python=None, venv_dir=None, workdir_root=None, progress=None, max_parallel=None):
        # max_parallel is accepted for LocalBackend's signature; faasr-py allows one action per host.
        self.functions_dir = Path(functions_dir).resolve()
        if not self.functions_dir.is_dir():
            raise BackendError(f"The functions folder {functions_dir} does not exist: pass the folder "
                               "that holds the workflow's Python function files (--functions DIR).")
        self.data_stores = dict(data_stores)
        self.action_timeout = action_timeout or DEFAULTS["action_timeout"]
        self.keep_workdirs = keep_workdirs
        self.python = python or faasr_py_python(venv_dir, progress=progress)
        self._own_root = workdir_root is None
        self.workdir_root = Path(workdir_root or tempfile.mkdtemp(prefix="faasr-easypy-faasr-py-"))
        self._token = "ghp_" + secrets.token_hex(18)  # what the stand-in accepts; never logged
        self._lock = threading.Condition()
        self._runs = {}  # InvocationID -> _Run
        self._queue = deque()  # (run, overwritten dict)
        self._current = None  # (run, Popen) of the action running now
        self._closed = False
        self._seq = itertools.count(1)
        self._api = GitHubAPIStandIn(self._token, self._on_dispatch)
        self._worker = threading.Thread(target=self._work, name="faasr-py-backend", daemon=True)
        self._worker.start()

    # -- public ---------------------------------------------------------------------
    def trigger(self, invocation):
        wf = invocation.workflow
        missing = [n for n in wf.data["DataStores"] if n not in self.data_stores]
        if missing:
            raise BackendError(f"Workflow {wf.name} ({wf.source}) uses data store(s) {', '.join(missing)}, "
                               "which this testbed does not provide: map them to an S3 server in the "
                               "testbed, or run on the embedded default.")
        servers = self._github_servers(wf)
        _check_port_owner()
        owner, repo, branch = servers[wf.actions[wf.entry].faas_server]
        path = f".faasr-easypy/{invocation.invocation_id}/{default_payload_path(wf)}"
        run = _Run(invocation, github_payload_url(owner, repo, branch, path), (owner, repo, branch, path))
        self._api.publish_file(owner, repo, branch, path, json.dumps(self._published(wf)).encode())
        self._publish_functions(wf)
        with self._lock:
            if self._closed:
                raise BackendError("the faasr-py backend was already closed")
            if invocation.invocation_id in self._runs:
                raise BackendError(f"InvocationID {invocation.invocation_id} was already triggered")
            self._runs[invocation.invocation_id] = run
            self._enqueue(run, invocation.overwritten())

    def wait(self, invocation, timeout=None):
        """Block until no action of `invocation` is queued or running (fan-in losers included)."""
        return self._runs[invocation.invocation_id].done.wait(timeout)

    def results(self, invocation):
        """One dict per runtime process started for `invocation`: label, exit_code, seconds, console."""
        return [dict(a) for a in self._runs[invocation.invocation_id].attempts]

    def cancel(self, invocation):
        with self._lock:
            run = self._runs.get(invocation.invocation_id)
            if run is None:
                return
            run.cancelled = True
            self._queue, dropped = without_run(self._queue, run)
            run.pending -= dropped
            current = self._current
            if run.pending == 0:
                self._finish_run(run)
        if current and current[0] is run:
            _killpg(current[1].pid)

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
            current = self._current
            self._lock.notify_all()
        if current:
            _killpg(current[1].pid)
        self._worker.join(30)
        self._api.close()
        for run in list(self._runs.values()):
            self._finish_run(run)
        if self._own_root and not self.keep_workdirs:
            shutil.rmtree(self.workdir_root, ignore_errors=True)

    # -- what the runtime reads from "GitHub" ---------------------------------------------
    def _github_servers(self, wf):
        """{server name: (owner, repo, branch)} for every server the workflow's actions use."""
        out = {}
        for name in sorted({a.faas_server for a in wf.actions.values()}):
            spec = (wf.data.get("ComputeServers") or {}).get(name) or {}
            fields = [spec.get(k) for k in ("UserName", "ActionRepoName", "Branch")]
            if spec.get("FaaSType") != "GitHubActions" or not all(fields):
                raise BackendError(
                    f"Compute server {name!r} of {wf.source} is {spec.get('FaaSType')!r}; the faasr-py "
                    "backend runs the real runtime as GitHub Actions runs it, so every server its actions "
                    "use must be FaaSType GitHubActions with UserName, ActionRepoName and Branch. Use the "
                    "local backend for this workflow, or point its actions at a GitHubActions server.")
            out[name] = tuple(fields)
        for key in ("FunctionLocalFile",):
            if wf.data.get(key):
                raise BackendError(
                    f"{wf.source} uses {key}; the faasr-py backend serves functions the way GitHub does, "
                    "from FunctionGitRepo folders. Name the functions' folder in FunctionGitRepo "
                    "(\"owner/repo/path/to/folder\"), or use the local backend.")
        return out

    def _published(self, wf):
        """The workflow JSON as the runtime fetches it: data stores on our S3, secrets from the env."""
        data = wf.copy_data()
        for key in ("InvocationID", "InvocationTimestamp"):
            data.pop(key, None)  # OVERWRITTEN carries this run's values
        for name, spec in data["DataStores"].items():
            store = self.data_stores[name]
            spec.update(Endpoint=store.endpoint, Bucket=store.bucket, Region=store.region or "us-east-1")
            # faasr-py tests `if Anonymous:`, so the string "FALSE" would mean anonymous.
            spec.pop("Anonymous", None)
            if store.anonymous:
                spec["Anonymous"] = True
        for spec in data["ComputeServers"].values():
            spec["UseSecretStore"] = True  # credentials come from the environment, never OVERWRITTEN
        return data

    def _publish_functions(self, wf):
        publish_functions(self._api, wf, self.functions_dir)

    # -- dispatches -----------------------------------------------------------------
    def _on_dispatch(self, dispatch):
        """A workflow_dispatch from the runtime (HTTP thread): queue that action, as GitHub would."""
        ow = dispatch.overwritten
        with self._lock:
            run = self._runs.get(str(ow.get("InvocationID")))
            if run is None or self._closed:
                return "Not Found"
            wf = run.workflow
            action = ow.get("FunctionInvoke")
            if action not in wf.actions or dispatch.workflow_file != f"{wf.name}-{action}.yml":
                return f"Not Found: no workflow file {dispatch.workflow_file} in {dispatch.owner}/{dispatch.repo}"
            server = (wf.data.get("ComputeServers") or {}).get(wf.actions[action].faas_server) or {}
            if (dispatch.owner, dispatch.repo) != (server.get("UserName"), server.get("ActionRepoName")):
                return f"Not Found: {action} runs in {server.get('UserName')}/{server.get('ActionRepoName')}"
            if dispatch.ref != server.get("Branch") or dispatch.payload_url != run.payload_url:
                return f"Not Found: ref {dispatch.ref} or PAYLOAD_URL {dispatch.payload_url}"
            if not run.cancelled:
                self._enqueue(run, ow)
        return None

    def _enqueue(self, run, overwritten):
        run.pending += 1
        self._queue.append((run, dict(overwritten)))
        self._lock.notify_all()

    # -- running actions, one at a time ---------------------------------------------------
    def _work(self):
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                run, overwritten = self._queue.popleft()
            try:
                attempt = self._run_action(run, overwritten)
            except Exception as exc:  # a bug here must not stop the other invocations
                log.exception("faasr-py backend: running an action failed")
                attempt = {"label": overwritten.get("FunctionInvoke"), "exit_code": None, "error": str(exc)}
            with self._lock:
                run.attempts.append(attempt)
                run.pending -= 1
                if run.pending <= 0:
                    self._finish_run(run)

    def _run_action(self, run, overwritten):
        label = instance_label(overwritten["FunctionInvoke"], overwritten.get("FunctionRank"))
        workdir = self.workdir_root / run.invocation.invocation_id / f"{next(self._seq):03d}-{label}"
        workdir.mkdir(parents=True)
        console_path = workdir / "console.log"
        attempt = {"label": label, "exit_code": None, "error": None, "seconds": None,
                   "console": str(console_path)}
        with open(PORT_LOCK, "w") as lock, open(console_path, "wb") as console:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one faasr-py action per host: port 8000
            if not _wait_port_free(10):
                attempt["error"] = (f"port {RPC_PORT} on 127.0.0.1 is taken by another program; faasr-py's "
                                    "RPC server needs it")
                log.error("faasr-py backend: %s; %s not run", attempt["error"], label)
                return attempt
            started = time.monotonic()
            proc = subprocess.Popen([self.python, DRIVER], cwd=str(workdir), env=self._env(run, overwritten),
                                    stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                    preexec_fn=_own_group_die_with_parent, close_fds=True)
            with self._lock:
                self._current = (run, proc)
            try:
                attempt["exit_code"], attempt["error"] = self._supervise(run, proc, started)
            finally:
                with self._lock:
                    self._current = None
                _killpg(proc.pid)  # the RPC server and user function, if still there
                proc.wait()
                _wait_port_free(10)
            attempt["seconds"] = round(time.monotonic() - started, 3)
        if attempt["exit_code"] != 0:
            log.info("faasr-py backend: %s exited with %s%s; its console output is %s", label,
                     attempt["exit_code"], f" ({attempt['error']})" if attempt["error"] else "", console_path)
        return attempt

    def _supervise(self, run, proc, started):
        while True:
            try:
                code = proc.wait(0.2)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:  # killed by cancel() or close() from another thread, or exited
                return code, "cancelled" if code < 0 and (self._closed or run.cancelled) else None
            if self._closed or run.cancelled:
                _killpg(proc.pid)
                return proc.wait(), "cancelled"
            if time.monotonic() - started > self.action_timeout:
                _killpg(proc.pid)  # a killed GitHub job leaves no trace in S3 either
                return proc.wait(), f"time limit of {self.action_timeout:g} s"

    def _env(self, run, overwritten):
        """A GitHub Actions job's environment: repository secrets as variables, nothing of ours."""
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ") or k.lower().endswith("_proxy")}
        env["PATH"] = f"{Path(self.python).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        no_proxy = ",".join(p for p in (env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1", "localhost") if p)
        env.update(NO_PROXY=no_proxy, no_proxy=no_proxy, PYTHONUNBUFFERED="1",
                   FAASR_PLATFORM="github", PAYLOAD_URL=run.payload_url,
                   OVERWRITTEN=json.dumps(overwritten), GH_PAT=self._token,
                   FAASR_EASYPY_GITHUB_API=self._api.url)
        for name, spec in (run.workflow.data.get("ComputeServers") or {}).items():
            if spec.get("FaaSType") == "GitHubActions":
                env[f"{name}_PAT"] = self._token
        for name in run.workflow.data["DataStores"]:
            env.update(self.data_stores[name].credential_env())
        # the secrets the workflow names (top-level Secrets), from our environment, as GitHub
        # passes repository secrets
        env.update(named_secrets(run.workflow.data))
        return env

    def _finish_run(self, run):
        """Nothing of `run` is left to do: forget its published JSON and its /tmp staging."""
        if run.done.is_set():
            return
        owner, repo, branch, path = run.repo_key
        self._api.unpublish_file(owner, repo, branch, path)
        inv = run.invocation
        functions = Path(RUNTIME_TMP) / "functions"
        shutil.rmtree(functions / inv.invocation_id, ignore_errors=True)
        try:
            functions.rmdir()  # only if no other invocation still uses it
        except OSError:
            pass
        staged = Path(RUNTIME_TMP) / inv.layout.folder
        shutil.rmtree(staged, ignore_errors=True)
        for parent in list(staged.parents)[:3]:  # .../<timestamp>, .../<WorkflowName>, <FaaSrLog>
            try:
                parent.rmdir()
            except OSError:
                break
        run.done.set()


def publish_functions(api, wf, functions_dir):
    """Serve the functions folder where FunctionGitRepo says GitHub has them."""
    for func, location in (wf.data.get("FunctionGitRepo") or {}).items():
        for path in ([location] if isinstance(location, str) else list(location or ())):
            if path.startswith(("https://", "http://")):
                raise BackendError(
                    f"FunctionGitRepo.{func} in {wf.source} is a URL ({path}); the runtime would clone "
                    "it from GitHub. Use the \"owner/repo/path/to/folder\" form so the faasr-py "
                    "backend can serve the local functions folder in its place.")
            parts = [p for p in path.split("/") if p]
            if len(parts) < 2:
                raise BackendError(f"FunctionGitRepo.{func} in {wf.source} is {path!r}; write it as "
                                   "\"owner/repo\" or \"owner/repo/path/to/folder\".")
            if parts[-1].lower().endswith((".py", ".r")):
                # a single file: the runtime reads owner/repo/<branch>/<path> via the contents API
                source = functions_dir / parts[-1]
                if source.is_file() and len(parts) >= 3:
                    api.publish_file(parts[0], parts[1], parts[2], "/".join(parts[3:]), source.read_bytes())
            else:
                api.publish_folder(parts[0], parts[1], "/".join(parts[2:]), functions_dir)


def _check_port_owner():
    """Refuse early when something that is not a faasr-py action holds port 8000."""
    with open(PORT_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another faasr-easypy action is running: it owns the port, we wait our turn
        try:
            if not _port_free():
                raise BackendError(
                    f"Port {RPC_PORT} on 127.0.0.1 is in use by another program. faasr-py 2.1.0's RPC "
                    f"server is hard-wired to it, so the faasr-py backend cannot run actions. Stop that "
                    f"program (`ss -ltnp 'sport = :{RPC_PORT}'` names it) or use the local backend.")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _port_free():
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        s.bind(("127.0.0.1", RPC_PORT))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _wait_port_free(timeout):
    deadline = time.monotonic() + timeout
    while not _port_free():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _own_group_die_with_parent():
    """In the child before exec: own process group (killed as one), SIGTERM if we die."""
    os.setpgid(0, 0)
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
