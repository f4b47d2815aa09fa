"""ForkSafeLock: a lock held by another thread at fork time is free in the child."""

import threading

from faasr_easypy.forksafe import ForkSafeLock

from .processes import answer_from_fork


def test_a_lock_held_at_the_fork_is_free_in_the_child():
    lock = ForkSafeLock()
    held, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        def child():
            acquired = lock._lock.acquire(timeout=2)
            return b"free" if acquired else b"held"

        assert answer_from_fork(child) == b"free"
        assert not lock._lock.acquire(blocking=False)  # the parent's is still held
    finally:
        release.set()
        holder.join(5)
    with lock:  # usable again once the thread let go
        pass
