"""Run one FaaSr invocation and watch it through S3 only.

    runner = WorkflowRunner(workflow, backend, data_store, timeout=120)
    with runner:                      # triggers, starts the one monitor thread
        runner.wait()
        print(runner.get_function_statuses())

The runner fixes the InvocationID and timestamp before triggering, so it
knows the S3 folder in advance; it never asks the backend how things went,
so the same code watches a local run and a run on GitHub Actions or Lambda.
Many runners can share one monitor thread (see MultiRunner).
"""

import logging
import signal
import threading
import time

from .invocation import Invocation
from .monitor.watch import InvocationMonitor, MonitorLoop
from .s3.client import shared_client

log = logging.getLogger(__name__)


def monitor_client(data_store):
    """A boto3 client for monitoring: no hidden retries (the poller backs off itself)
    and short timeouts, so one tick stays bounded."""
    return shared_client(data_store, max_attempts=1, connect_timeout=2, read_timeout=10)


class WorkflowRunner:
    def __init__(self, workflow, backend, data_store, timeout=300, check_interval=1.0,
                 stream_logs=False, inactivity_timeout=None, invocation=None,
                 on_status_change=None, log_printer=print, grace_period=None,
                 client=None, loop=None, argument_overrides=None):
        self.workflow = workflow
        self.backend = backend
        self.data_store = data_store
        self.timeout = timeout
        self.check_interval = check_interval
        self.invocation = invocation or Invocation(workflow, argument_overrides=argument_overrides)
        self.client = client or monitor_client(data_store)
        self.monitor = InvocationMonitor(
            self.invocation, self.client, data_store.bucket, check_interval=check_interval,
            grace_period=grace_period, timeout=timeout, inactivity_timeout=inactivity_timeout,
            stream_logs=stream_logs, log_printer=log_printer, on_status_change=on_status_change,
            on_expire=self._expired)
        self._own_loop = loop is None
        self.loop = loop or MonitorLoop(name=f"faasr-monitor-{self.invocation.invocation_id[:8]}",
                                        stop_when_idle=True)
        self.started = False
        self.triggered_at = None  # wall time (epoch) of the trigger, for timelines
        self.stopped = False
        self._cancelled = False
        self._lock = threading.Lock()
        self._old_handlers = None

    # -- properties ----------------------------------------------------------------
    @property
    def invocation_id(self):
        return self.invocation.invocation_id

    @property
    def layout(self):
        return self.invocation.layout

    @property
    def monitoring_complete(self):
        """True when every function instance has a final status (or the run timed out)."""
        return self.monitor.complete

    @property
    def timed_out(self):
        return self.monitor.expired_reason is not None

    @property
    def s3_requests(self):
        return self.monitor.poller.requests

    @property
    def s3_bytes_downloaded(self):
        return self.monitor.poller.bytes_downloaded

    def final_log(self, key):
        """The complete body of log `key` as the monitor read it, when it can no longer
        change (see Backend.logs_final_at_done); else None: read it from S3."""
        if not key or not getattr(self.backend, "logs_final_at_done", False):
            return None
        return self.monitor.poller.held_log(key)

    def function_times(self):
        """{label: (start, end)} in epoch seconds, rebuilt from the logs' elapsed times."""
        from .monitor.timeline import reconstruct

        if self.triggered_at is None:
            return {}
        return reconstruct(self.workflow, self.get_function_statuses(), self.triggered_at)

    def get_function_statuses(self):
        """{label: FunctionState copy}, labels `name` or `name(rank)`; safe from any thread."""
        return self.monitor.snapshot()

    # -- lifecycle -----------------------------------------------------------------
    def start(self):
        """Trigger the entry action and start watching. Raises what the backend raises."""
        with self._lock:
            if self.started:
                return self
            self.started = True
        self.monitor.begin()
        self.triggered_at = time.time()
        try:
            self.backend.trigger(self.invocation)
        except BaseException as exc:
            self.monitor.stop(f"the backend could not trigger {self.workflow.entry}: {exc}")
            raise
        self.monitor.mark_entry_invoked()
        self.loop.add(self.monitor)
        return self

    def wait(self, timeout=None):
        """Block until monitoring is complete; False if `timeout` passed first or it was stopped."""
        if not self.started:
            raise RuntimeError("WorkflowRunner.wait() before start(): call start() or use `with runner:`")
        self.monitor.wait(timeout=timeout)
        return self.monitor.complete

    def wait_until(self, predicate, timeout=None):
        """Block until predicate(machine) holds (under the monitor lock) or monitoring ends."""
        return self.monitor.wait(lambda: predicate(self.monitor.machine), timeout=timeout)

    def shutdown(self, timeout=10.0):
        """Stop monitoring gracefully and cancel whatever still runs for this invocation."""
        if self.stopped:
            return
        self.stopped = True
        self.monitor.stop("shut down")
        if self._own_loop:
            self.loop.stop(timeout)
        else:
            self.loop.remove(self.monitor)
        self._cancel()
        self.restore_signal_handlers()

    def force_shutdown(self):
        """Stop at once: no waiting for the monitor thread (it is a daemon)."""
        self.stopped = True
        self.monitor.stop("force shut down")
        if self._own_loop:
            self.loop.stop(timeout=0)
        else:
            self.loop.remove(self.monitor)
        self._cancel()
        self.restore_signal_handlers()

    def cleanup(self, include_outputs=False):
        """Delete this invocation's S3 folder (and, with include_outputs, `<InvocationID>/...`).

        Returns the number of objects deleted.
        """
        prefixes = [self.layout.prefix]
        if include_outputs:
            prefixes.append(f"{self.invocation_id}/")
        return sum(delete_prefix(self.client, self.data_store.bucket, p) for p in prefixes)

    def _cancel(self):
        with self._lock:
            if self._cancelled or not self.started:
                return
            self._cancelled = True
        try:
            self.backend.cancel(self.invocation)
        except Exception:
            log.exception("cancelling %r failed", self.invocation)

    def _expired(self, monitor, reason):
        # Timed out: nothing of this invocation is worth running any more.
        self._cancel()

    # -- signals -------------------------------------------------------------------
    def install_signal_handlers(self):
        """Make Ctrl-C / SIGTERM shut this runner down gracefully; a second Ctrl-C
        interrupts as usual. Only possible in the main thread: returns False elsewhere."""
        if threading.current_thread() is not threading.main_thread():
            return False
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, self._on_signal)
        self._old_handlers = old
        return True

    def restore_signal_handlers(self):
        old, self._old_handlers = self._old_handlers, None
        if old and threading.current_thread() is threading.main_thread():
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum, frame):
        log.warning("%s: stopping the monitor and cancelling invocation %s",
                    signal.Signals(signum).name, self.invocation_id)
        self.restore_signal_handlers()  # a second Ctrl-C interrupts for real
        self.shutdown(timeout=5.0)

    # -- context manager -----------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()

    def __repr__(self):
        return f"WorkflowRunner({self.workflow.name!r}, {self.invocation_id!r})"


class MultiRunner:
    """Several runners watched by ONE loop (e.g. 50 concurrent invocations): one scheduling
    thread plus a few tick workers, so an invocation whose S3 hangs delays no other."""

    def __init__(self, runners=(), workers=4):
        self.loop = MonitorLoop(name="faasr-monitor-multi", workers=workers)
        self.runners = []
        for runner in runners:
            self.add(runner)

    def add(self, runner):
        """Adopt `runner` (before it starts): it will be ticked by this loop's thread."""
        if runner.started:
            raise RuntimeError("add runners to a MultiRunner before starting them")
        if runner._own_loop:
            runner.loop, runner._own_loop = self.loop, False
        self.runners.append(runner)
        return runner

    def start(self):
        for runner in self.runners:
            runner.start()
        return self

    def wait(self, timeout=None):
        """True when every runner's monitoring completed within `timeout`."""
        end = None if timeout is None else time.monotonic() + timeout
        for runner in self.runners:
            remaining = None if end is None else max(0.0, end - time.monotonic())
            if not runner.wait(remaining):
                return False
        return True

    def shutdown(self, timeout=10.0):
        for runner in self.runners:
            runner.shutdown(timeout)
        self.loop.stop(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()


def delete_prefix(client, bucket, prefix):
    """Delete every object under `prefix`; return how many."""
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
            count += len(keys[i:i + 1000])
    return count
