"""The warm R server's owner, inside the fork server.

The fork server keeps Python warm for Python actions; this keeps one R
process warm for R actions (`r/server.R`: httr, jsonlite and the FaaSr R
client loaded), started on the first R action and forked once per R action.
Each job of Type R gets `r_server` (where to ask for a worker, or why R cannot
run here); the action process does the rest (`r_action.py`).

The R server is a child of the fork server, in its process group (so the
owner's last-resort kill of that group reaches it). This side holds the R
server's control FIFO open for as long as it lives (so action processes can
always write their request, even while R is still starting, and the R server
sees EOF when the fork server is gone), tells it when an R action's process
was reaped (`action_ended`, so its worker never outlives it), and stops it.
"""

import json
import os
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path

R_DIR = Path(__file__).with_name("r")
FOLDER_PREFIX = "faasr-easypy-r-"
R_PACKAGES = "r-base-core r-cran-httr r-cran-jsonlite"
INSTALL_HINT = f"install with `sudo apt-get install {R_PACKAGES}` (or `bash scripts/install-r`)"


def rscript():
    """The Rscript to run: FAASR_EASYPY_RSCRIPT, or the one on PATH (None when R is missing)."""
    given = os.environ.get("FAASR_EASYPY_RSCRIPT")
    if given:
        return given if os.access(given, os.X_OK) else None
    return shutil.which("Rscript")


_servers = weakref.WeakSet()


class RServer:
    def __init__(self):
        self.proc = None
        self.folder = None
        self._control = None  # our O_RDWR end of the control FIFO
        _servers.add(self)

    def info(self):
        """What an R job needs to reach the server: started now if need be."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None and not os.path.exists(os.path.join(self.folder, "failed")):
                self._cleanup()  # it died (killed?): start a fresh one
            if self.proc is None:
                error = self._start()
                if error:
                    return {"error": error}
        return {"pid": self.proc.pid, "folder": self.folder,
                "control": os.path.join(self.folder, "control"),
                "log": os.path.join(self.folder, "server.log")}

    def _start(self):
        binary = rscript()
        if binary is None:
            return ("R is not installed on this machine (no Rscript on PATH): the local backend runs "
                    f"R actions with Debian's R; {INSTALL_HINT}")
        self.folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)  # 0700: only this user reaches the FIFO
        control = os.path.join(self.folder, "control")
        os.mkfifo(control, 0o600)
        # Read-write, so opening never blocks; non-blocking, so a stuck R server never stalls us.
        self._control = os.open(control, os.O_RDWR | os.O_NONBLOCK)
        with open(os.path.join(self.folder, "server.log"), "ab") as log:
            self.proc = subprocess.Popen([binary, "--no-save", "--no-restore", str(R_DIR / "server.R"),
                                          self.folder], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.folder)
        return None

    def _say(self, message):
        if self._control is None:
            return False
        try:
            os.write(self._control, (json.dumps(message) + "\n").encode())
            return True
        except OSError:  # pipe full (R stuck) or gone: the kill in stop() still comes
            return False

    def action_ended(self, pid):
        """An R action's process was reaped: its R worker must go too."""
        if self.proc is not None and self.proc.poll() is None:
            self._say({"op": "ended", "action_pid": pid})

    def stop(self, timeout=5.0):
        """Ask the server to kill its workers and exit; kill it if it does not."""
        if self.proc is None:
            return
        if self.proc.poll() is None and self._say({"op": "stop"}):
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._cleanup()

    def _cleanup(self):
        self._close_control()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def _close_control(self):
        if self._control is not None:
            try:
                os.close(self._control)
            except OSError:
                pass
            self._control = None


def _close_in_child():
    # An action process (forked from the fork server) must not hold the control FIFO open,
    # or the R server would not see EOF when the fork server dies.
    for server in list(_servers):
        server._close_control()


os.register_at_fork(after_in_child=_close_in_child)
