"""pyATS's reporter server handles each message on one long-lived thread.

The reporter process (``pyats.reporter.server.ReportServer``) receives a
message per section start, stop, result and detail from every task: about 200
for one workflow. For each it builds a ``ThreadPoolExecutor(max_workers=1)``,
submits the handler, waits for the result with a timeout and shuts the
executor down (``wait=True``): one thread started and joined per message,
most of the reporter's CPU (~0.2 CPU-s per workflow). :func:`install` gives
the server module an executor with the same behaviour, one message at a time,
its ``shutdown(wait=True)`` waiting for what was submitted to it, but run
on one worker thread kept for the life of the process. Any other use
(``max_workers`` other than 1) gets a real ``ThreadPoolExecutor``.
"""

import concurrent.futures
import logging
import os

from ..forksafe import ForkSafeLock

log = logging.getLogger(__name__)

SERVER_MODULE = "pyats.reporter.server"

_worker = None  # this process's long-lived one-thread executor
_worker_pid = None
_lock = ForkSafeLock()


def _shared_worker():
    global _worker, _worker_pid
    with _lock:
        if _worker is None or _worker_pid != os.getpid():  # threads do not survive a fork
            _worker = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                            thread_name_prefix="faasr-easypy-reporter")
            _worker_pid = os.getpid()
        return _worker


class OneWorkerExecutor:
    """``ThreadPoolExecutor(max_workers=1)`` as the reporter uses it, on a shared thread."""

    def __new__(cls, max_workers=None, *args, **kwargs):
        if max_workers != 1 or args or kwargs:
            return concurrent.futures.ThreadPoolExecutor(max_workers, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, max_workers=None):
        self._futures = []
        self._shut = False

    def submit(self, fn, /, *args, **kwargs):
        if self._shut:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = _shared_worker().submit(fn, *args, **kwargs)
        self._futures.append(future)
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        return _shared_worker().map(fn, *iterables, timeout=timeout, chunksize=chunksize)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shut = True
        if cancel_futures:
            for future in self._futures:
                future.cancel()
        if wait:
            concurrent.futures.wait(self._futures)
        self._futures = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown(wait=True)
        return False


def install():
    """Give pyATS's reporter server the one-worker executor (idempotent, best effort).

    Must run in the job process before the reporter process forks."""
    try:
        import importlib

        server = importlib.import_module(SERVER_MODULE)
    except Exception as exc:  # another pyATS version: leave it alone
        log.debug("%s not found: %s", SERVER_MODULE, exc)
        return False
    current = getattr(server, "ThreadPoolExecutor", None)
    if current is OneWorkerExecutor:
        return True
    if current is not concurrent.futures.ThreadPoolExecutor:
        return False  # not the executor we know: leave it alone
    server.ThreadPoolExecutor = OneWorkerExecutor
    return True
