"""The job's S3 server, started and stopped by one keeper thread.

The server is started and stopped by one "keeper" thread that lives as long as
the job: `weed` dies with the thread that started it (PR_SET_PDEATHSIG), and
starting it in the background overlaps its ~1 s start with pyATS's own start-up.

For a FaaSr jobfile on the built-in testbed the keeper starts even earlier, when
pyATS loads the plugin (:func:`start_early`, ~1 s before pre_job): the context
made in pre_job adopts it, or pre_job stops it (:func:`abandon_early`) when the job
turns out not to need it; an atexit handler stops it if pre_job never comes.

Only the job process is weed's parent, so only it can see weed die (and how): a
watcher thread there writes why into a DeathNotice, memory shared with every task
forked after it, where each task's monitor reads it (`JobContext.s3_notice.death`).
"""

import atexit
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
        """Job process: start the job's S3 server (if the testbed asks for one) without waiting,
        or adopt the one started when pyATS loaded the plugin."""
        if not self.testbed.needs_embedded_s3 or self.keep_s3:
            abandon_early()  # the early server keeps no data (--faasr-keep-s3 needs a kept folder)
        if not self.testbed.needs_embedded_s3 or self.s3 is not None or self._keeper is not None:
            return
        if os.getpid() != self.owner_pid:
            return
        self._s3_ready = threading.Event()
        self._s3_stop = threading.Event()
        early = _take_early()
        if early is not None:
            self._keeper = early.adopt(self)
            self._register_atexit()
            return

        self._keeper = threading.Thread(target=self._keep_s3, args=(self._start_s3_now,), name="faasr-easypy-s3",
                                        daemon=True)
        self._keeper.start()
        self._register_atexit()

    def _keep_s3(self, start):
        """The keeper thread's life: start() the server, say it is ready (or why not), hold it
        until the job stops it; `weed` dies with the thread that started it."""
        try:
            start()
        except BaseException as exc:  # reported by ensure_s3(), in the jobfile
            self._s3_error = exc
        finally:
            self._s3_ready.set()
        self._s3_stop.wait()
        self._stop_server_now()

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
        from ..environment import start_s3

        data_dir = None
        if self.keep_s3:
            data_dir = tempfile.mkdtemp(prefix="faasr-easypy-s3-kept-")
            self.s3_data_dir = data_dir
        started = time.monotonic()
        self._use_s3(start_s3(data_dir=data_dir), time.monotonic() - started)

    def _use_s3(self, service, seconds):
        """The started service becomes the job's (keeper thread)."""
        from ..environment import S3Service

        self.server = service.server
        # What tasks inherit: endpoint and keys (never printed), not the server the keeper owns.
        self.s3 = S3Service(service.endpoint, service.access_key, service.secret_key, service.region)
        self.redactor  # noqa: B018 -- the keys are masked from now on, also in the log filter
        what = "embedded S3 server (SeaweedFS)" if self.server else "external S3 (FAASR_EASYPY_S3_ENDPOINT)"
        log.info("faasr-easypy: %s at %s, ready in %.2f s", what, service.endpoint, seconds)
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


class EarlyS3:
    """The keeper thread of an S3 server started before the job's context exists."""

    def __init__(self):
        self._decided = threading.Event()  # adopted by a context, or abandoned
        self._ctx = None
        self._service = None
        self._error = None
        self._seconds = None
        self.thread = threading.Thread(target=self._keep, name="faasr-easypy-s3", daemon=True)

    def _keep(self):
        from ..environment import start_s3

        started = time.monotonic()
        try:
            self._service = start_s3()
        except BaseException as exc:  # reported by the context's ensure_s3(), in the jobfile
            self._error = exc
        self._seconds = time.monotonic() - started
        self._decided.wait()
        ctx = self._ctx
        if ctx is None:  # abandoned: no job needs it
            if self._service is not None and self._service.server is not None:
                try:
                    self._service.server.stop(timeout=0)
                except Exception:
                    log.exception("stopping the embedded S3 server failed")
            return
        ctx._keep_s3(self._hand_over)

    def _hand_over(self):
        """The adopting context's start(): the server started here, or why it did not start."""
        if self._error is not None:
            raise self._error
        self._ctx._use_s3(self._service, self._seconds)

    def adopt(self, ctx):
        """`ctx` (its _s3_ready and _s3_stop events made) owns the server from now on."""
        self._ctx = ctx
        self._decided.set()
        return self.thread

    def abandon(self, timeout=10):
        if not self._decided.is_set():
            self._decided.set()
            self.thread.join(timeout)


_early = []  # the EarlyS3 started in this process, until a context takes it


def start_early():
    """Plugin registration of a FaaSr run on the built-in testbed: start the S3 server now, so it
    is up by the time the jobfile needs it. The S3 client modules are imported here, in the main
    thread, so the keeper thread imports nothing while pyATS forks its helper processes."""
    if _early:
        return _early[0]
    import ctypes  # noqa: F401 -- what the server's start imports (prctl) ...

    import botocore.exceptions  # noqa: F401 -- ... and its readiness probe

    from .. import environment  # noqa: F401
    from .before_fork import warm_s3_client

    warm_s3_client()  # the server's readiness probe uses a client: its imports happen here
    early = EarlyS3()
    _early.append(early)
    early.thread.start()
    atexit.register(abandon_early)
    return early


def _take_early():
    return _early.pop() if _early else None


def abandon_early():
    """Stop an early-started server no context took (safe to call any time, also from atexit)."""
    early = _take_early()
    if early is not None:
        early.abandon()
