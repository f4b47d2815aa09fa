"""The job's S3 server, started and stopped by one keeper thread.

The server is started and stopped by one "keeper" thread that lives as long as
the job: `weed` dies with the thread that started it (PR_SET_PDEATHSIG), and
starting it in the background overlaps its ~1 s start with pyATS's own start-up.

Only the job process is weed's parent, so only it can see weed die (and how): a
watcher thread there writes why into a DeathNotice, memory shared with every task
forked after it, where each task's monitor reads it (`JobContext.s3_notice.death`).
"""

import logging
import mmap
import os
import tempfile
import threading
import time

from ..errors import UserError

log = logging.getLogger(__name__)


WATCH_SECONDS = 0.5              # how often the job process looks at its S3 server's process


class DeathNotice:
    """Why the job's S3 server died, in a page of shared memory (MAP_SHARED, inherited by
    fork): written once by the job process, read by any task with no system call."""

    def __init__(self):
        self._page = mmap.mmap(-1, mmap.PAGESIZE)

    def write(self, reason):
        data = reason.encode("utf-8", "replace")[:mmap.PAGESIZE - 2]
        self._page[1:len(data) + 1] = data
        self._page[0] = 1  # last: a reader sees the whole text or nothing

    def death(self):
        """The reason, or None while the server runs (WorkflowRunner's s3_server protocol)."""
        if self._page[0] != 1:
            return None
        return self._page[1:].split(b"\0", 1)[0].decode("utf-8", "replace")


class S3Keeper:
    """JobContext's S3 server (a mixin: the state lives in JobContext.__init__)."""

    @property
    def keep_s3(self):
        return bool(self.options.get("keep_s3"))

    def start_s3_background(self):
        """Job process: start the job's S3 server (if the testbed asks for one) without waiting."""
        if not self.testbed.needs_embedded_s3 or self.s3 is not None or self._keeper is not None:
            return
        if os.getpid() != self.owner_pid:
            return
        self._s3_ready = threading.Event()
        self._s3_stop = threading.Event()

        def keep():
            try:
                self._start_s3_now()
            except BaseException as exc:  # reported by ensure_s3(), in the jobfile
                self._s3_error = exc
            finally:
                self._s3_ready.set()
            self._s3_stop.wait()
            self._stop_server_now()

        self._keeper = threading.Thread(target=keep, name="faasr-easypy-s3", daemon=True)
        self._keeper.start()
        self._register_atexit()

    def ensure_s3(self):
        """The job's S3 access (starting the server if needed); job process only."""
        if not self.testbed.needs_embedded_s3:
            return None
        if self._keeper is not None:
            self._s3_ready.wait()
            if self._s3_error is not None:
                raise self._s3_error
            return self.s3
        if self.s3 is None:
            if os.getpid() != self.owner_pid:
                raise UserError("The job's embedded S3 server is not running, and a task cannot start one: "
                                "start workflow tasks through faasr_easypy.easypy (run_workflow, "
                                "WorkflowPool) from the jobfile, with the faasr_easypy Easypy plugin enabled.")
            with self._lock:
                if self.s3 is None:
                    self._start_s3_now()
                    self._register_atexit()
        return self.s3

    def _start_s3_now(self):
        from ..environment import S3Service, start_s3

        data_dir = None
        if self.keep_s3:
            data_dir = tempfile.mkdtemp(prefix="faasr-easypy-s3-kept-")
            self.s3_data_dir = data_dir
        started = time.monotonic()
        service = start_s3(data_dir=data_dir)
        self.server = service.server
        # What tasks inherit: endpoint and keys (never printed), not the server the keeper owns.
        self.s3 = S3Service(service.endpoint, service.access_key, service.secret_key, service.region)
        self.redactor  # noqa: B018 -- the keys are masked from now on, also in the log filter
        what = "embedded S3 server (SeaweedFS)" if self.server else "external S3 (FAASR_EASYPY_S3_ENDPOINT)"
        log.info("faasr-easypy: %s at %s, ready in %.2f s", what, service.endpoint, time.monotonic() - started)
        if self.server is not None:
            self.s3_notice = DeathNotice()  # before any task is forked
            threading.Thread(target=self._watch_s3, args=(self.server,), name="faasr-easypy-s3-watch",
                             daemon=True).start()

    def _watch_s3(self, server):
        """Job process: until the server is stopped, note (once) that it died and why."""
        while True:
            time.sleep(WATCH_SECONDS)
            with self._lock:  # _stop_server_now takes the server away under it: no false alarm
                if self.server is not server:
                    return
                death = server.death()
            if death:
                self.s3_notice.write(death)
                log.error("faasr-easypy: %s. Every workflow still running stops now, with its "
                          "statuses unknown; workflows not started yet do not start.", death)
                return

    def s3_death(self):
        """Why the job's embedded S3 server died, or None (any process of the job)."""
        return self.s3_notice.death() if self.s3_notice is not None else None

    def stop_s3(self):
        """Stop the embedded server; safe to call twice and from atexit."""
        if os.getpid() != self.owner_pid:
            return
        keeper = self._keeper
        if keeper is not None:
            self._s3_ready.wait(60)
            self._s3_stop.set()
            keeper.join(20)
        else:
            self._stop_server_now()

    def _stop_server_now(self):
        with self._lock:
            server, self.server = self.server, None
        if server is None:
            return
        try:
            # Without --faasr-keep-s3 the data is thrown away: no need for a clean stop.
            server.stop(timeout=5.0 if self.keep_s3 else 0)
        except Exception:  # never let a stop failure hide the job's own result
            log.exception("stopping the embedded S3 server failed")
        if self.s3_data_dir:
            log.info("faasr-easypy: S3 data kept in %s (look at it with: faasr-easypy s3 ls --data-dir %s; "
                     "faasr-easypy s3 cat --data-dir %s KEY; serve it with: faasr-easypy s3 serve --data-dir %s)",
                     self.s3_data_dir, self.s3_data_dir, self.s3_data_dir, self.s3_data_dir)
