"""What every compute backend offers: trigger an invocation, cancel it, close.

A backend only *starts* work. Everything that follows is seen through S3 by
the monitor, exactly as for a run on GitHub Actions or Lambda.
"""


class Backend:
    #: key into faasr_easypy.monitor.platforms: how this platform's invoker log lines read
    platform = "local"

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
