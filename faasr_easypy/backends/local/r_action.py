"""Running an action of Type R, from its (Python) action process.

The action process stays the owner of everything FaaSr writes (log, invoker
lines, `.done`: action_process.py) and of the FaaSr API (FunctionContext). For
an R function it asks the warm R server (r_server.py, r/server.R) for a
worker, then serves that worker's FaaSr calls over two FIFOs in a private
folder of its own (no TCP listener, nothing another user can open), mapping
each call onto the FunctionContext method a Python function's call uses.

The worker is not this process's child (it is forked from the R server), so
this side copies its own resource limits onto it, kills its process group
when the action ends, and the R server kills it if this process dies first.
"""

import errno
import json
import os
import resource
import select
import shutil
import signal
import tempfile
import time
from pathlib import Path

from ...layout import instance_label
from .r_packages import how_to_install, package_names
from .r_server import INSTALL_HINT

RUNTIME_FILE = "local_backend.py"
R_START_TIMEOUT = 120.0  # a cold R start on a loaded machine takes seconds
LIMITS = ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE")


# Said once per action that calls it: a test of a ranked R function passes here and fails on FaaSr.
RANK_WARNING = ("faasr_rank() returns list(max_rank, rank) here, but faasr-py 2.1.0's R client asks its "
                "server for faasr_invocation_id instead, so on FaaSr 2.1.0 rank$rank is NULL; pass the "
                "part each action works on as an Argument until FaaSr fixes r_client_stubs.R")


class RFailure(Exception):
    """The R side could not run the function: the message is the ERROR line."""


def call_r_function(job, ctx, log):
    """Run the action's R function; (ok, value, shown) with value True/False/None."""
    server = job.get("r_server") or {"error": "the fork server gave no R server"}
    if server.get("error"):
        log.add("ERROR", RUNTIME_FILE, f"Action {job['action']} is of Type R, but {server['error']}")
        return False, None, None
    channel = Path(tempfile.mkdtemp(prefix=instance_label(job["action"], job.get("rank")) + "-r-",
                                    dir=job["workdir_root"]))
    worker = None
    try:
        worker = _Worker(channel, server)
        worker.start(job, ctx.workdir)
        return worker.serve(job, ctx, log)
    except RFailure as exc:
        log.add("ERROR", RUNTIME_FILE, f"Action {job['action']}: {exc}")
        return False, None, None
    finally:
        if worker is not None:
            worker.close()
        shutil.rmtree(channel, ignore_errors=True)


class _Worker:
    def __init__(self, channel, server):
        self.channel = channel
        self.server = server
        self.pid = None
        self.writer = None
        os.mkfifo(channel / "to_py", 0o600)
        os.mkfifo(channel / "to_r", 0o600)
        # Non-blocking, so opening does not wait for the worker; reads wait in select().
        self._rfd = os.open(channel / "to_py", os.O_RDONLY | os.O_NONBLOCK)
        self._buffer = b""
        self._rank_warned = False

    # -- start-up -----------------------------------------------------------
    def start(self, job, workdir):
        self._ask_server()
        hello = self._read_message(R_START_TIMEOUT, waiting_for="an R worker")
        if hello is None or hello.get("op") != "hello":
            raise RFailure(f"the R worker did not start ({self._server_state()})")
        self.pid = int(hello["pid"])
        _copy_limits(self.pid)
        self.writer = self._open_writer()
        # This process already holds what FaaSr gives a function (action_env.py): R gets the same.
        env = dict(os.environ)
        self.send({"op": "run", "workdir": str(workdir), "console": str(Path(workdir) / "console.log"),
                   "functions_dir": str(Path(job["functions_dir"]).resolve()),
                   "function_name": job["function_name"], "arguments": json.dumps(job["arguments"]),
                   "cran_packages": package_names(job.get("cran_packages")), "env": env})

    def _ask_server(self):
        request = (json.dumps({"channel": str(self.channel), "action_pid": os.getpid()}) + "\n").encode()
        assert len(request) < select.PIPE_BUF  # one write, never interleaved with another action's
        try:
            # The fork server keeps the FIFO open, so this works even while R is still starting.
            fd = os.open(self.server["control"], os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(fd, request)
            finally:
                os.close(fd)
        except OSError as exc:
            raise RFailure(f"cannot reach the R server ({exc}; {self._server_state()})") from None

    def _open_writer(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                return os.open(self.channel / "to_r", os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO until the worker opens its end
                if exc.errno != errno.ENXIO or time.monotonic() > deadline or not _alive(self.pid):
                    raise RFailure(f"the R worker (pid {self.pid}) stopped while starting") from None
                time.sleep(0.002)

    def _server_state(self):
        failed = Path(self.server["folder"]) / "failed"
        if failed.exists():
            missing = failed.read_text().split()
            return (f"R is installed, but the R package(s) {', '.join(missing)} that the FaaSr R "
                    f"client needs are not: {INSTALL_HINT}")
        if not _alive(self.server["pid"]):
            tail = ""
            try:
                tail = Path(self.server["log"]).read_text(errors="replace").strip()[-500:]
            except OSError:
                pass
            return "the R server exited" + (f": {tail}" if tail else "")
        return "the R server is running"

    # -- the conversation ---------------------------------------------------
    def send(self, message):
        data = (json.dumps(message) + "\n").encode()
        os.set_blocking(self.writer, True)
        while data:
            data = data[os.write(self.writer, data):]

    def _read_message(self, timeout=None, waiting_for="the R function"):
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            ready, _, _ = select.select([self._rfd], [], [], wait)
            if ready:
                data = os.read(self._rfd, 1 << 20)
                if data:
                    self._buffer += data
                    continue
                if self.pid is not None or self._buffer:
                    return None  # EOF: the worker is gone
                # No writer yet (EOF before the worker opened its end): keep waiting.
                time.sleep(0.005)
            if self.pid is None and not _alive(self.server["pid"]):
                raise RFailure(self._server_state())
            if deadline is not None and time.monotonic() > deadline:
                raise RFailure(f"no answer from {waiting_for} in {timeout:g} s ({self._server_state()})")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def serve(self, job, ctx, log):
        """Answer the function's FaaSr calls until it returns or fails."""
        while True:
            message = self._read_message()
            if message is None:
                raise RFailure(self._gone(job))
            op = message.get("op")
            if op == "call":
                if message["procedure"] == "faasr_rank" and not self._rank_warned:
                    self._rank_warned = True
                    log.add("WARN", RUNTIME_FILE, RANK_WARNING)
                try:
                    self.send(_answer(ctx, message["procedure"], message.get("args") or {}))
                except OSError:  # it died while we answered
                    raise RFailure(self._gone(job)) from None
            elif op == "result":
                return True, message.get("value"), message.get("shown")
            elif op == "error":
                log.add("ERROR", RUNTIME_FILE, _failure_text(job, message))
                return False, None, None

    def _gone(self, job):
        return (f"the R process (pid {self.pid}) running function {job['function_name']} ended without "
                "a result: it was killed, R itself crashed, or the function called quit()")

    def close(self):
        for fd in (self._rfd, self.writer):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.pid is not None:
            # The worker exits by itself after its answer; whatever it started goes with its group.
            for kill in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass


# The R client's procedures, onto the methods a Python function's calls use.
_PROCEDURES = {
    "faasr_put_file": lambda ctx, a: ctx.put_file(a["local_file"], a["remote_file"], a.get("server_name") or "",
                                                  a.get("local_folder", "."), a.get("remote_folder", ".")),
    "faasr_get_file": lambda ctx, a: ctx.get_file(a["local_file"], a["remote_file"], a.get("server_name") or "",
                                                  a.get("local_folder", "."), a.get("remote_folder", ".")),
    "faasr_delete_file": lambda ctx, a: ctx.delete_file(a["remote_file"], a.get("server_name") or "",
                                                        a.get("remote_folder", "")),
    "faasr_get_folder_list": lambda ctx, a: ctx.get_folder_list(a.get("server_name") or "", a.get("prefix", "")),
    "faasr_log": lambda ctx, a: ctx.log_message(a.get("log_message")),
    "faasr_rank": lambda ctx, a: ctx.rank(),
    "faasr_invocation_id": lambda ctx, a: ctx.invocation_id(),
    "faasr_get_s3_creds": lambda ctx, a: ctx.get_s3_creds(a.get("server_name") or ""),
    "faasr_secret": lambda ctx, a: ctx.secret(a["secret_name"]),
}


def _answer(ctx, procedure, args):
    handler = _PROCEDURES.get(procedure)
    if handler is None:
        return {"ok": False, "error": f"{procedure} is not a FaaSr API call"}
    try:
        return {"ok": True, "data": handler(ctx, args)}
    except KeyError as exc:
        return {"ok": False, "error": str(exc.args[0]) if exc.args else str(exc)}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _failure_text(job, message):
    kind, text = message.get("kind"), message.get("message", "")
    name = job["function_name"]
    if kind == "package":
        return _package_text(job, message)
    if kind == "source":
        return f"Sourcing {message.get('file')} failed, so R function {name} was not run: {text}"
    if kind == "missing":
        files = ", ".join(message.get("files") or []) or "no .R file"
        return f"Cannot run action {job['action']}: {text} (sourced: {files})"
    if kind == "quit":
        return f"The R function {name} called {text}: a non-zero status fails the action, as with FaaSr's Rscript"
    if kind == "exit":
        return f"faasr_exit: {text or 'the function exited with an error'}"
    if kind == "internal":
        return f"the R worker failed: {text}"
    calls = message.get("calls") or []
    stack = "\nCall stack (innermost last):\n" + "\n".join(f"  {c}" for c in calls) if calls else ""
    return f"The R function {name} stopped with an error: {text}{stack}"


def _package_text(job, message):
    lines = []
    for package in message.get("packages") or []:
        entry = (f"it is in FunctionCRANPackage of {job['function_name']}" if message.get("listed")
                 else f"add it to FunctionCRANPackage of {job['function_name']} in the workflow")
        where = f", loaded by {message['file']}" if message.get("file") else ""
        lines.append(f"R package {package} is not installed ({entry}{where}); {how_to_install(package)}")
    return "; ".join(lines) or message.get("message", "")


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _copy_limits(pid):
    # Limits set on this action process (memory, CPU) hold for its R worker too.
    for name in LIMITS:
        res = getattr(resource, name, None)
        if res is None:
            continue
        limits = resource.getrlimit(res)
        if limits != (resource.RLIM_INFINITY, resource.RLIM_INFINITY):
            try:
                resource.prlimit(pid, res, limits)
            except (OSError, ValueError):
                pass
