"""A lock that survives fork: the child gets a fresh one.

The job process forks pyATS tasks and the fork server forks actions while other
threads may hold a module's lock; a child that inherited it held would wait forever.
"""

import os
import threading


class ForkSafeLock:
    """threading.Lock, replaced by a new one in every forked child (`with lock:` as usual)."""

    def __init__(self):
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self):
        self._lock = threading.Lock()  # another thread may have held it at the fork

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()
