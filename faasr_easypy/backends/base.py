"""What every compute backend offers: trigger an invocation, cancel it, close.

A backend only *starts* work. Everything that follows is seen through S3 by
the monitor, exactly as for a run on GitHub Actions or Lambda.
"""

from collections import deque


class Backend:
    #: key into faasr_easypy.monitor.platforms: how this platform's invoker log lines read
    platform = "local"
    #: True when an action's log is complete before its `.done` is written (the local
    #: backend), so the monitor's copy of a log whose .done it has listed is final.
    #: faasr-py writes invoker lines after .done: not there.
    logs_final_at_done = False
    #: key into faasr_easypy.monitor.platforms.START_GRACE when it differs from `platform`
    start_grace_key = None

    def trigger(self, invocation):
        """Start `invocation` (its entry action); return at once. Raise BackendError if refused."""
        raise NotImplementedError

    def cancel(self, invocation):
        """Stop whatever still runs for `invocation`, where the platform allows it."""

    def close(self):
        """Release everything the backend started (processes, threads, sessions)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def without_run(queue, run):
    """Cancelling `run` on a backend that queues (run, ...) items: the queue without them,
    and how many were dropped."""
    kept = deque(item for item in queue if item[0] is not run)
    return kept, len(queue) - len(kept)
