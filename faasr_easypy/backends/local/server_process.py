"""Starting and stopping one fork server (the owner's side).

A fork server is a process of its own (`python -m faasr_easypy.backends.local.forkserver`)
listening on a Unix socket in a private folder (mode 0700, so only this user can
connect). The owner binds the socket itself and hands it over, so clients can
connect at once, while the server is still importing boto3; their requests
wait in the socket's backlog.

Who owns one: a LocalBackend that was given none (`faasr-easypy run`, tests), or
a pyATS job (JobContext), whose workflow tasks all connect to the same server,
so each task no longer pays for an interpreter start and a boto3 import.

The server stops when its stdin pipe closes: when the owner calls stop(), exits
or dies (even by kill -9). Processes forked from the owner (pyATS tasks) close
their inherited copy of that pipe at once, so they cannot keep the server alive.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import weakref

from .action_env import base_environment  # no credential reaches the server or its actions
from .forkserver import SERVER_FOLDER_PREFIX

MODULE = "faasr_easypy.backends.local.forkserver"
BACKLOG = 256  # clients connecting while the server starts (one per workflow task)

_live = weakref.WeakSet()  # started and not stopped, in this process


class ForkServerProcess:
    def __init__(self):
        self.folder = None
        self.address = None
        self.log_path = None
        self.proc = None
        self.pid = None
        self.owner_pid = None

    def start(self):
        self.folder = tempfile.mkdtemp(prefix=SERVER_FOLDER_PREFIX)  # 0700
        self.address = os.path.join(self.folder, "socket")
        self.log_path = os.path.join(self.folder, "forkserver.log")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.address)
            listener.listen(BACKLOG)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", MODULE, "--listen-fd", str(listener.fileno())],
                    stdin=subprocess.PIPE, stdout=log, stderr=log, pass_fds=(listener.fileno(),),
                    env=dict(base_environment(), PYTHONUNBUFFERED="1"), preexec_fn=_own_group)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        finally:
            listener.close()  # the server has its own copy: if it dies, connecting fails at once
        self.pid = self.proc.pid
        self.owner_pid = os.getpid()
        _live.add(self)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=8.0):
        """Stop the server (it kills and reaps its actions first); safe to call twice.
        Only the process that started it stops it."""
        if self.proc is None or os.getpid() != self.owner_pid:
            return
        _live.discard(self)
        try:
            self.proc.stdin.close()  # EOF: the server kills its actions and exits
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __repr__(self):
        return f"ForkServerProcess(pid={self.pid}, {self.address!r})"


def _own_group():
    os.setpgid(0, 0)  # Ctrl-C at the terminal reaches the owner, which stops us in order


def _close_inherited_pipes():
    # A forked child (a pyATS task) must not hold the stdin pipe of its parent's servers:
    # the server's life is its owner's. The object stays, so the child can still connect.
    for server in list(_live):
        try:
            server.proc.stdin.close()
        except (OSError, AttributeError, ValueError):
            pass


os.register_at_fork(after_in_child=_close_inherited_pipes)
