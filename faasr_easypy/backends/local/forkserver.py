"""The fork server: a warm process that forks one child per action.

Why: starting an interpreter and importing the FaaSr API and an S3 client costs
~300 ms (~0.5 CPU-s on a busy machine); forking a process that already has them
costs a few. One server
can serve many LocalBackends at once, e.g. every workflow task of a pyATS job.

Clients connect to its Unix socket (in a private 0700 folder, see
server_process.py) and exchange JSON lines: `run`, `cancel`, `close` in;
`ready`, `finished`, `closed` out. A client's actions are its own: `cancel`
and `close` touch only them, and when a client disconnects (its task ended, or
was killed) its running actions are killed. Each action is still a fresh
process with its own working directory. The server enforces each action's
time limit, notices children that die without reporting (killed, os._exit),
and writes their ERROR line to the action's log itself.

Death is seen from the process, not its pipe: SIGCHLD wakes the loop and
waitpid() gives the status at once, even while a child the function forked
still holds the result pipe open. Each action is a process group of its own and
a child subreaper (action_process), so everything it starts stays below it; the
server is a subreaper too, so what an action leaves behind when it ends is
re-parented here, where any child that is not a running action is an orphan
and is killed and reaped (see _sweep_orphans).

Run as `python -m faasr_easypy.backends.local.forkserver --listen-fd N`, started
and stopped by ForkServerProcess. It stops when its stdin closes (the owner
closed it or died) and kills its children on the way out.
"""

import argparse
import gc
import json
import os
import secrets
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


# A report is one short JSON line; anything longer is not one (a function wrote to the pipe).
MAX_REPORT_BYTES = 1 << 20


class Child:
    __slots__ = ("pid", "job", "fd", "client", "buffer", "deadline", "reported", "kill_reason", "started",
                 "report", "report_path")

    def __init__(self, pid, job, fd, client, report_path):
        self.pid, self.job, self.fd, self.client = pid, job, fd, client
        self.buffer = b""
        self.started = time.monotonic()
        limit = job.get("time_limit")
        self.deadline = self.started + limit if limit else None
        self.reported = False  # `finished` was sent to the client
        self.report = None     # the action's own report, once read and checked
        self.kill_reason = None
        self.report_path = report_path  # where the action reports if its pipe was closed under it


class ForkServer:
    def __init__(self, listener):
        self.listener = listener
        self.sel = selectors.DefaultSelector()
        self.clients = {}  # socket fd -> Client
        self.children = {}  # result pipe fd -> Child, while the pipe is open
        self.by_pid = {}    # pid -> Child, until it is reaped
        self.orphans = set()  # pids of processes actions left behind, killed, not yet reaped
        self.running = True
        # SIGCHLD wakes select() through this pipe: a death is seen within one loop turn.
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._prototypes = {}  # S3 clients children inherit: never used in this process
        self._own = {}  # S3 clients this process uses itself (kept apart: sockets don't survive fork)
        self.r_server = RServer()  # the warm R process, started on the first R action

    # -- S3 clients -------------------------------------------------------
    def _s3_client(self, cache, store):
        key = (store["endpoint"], store["access_key"], store["region"], store["anonymous"])
        if key not in cache:
            cache[key] = _action_client(store, for_children=cache is self._prototypes)
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
                self.handle(client, json.loads(line))  # our own client's lines: trusted

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
        # Where the action reports instead if the function closed the pipe (os.closerange):
        # a name only this child is told, in its backend's folder.
        report_path = os.path.join(job["workdir_root"], f".report-{job['job_id']}-{secrets.token_hex(8)}")
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.setpgid(0, 0)
                _die_with_parent(signal.SIGKILL)
                os.close(r)
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                # Nothing of the server or of other clients' actions stays open here.
                self.listener.close()
                for fd in list(self.children) + list(self.clients) + [self._wake_r, self._wake_w]:
                    os.close(fd)
                self.sel.close()
                self.children.clear()
                self.by_pid.clear()
                self.clients.clear()
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                from faasr_easypy.backends.local.action_process import run_action
                run_action(job, clients, w, report_path)
            finally:
                os._exit(4)
        os.close(w)
        os.set_blocking(r, False)
        try:
            os.setpgid(pid, pid)  # also here: no race with an early kill
        except OSError:
            pass
        child = Child(pid, job, r, client, report_path)
        self.children[r] = child
        self.by_pid[pid] = child
        client.children.add(child)
        if job.get("own_root"):
            client.roots.add(job["workdir_root"])
        self.sel.register(r, selectors.EVENT_READ, child)

    def kill(self, child, reason):
        if child.kill_reason is None:
            child.kill_reason = reason
        _kill_group(child.pid)

    def on_child_readable(self, child):
        """Read the action's report; the pipe's EOF means nothing (a child of the
        function may hold it open, or close it early): only waitpid tells a death."""
        while True:
            try:
                data = os.read(child.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_pipe(child)
                return
            if child.report is None and len(child.buffer) < MAX_REPORT_BYTES:
                child.buffer += data
                if b"\n" in child.buffer:
                    self._take_report(child, child.buffer.split(b"\n", 1)[0])

    def _close_pipe(self, child):
        if child.fd is not None and self.children.get(child.fd) is child:
            self.sel.unregister(child.fd)
            del self.children[child.fd]
            os.close(child.fd)
        child.fd = None

    def _take_report(self, child, line):
        """Check the action's report line; send `finished` at once when the action says
        its log and .done are written (else the death handler completes them first)."""
        report = _parse_report(line, child.job["job_id"])
        if report is None:
            child.report = False  # not a report: the death handler explains it
            return
        child.report = report
        if report.get("final_written", True) and not child.reported:
            child.reported = True
            self.send(child.client, dict(report, op="finished", pid=child.pid))

    # -- deaths -------------------------------------------------------------
    def on_sigchld(self):
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:
            pass
        self.reap()

    def reap(self):
        """waitpid() every child that ended: actions get their verdict, orphans are forgotten."""
        ended = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            child = self.by_pid.pop(pid, None)
            if child is None:
                self.orphans.discard(pid)
                continue
            ended = True
            self.on_child_exit(child, status)
        if ended or self.orphans:
            self._sweep_orphans()

    def on_child_exit(self, child, status):
        _kill_group(child.pid)  # what it started in its own group goes with it
        if child.job.get("type") == "R":
            self.r_server.action_ended(child.pid)  # its R worker goes with it
        if child.fd is not None:
            self.on_child_readable(child)  # a report written just before the exit is there now
            self._close_pipe(child)
        if child.report is None or child.report is False:
            late = _read_report_file(child.report_path, child.job["job_id"])
            if late is not None:
                child.report = late
        else:
            _remove(child.report_path)
        if not child.reported:
            if child.kill_reason is None and isinstance(child.report, dict):
                if child.report.get("final_written"):  # reported through the file
                    child.reported = True
                    self.send(child.client, dict(child.report, op="finished", pid=child.pid))
                else:
                    self.finish_reported(child)
            elif child.client.sock is None:
                child.reported = True  # its client is gone: nobody watches this log any more
            else:
                self.report_death(child, status)
        child.client.children.discard(child)
        self._maybe_closed(child.client)
        self._remove_abandoned_roots(child.client)

    def _sweep_orphans(self):
        """Kill every child of ours that is not a running action (nor the R server): re-parented
        here (we are a subreaper) from an action that ended. Running actions are subreapers themselves, so
        what they start stays below them while they live."""
        r_server = self.r_server.proc.pid if self.r_server.proc is not None else None
        for pid in _own_children():
            if pid in self.by_pid or pid == r_server:  # the R server is ours, not an orphan
                continue
            self.orphans.add(pid)
            _kill_group(pid, own_group_only=False)

    def finish_reported(self, child):
        """The action reported, but its log's final lines or .done may be missing (its own
        harness code failed after the function): write the ERROR line and .done here."""
        report = child.report
        job = child.job
        reason = report.get("error") or "the action's harness code failed after the function"
        try:
            self.append_error(job, f"Action {job['action']} did not finish: {reason}", child.started,
                              done=True)
        except Exception as exc:
            reason += f" (and its ERROR line could not be written to S3: {_describe(exc)})"
        child.reported = True
        self.send(child.client, dict(report, op="finished", pid=child.pid, ok=False, error=reason))

    def report_death(self, child, status):
        if child.kill_reason:
            reason = child.kill_reason
        else:
            reason = death_reason(status)
            if child.report is False:
                reason += " (what it wrote on its result channel was not a report)"
        job = child.job
        try:
            # No .done, as on FaaSr: a killed action never wrote one; the ERROR line is final.
            self.append_error(job, f"Action {job['action']} did not finish: {reason}", child.started)
        except Exception as exc:  # S3 unreachable: the result still reaches the harness
            reason += f" (and its ERROR line could not be written to S3: {_describe(exc)})"
        child.reported = True
        triggered = child.report.get("triggered", []) if isinstance(child.report, dict) else []
        self.send(child.client, {"op": "finished", "job_id": job["job_id"], "ok": False, "triggered": triggered,
                                 "error": reason, "pid": child.pid,
                                 "seconds": round(time.monotonic() - child.started, 4)})

    def append_error(self, job, message, started, done=False):
        """Append an ERROR line to the action's log (and write its .done: a final status
        even when the action could not)."""
        from faasr_easypy.s3.client import refuses_connections

        from .error_line import append_error_line

        store = job["stores"][job["log_store"]]
        if refuses_connections(store["endpoint"]):  # S3 died: 10 attempts would block the loop ~1 min
            raise ConnectionRefusedError(f"nothing listens at {store['endpoint']} any more")
        client = self._s3_client(self._own, store)
        append_error_line(client, store["bucket"], job["log_key"], time.monotonic() - started, message)
        if done:
            client.put_object(Bucket=store["bucket"], Key=job["done_key"], Body=b"True")

    # -- main loop --------------------------------------------------------
    def loop(self):
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, "owner")
        self.listener.setblocking(False)
        self.sel.register(self.listener.fileno(), selectors.EVENT_READ, "listener")
        self.sel.register(self._wake_r, selectors.EVENT_READ, "sigchld")
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _on_sigchld)
        while self.running:
            self.turn()

    def turn(self, max_wait=None):
        """One round of the loop: wait for something (at most until the next deadline)."""
        now = time.monotonic()
        deadlines = [c.deadline for c in self.by_pid.values() if c.deadline and not c.kill_reason]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        if self.orphans:  # killed, re-parented grandchildren may still come: look again soon
            timeout = 0.2 if timeout is None else min(timeout, 0.2)
        if max_wait is not None:
            timeout = max_wait if timeout is None else min(timeout, max_wait)
        for key, _ in self.sel.select(timeout):
            if key.data == "owner":
                self.read_owner()
            elif key.data == "listener":
                self.accept()
            elif key.data == "sigchld":
                self.on_sigchld()
            elif isinstance(key.data, Client):
                if key.data.sock is not None:  # not dropped earlier in this round
                    self.on_client_readable(key.data)
            elif self.children.get(key.data.fd) is key.data:  # fds are reused: same child?
                self.on_child_readable(key.data)
        self.reap()  # also without a wake-up: a signal may have landed before select()
        now = time.monotonic()
        for child in list(self.by_pid.values()):
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
        for child in list(self.by_pid.values()):
            self.kill(child, "the harness stopped")
        deadline = time.monotonic() + 5
        while (self.by_pid or self.orphans) and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        self._sweep_orphans()
        self.r_server.stop()  # it kills the R workers of actions killed above


def _action_client(store, for_children):
    """The S3 client of actions (and of this server's own writes) for one store (see
    s3.client.action_client); a boto3 one is warmed here once when children will inherit it."""
    from faasr_easypy.s3.client import DataStore, action_client
    from faasr_easypy.s3.lite import LiteS3Client

    client = action_client(DataStore(**store), max_attempts=ACTION_S3_ATTEMPTS)
    if for_children and not isinstance(client, LiteS3Client):
        _warm(client, store["bucket"])
        gc.freeze()  # children's collector must not touch (and so copy) its pages
    return client


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


def _parse_report(line, job_id):
    """The action's report as a dict, or None when `line` is not one (a function wrote to
    the pipe, or patched what the report is made with)."""
    try:
        report = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if (not isinstance(report, dict) or report.get("job_id") != job_id or not isinstance(report.get("ok"), bool)
            or not isinstance(report.get("triggered", []), list)):
        return None
    triggered = report.get("triggered", [])
    if not all(isinstance(t, list) and len(t) == 2 and isinstance(t[0], str) for t in triggered):
        return None
    return report


def _read_report_file(path, job_id):
    try:
        with open(path, "rb") as fh:
            line = fh.read(MAX_REPORT_BYTES).split(b"\n", 1)[0]
    except OSError:
        return None
    _remove(path)
    return _parse_report(line, job_id)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def death_reason(status):
    """Why a process ended, from its waitpid() status: "killed by SIGKILL", "exited with status 3"."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"its process was killed by {name}"
    return f"its process exited with status {os.WEXITSTATUS(status)} before reporting a result"


def _describe(exc):
    """str(exc) that cannot fail (a user's exception may raise in __str__)."""
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return f"{type(exc).__name__} (its message could not be printed)"


def _kill_group(pid, own_group_only=True):
    """SIGKILL the process group led by `pid` and `pid` itself. With own_group_only=False
    also the group `pid` is in now (a grandchild that called setsid leads its own)."""
    groups = {pid}
    if not own_group_only:
        try:
            groups.add(os.getpgid(pid))
        except OSError:
            pass
    groups.discard(os.getpgid(0))  # never our own group
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _own_children():
    """Pids of this process's children, from /proc (every thread's list)."""
    pids = set()
    me = os.getpid()
    try:
        tids = os.listdir(f"/proc/{me}/task")
    except OSError:
        tids = [str(me)]
    for tid in tids:
        try:
            with open(f"/proc/{me}/task/{tid}/children") as fh:
                pids.update(int(p) for p in fh.read().split())
        except OSError:
            pass
    return pids


def _on_sigchld(signum, frame):
    pass  # the wake-up fd has the byte; the loop reaps


def set_child_subreaper():
    """Orphans below this process re-parent to it instead of init (PR_SET_CHILD_SUBREAPER)."""
    try:
        return load_libc().prctl(36, 1, 0, 0, 0) == 0
    except OSError:
        return False


def load_libc():
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
    return _libc


def _die_with_parent(sig):
    # libc is loaded once, in the server before any fork, so children don't pay for ctypes.
    try:
        load_libc().prctl(1, sig)  # PR_SET_PDEATHSIG
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
    set_child_subreaper()  # what an action leaves behind comes back here to be killed
    sys.path.insert(0, SHIM)
    # Warm imports children would otherwise each pay for (boto3 only if a store needs it:
    # stores on this machine use s3/lite.py).
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
