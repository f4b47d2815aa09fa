"""The fork server: a warm process that forks one child per action.

Why: starting an interpreter and importing boto3 costs ~300 ms (~0.5 CPU-s on a
busy machine); forking a process that already has them costs a few. One server
can serve many LocalBackends at once, e.g. every workflow task of a pyATS job.

Clients connect to its Unix socket (in a private 0700 folder, see
server_process.py) and exchange JSON lines: `run`, `cancel`, `close` in;
`ready`, `finished`, `closed` out. A client's actions are its own: `cancel`
and `close` touch only them, and when a client disconnects (its task ended, or
was killed) its running actions are killed. Each action is still a fresh
process with its own working directory. The server enforces each action's
time limit, notices children that die without reporting (killed, os._exit),
and writes their ERROR line to the action's log itself.

Run as `python -m faasr_easypy.backends.local.forkserver --listen-fd N`, started
and stopped by ForkServerProcess. It stops when its stdin closes (the owner
closed it or died) and kills its children on the way out.
"""

import argparse
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from faasr_easypy.backends.local.r_server import RServer

SHIM = str(Path(__file__).with_name("shim"))
# Temp folder names: the server removes only folders named so (see _remove_abandoned_roots).
ACTIONS_ROOT_PREFIX = "faasr-easypy-actions-"     # a LocalBackend's action folders
SERVER_FOLDER_PREFIX = "faasr-easypy-forkserver-"  # the server's socket and log
# An action's S3 writes (log, outputs, .done) ride out a short outage such as an S3 restart:
# with 3 attempts a write failed after ~2 s, the .done was lost and the workflow ran into its
# timeout (found by the s3-restart reliability scenario). 10 standard-mode attempts back off
# for up to about a minute.
ACTION_S3_ATTEMPTS = 10


class Client:
    """One connected LocalBackend and the actions it started."""

    __slots__ = ("sock", "fd", "inbuf", "children", "closing", "roots")

    def __init__(self, sock):
        self.sock = sock
        self.fd = sock.fileno()
        self.inbuf = b""
        self.children = set()  # Child
        self.closing = False
        self.roots = set()     # its action folders' roots, removed here if it vanishes


class Child:
    __slots__ = ("pid", "job", "fd", "client", "buffer", "deadline", "reported", "kill_reason", "started")

    def __init__(self, pid, job, fd, client):
        self.pid, self.job, self.fd, self.client = pid, job, fd, client
        self.buffer = b""
        self.started = time.monotonic()
        limit = job.get("time_limit")
        self.deadline = self.started + limit if limit else None
        self.reported = False
        self.kill_reason = None


class ForkServer:
    def __init__(self, listener):
        self.listener = listener
        self.sel = selectors.DefaultSelector()
        self.clients = {}  # socket fd -> Client
        self.children = {}  # result pipe fd -> Child
        self.running = True
        self._prototypes = {}  # S3 clients children inherit: never used in this process
        self._own = {}  # S3 clients this process uses itself (kept apart: sockets don't survive fork)
        self.r_server = RServer()  # the warm R process, started on the first R action

    # -- S3 clients -------------------------------------------------------
    def _s3_client(self, cache, store):
        from faasr_easypy.s3.client import DataStore, make_client

        key = (store["endpoint"], store["access_key"], store["region"], store["anonymous"])
        if key not in cache:
            client = cache[key] = make_client(DataStore(name=store["name"], bucket=store["bucket"],
                                               endpoint=store["endpoint"], region=store["region"],
                                               anonymous=store["anonymous"],
                                               access_key=store["access_key"],
                                               secret_key=store["secret_key"]),
                                     max_attempts=ACTION_S3_ATTEMPTS)
            if cache is self._prototypes:
                _warm(client, store["bucket"])
                gc.freeze()  # children's collector must not touch (and so copy) its pages
        return cache[key]

    # -- protocol ---------------------------------------------------------
    def accept(self):
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        # Blocking sends, bounded: a client that stops reading for 30 s is dropped.
        sock.settimeout(30)
        client = Client(sock)
        self.clients[client.fd] = client
        self.sel.register(client.fd, selectors.EVENT_READ, client)
        self.send(client, {"op": "ready", "pid": os.getpid()})

    def send(self, client, message):
        if client.sock is None:
            return
        try:
            client.sock.sendall((json.dumps(message) + "\n").encode())
        except OSError:
            self.disconnect(client)

    def on_client_readable(self, client):
        try:
            data = client.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError, socket.timeout):
            return
        except OSError:
            data = b""
        if not data:
            self.disconnect(client)
            return
        client.inbuf += data
        while b"\n" in client.inbuf and client.sock is not None:
            line, client.inbuf = client.inbuf.split(b"\n", 1)
            if line.strip():
                self.handle(client, json.loads(line))

    def handle(self, client, message):
        op = message.get("op")
        if op == "run" and not client.closing:
            self.spawn(client, message["job"])
        elif op == "cancel":
            for child in list(client.children):
                if child.job["payload"]["InvocationID"] == message["invocation_id"]:
                    self.kill(child, "the run was cancelled by the harness")
        elif op in ("close", "shutdown"):
            # Kill this client's actions; `closed` follows once they are all reaped.
            client.closing = True
            for child in list(client.children):
                self.kill(child, "the harness stopped")
            self._maybe_closed(client)

    def _maybe_closed(self, client):
        if client.closing and not client.children and client.sock is not None:
            self.send(client, {"op": "closed"})
            self.disconnect(client)

    def disconnect(self, client):
        """The client is gone (or done): forget it and kill what it still runs."""
        if client.sock is None:
            return
        self.sel.unregister(client.fd)
        del self.clients[client.fd]
        client.sock.close()
        client.sock = None
        if client.closing:
            client.roots.clear()  # a clean close: the client removes its own folders
        for child in list(client.children):
            self.kill(child, "the harness stopped")
        self._remove_abandoned_roots(client)

    def _remove_abandoned_roots(self, client):
        # A client that vanished (killed task, max_runtime) cannot remove its action folders:
        # once its last action is reaped, do it here. Only folders the backend made itself.
        if client.sock is not None or client.children:
            return
        for root in client.roots:
            path = os.path.realpath(root)
            if (os.path.dirname(path) == os.path.realpath(tempfile.gettempdir())
                    and os.path.basename(path).startswith(ACTIONS_ROOT_PREFIX)):
                shutil.rmtree(path, ignore_errors=True)
        client.roots.clear()

    def spawn(self, client, job):
        if job.get("type") == "R":
            job = dict(job, r_server=self.r_server.info())
        clients = {name: self._s3_client(self._prototypes, store) for name, store in job["stores"].items()}
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.setpgid(0, 0)
                _die_with_parent(signal.SIGKILL)
                os.close(r)
                # Nothing of the server or of other clients' actions stays open here.
                self.listener.close()
                for fd in list(self.children) + list(self.clients):
                    os.close(fd)
                self.sel.close()
                self.children.clear()
                self.clients.clear()
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                from faasr_easypy.backends.local.action_process import run_action
                run_action(job, clients, w)
            finally:
                os._exit(4)
        os.close(w)
        try:
            os.setpgid(pid, pid)  # also here: no race with an early kill
        except OSError:
            pass
        child = Child(pid, job, r, client)
        self.children[r] = child
        client.children.add(child)
        if job.get("own_root"):
            client.roots.add(job["workdir_root"])
        self.sel.register(r, selectors.EVENT_READ, child)

    def kill(self, child, reason):
        if child.kill_reason is None:
            child.kill_reason = reason
        for target in (lambda: os.killpg(child.pid, signal.SIGKILL), lambda: os.kill(child.pid, signal.SIGKILL)):
            try:
                target()
                break
            except (ProcessLookupError, PermissionError):
                continue

    def on_child_readable(self, child):
        try:
            data = os.read(child.fd, 65536)
        except OSError:
            data = b""
        if data:
            child.buffer += data
            if b"\n" in child.buffer and not child.reported:
                line = child.buffer.split(b"\n", 1)[0]
                child.reported = True
                report = json.loads(line)
                self.send(child.client, dict(report, op="finished", pid=child.pid))
            return
        # EOF: the child has exited (or is about to).
        self.sel.unregister(child.fd)
        os.close(child.fd)
        del self.children[child.fd]
        _, status = os.waitpid(child.pid, 0)
        if child.job.get("type") == "R":
            self.r_server.action_ended(child.pid)  # its R worker goes with it
        if not child.reported:
            self.report_death(child, status)
        child.client.children.discard(child)
        self._maybe_closed(child.client)
        self._remove_abandoned_roots(child.client)

    def report_death(self, child, status):
        if child.kill_reason:
            reason = child.kill_reason
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            reason = f"its process was killed by signal {sig} ({signal.Signals(sig).name})"
        else:
            reason = f"its process exited with code {os.WEXITSTATUS(status)} without finishing the function"
        job = child.job
        try:
            self.append_error(job, f"Action {job['action']} did not finish: {reason}", child.started)
        except Exception as exc:  # S3 unreachable: the result still reaches the harness
            reason += f" (and its ERROR line could not be written to S3: {exc})"
        self.send(child.client, {"op": "finished", "job_id": job["job_id"], "ok": False, "triggered": [],
                                 "error": reason, "pid": child.pid,
                                 "seconds": round(time.monotonic() - child.started, 4)})

    def append_error(self, job, message, started):
        from faasr_easypy.layout import format_log_line

        store = job["stores"][job["log_store"]]
        client = self._s3_client(self._own, store)
        try:
            body = client.get_object(Bucket=store["bucket"], Key=job["log_key"])["Body"].read()
        except client.exceptions.NoSuchKey:
            body = b""
        if body and not body.endswith(b"\n"):
            body += b"\n"
        line = format_log_line(time.monotonic() - started, "ERROR", "local_backend.py", message)
        client.put_object(Bucket=store["bucket"], Key=job["log_key"], Body=body + line.encode() + b"\n")

    # -- main loop --------------------------------------------------------
    def loop(self):
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, "owner")
        self.listener.setblocking(False)
        self.sel.register(self.listener.fileno(), selectors.EVENT_READ, "listener")
        while self.running:
            now = time.monotonic()
            deadlines = [c.deadline for c in self.children.values() if c.deadline and not c.kill_reason]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            for key, _ in self.sel.select(timeout):
                if key.data == "owner":
                    self.read_owner()
                elif key.data == "listener":
                    self.accept()
                elif isinstance(key.data, Client):
                    if key.data.sock is not None:  # not dropped earlier in this round
                        self.on_client_readable(key.data)
                elif self.children.get(key.data.fd) is key.data:  # fds are reused: same child?
                    self.on_child_readable(key.data)
            now = time.monotonic()
            for child in list(self.children.values()):
                if child.deadline and now >= child.deadline and not child.reported:
                    limit = child.job["time_limit"]
                    self.kill(child, f"it ran past its time limit of {limit:g} s and was killed")

    def read_owner(self):
        """stdin carries nothing; its EOF means the owner is gone or wants us to stop."""
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        if not data:
            self.running = False

    def shutdown(self):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for client in list(self.clients.values()):
            self.disconnect(client)
        for child in list(self.children.values()):
            self.kill(child, "the harness stopped")
        deadline = time.monotonic() + 5
        while self.children and time.monotonic() < deadline:
            for key, _ in self.sel.select(0.1):
                if isinstance(key.data, Child) and self.children.get(key.data.fd) is key.data:
                    self.on_child_readable(key.data)
        self.r_server.stop()  # it kills the R workers of actions killed above


def _warm(client, bucket):
    """One read-only request so botocore's lazy set-up happens here, once, not in
    every child; then drop the connection, which children must not share."""
    from faasr_easypy.s3.client import prime

    prime(client)  # e.g. the paginator config: faasr_get_folder_list would load it in every child
    try:
        client.head_object(Bucket=bucket, Key=".faasr-easypy-warm-up")
    except Exception:
        pass
    client._endpoint.http_session.close()


def _die_with_parent(sig):
    # Loaded once here, before any fork, so children don't pay for ctypes.
    global _libc
    try:
        if _libc is None:
            import ctypes
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_libc = None


def main(argv=None):
    # No PR_SET_PDEATHSIG here: it fires when the parent *thread* ends, and the owner
    # may start us from a short-lived thread. stdin reaching EOF (the owner closed it,
    # or died) ends the loop instead, and shutdown() kills the children.
    parser = argparse.ArgumentParser(prog="python -m " + __spec__.name)
    parser.add_argument("--listen-fd", type=int, required=True,
                        help="a listening Unix socket, bound by the owner")
    args = parser.parse_args(argv)
    listener = socket.socket(fileno=args.listen_fd)
    os.dup2(2, 1)  # anything printed here goes to the log, with stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when we stop
    server = ForkServer(listener)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    sys.path.insert(0, SHIM)
    # Warm imports children would otherwise each pay for.
    import boto3  # noqa: F401
    import FaaSr_py.client.py_client_stubs  # noqa: F401

    from faasr_easypy.backends.local import action_process  # noqa: F401
    gc.freeze()  # shared with every child by fork: keep their collectors off these pages
    try:
        server.loop()
    finally:
        server.shutdown()
        # The owner removes this folder when it stops us; if it died, nobody else will.
        folder = os.path.dirname(listener.getsockname())
        if os.path.basename(folder).startswith(SERVER_FOLDER_PREFIX):
            shutil.rmtree(folder, ignore_errors=True)


def _exit_on_signal(signum, frame):
    raise SystemExit(0)  # unwinds select() so shutdown() kills the children


if __name__ == "__main__":
    main()
