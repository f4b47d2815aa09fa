"""The job's one fork server for the local backend.

One per job instead of one per task: a task would otherwise start an interpreter
and import boto3 (~0.5 CPU-s, ~38 MiB) just to fork its actions.
"""

import logging
import os

log = logging.getLogger(__name__)


class ForkServerOwner:
    """JobContext's fork server (a mixin)."""

    def ensure_fork_server(self):
        """Job process, before forking a task: the job's fork server (started once)."""
        if not self.testbed.runs_local or os.getpid() != self.owner_pid:
            return self.fork_server
        with self._lock:
            if self.fork_server is None or not self.fork_server.alive():
                from ..backends.local.server_process import ForkServerProcess

                self.fork_server = ForkServerProcess().start()
                log.info("faasr-easypy: local fork server pid %d", self.fork_server.pid)
                self._register_atexit()
        return self.fork_server

    def stop_fork_server(self):
        """Stop the job's fork server (it kills what still runs); safe to call twice."""
        if os.getpid() != self.owner_pid:
            return
        with self._lock:
            server, self.fork_server = self.fork_server, None
        if server is not None:
            try:
                server.stop()
            except Exception:
                log.exception("stopping the local fork server failed")
