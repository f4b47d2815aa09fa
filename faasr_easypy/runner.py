"""Run one FaaSr invocation and watch it through S3 only.

    runner = WorkflowRunner(workflow, backend, data_store, timeout=120)
    with runner:                      # triggers, starts the one monitor thread
        runner.wait()
        print(runner.get_function_statuses())

    # or placed by a testbed, as `pyats run job --testbed-file` does (the runner then
    # makes the backend, and starts the embedded S3 server if the testbed asks for it)
    with WorkflowRunner.from_testbed("workflow.json", "testbeds/local.yaml", functions="functions/") as runner:
        runner.wait()

`workflow` is a Workflow or the path of its JSON file; options are keyword-only, and
those not given come from faasr_easypy/defaults.py (a testbed's settings first).
`close()` (or leaving the `with` block) stops everything the runner started.

The runner fixes the InvocationID and timestamp before triggering, so it
knows the S3 folder in advance; it never asks the backend how things went,
so the same code watches a local run and a run on GitHub Actions or Lambda.
Many runners can share one monitor thread (see MultiRunner).
"""

import contextlib
import logging
import os
import signal
import sys
import threading
import time

from ._deprecation import renamed_keyword, warn_deprecated
from .defaults import setting
from .invocation import Invocation
from .monitor.watch import InvocationMonitor, MonitorLoop
from .s3.client import shared_client

log = logging.getLogger(__name__)

def monitor_client(data_store):
    """A boto3 client for monitoring: no hidden retries (the poller backs off itself)
    and short timeouts, so one tick stays bounded."""
    return shared_client(data_store, max_attempts=1, connect_timeout=2, read_timeout=10)


def masked_print(data_store):
    """The default printer of streamed log lines: print(), every credential masked (the
    environment's and the data store's keys, which a function may print)."""
    from .redact import Redactor

    redactor = Redactor([getattr(data_store, "access_key", None), getattr(data_store, "secret_key", None)])
    return lambda line: print(redactor.redact(line))


#: names of the signals (SIGTERM) a runner turned into SystemExit in this process, in order
TERMINATED = []


class WorkflowRunner:
    def __init__(self, workflow, backend, data_store=None, *, timeout=None, check_interval=None,
                 stream_logs=False, inactivity_timeout=None, invocation=None,
                 on_status_change=None, log_printer=None, grace_period=None,
                 client=None, loop=None, overrides=None, functions=None, clock=time.monotonic, s3_server=None,
                 **deprecated):
        """`backend` is a Backend and `data_store` the DataStore it logs to. (A testbed in
        place of the backend still works, deprecated: use WorkflowRunner.from_testbed.)

        overrides: {action: {key: value}} replacing the workflow's Arguments for this run.
        clock: the monitor's (and its own loop's) monotonic clock; tests inject one.
        s3_server: what tells whether the run's S3 server died (`death()`: an EmbeddedS3Server,
        found by itself when this process started the data store's server); wait() ends with an
        S3Error naming it if it dies, instead of letting every action run into the timeout."""
        overrides = renamed_keyword(deprecated, "argument_overrides", "overrides", overrides, "WorkflowRunner")
        self.workflow = workflow = _as_workflow(workflow)
        # What the runner started for a testbed (from_testbed has placed it already).
        self._owned = getattr(self, "_owned", None) or contextlib.ExitStack()
        self._testbed = getattr(self, "_testbed", None)
        self.s3_server = s3_server or getattr(self, "s3_server", None)  # _place may have set it
        if _is_testbed(backend):
            warn_deprecated("WorkflowRunner(workflow, testbed) is deprecated: use "
                            "WorkflowRunner.from_testbed(workflow, testbed, functions=...)")
            if data_store is not None:
                raise TypeError("WorkflowRunner: a testbed says where the data stores are; "
                                "pass no data_store with it")
            backend, data_store = self._place(backend, functions)
        elif data_store is None:
            raise TypeError("WorkflowRunner needs the data_store the backend logs to, "
                            "or use WorkflowRunner.from_testbed(workflow, testbed)")
        self.backend = backend
        self.data_store = data_store
        if self.s3_server is None:  # an embedded server this process runs: watch it too
            from .s3.server import own_server

            self.s3_server = own_server(getattr(data_store, "endpoint", None))
        self.timeout = timeout = setting("timeout", timeout, self._testbed)
        self.check_interval = check_interval = setting("check_interval", check_interval, self._testbed)
        self.invocation = invocation or Invocation(workflow, argument_overrides=overrides)
        self.client = client or monitor_client(data_store)
        if grace_period is None and getattr(backend, "logs_final_at_done", False):
            # The grace waits for invoker lines a platform writes after .done; this backend
            # writes none (its log is final before .done), so the one more tick the monitor
            # requires anyway is enough: a finished run is seen ~0.2 s sooner.
            grace_period = 0.5 * check_interval
        # A backend that watches its platform's jobs (SLURM) learns which are this run's from the logs
        follow = getattr(backend, "follow_invocation", None)
        on_log_line = follow(self.invocation, data_store, check_interval) if follow else None
        self.monitor = InvocationMonitor(
            self.invocation, self.client, data_store.bucket, check_interval=check_interval,
            grace_period=grace_period, timeout=timeout, inactivity_timeout=inactivity_timeout,
            stream_logs=stream_logs, log_printer=log_printer or masked_print(data_store),
            on_status_change=on_status_change,
            on_expire=self._expired, clock=clock, on_log_line=on_log_line,
            platform=getattr(backend, "start_grace_key", None) or getattr(backend, "platform", None),
            s3_death=self.s3_server.death if self.s3_server is not None else None)
        self._own_loop = loop is None
        self.loop = loop or MonitorLoop(name=f"faasr-monitor-{self.invocation.invocation_id[:8]}",
                                        stop_when_idle=True, clock=clock)
        self.started = False
        self.triggered_at = None  # wall time (epoch) of the trigger, for timelines
        self.stopped = False
        self._cancelled = False
        self._lock = threading.Lock()
        self._old_handlers = None
        self._reraise = False

    @classmethod
    def from_testbed(cls, workflow, testbed, *, functions=None, **options):
        """A runner whose backend and data stores the testbed (a FaasrTestbed or the path of a
        testbed YAML file) gives, as `pyats run job --testbed-file` places workflows; it starts
        the embedded S3 server if the testbed asks for one, and close() stops what it started.
        functions: the functions folder (default functions/<WorkflowName> beside the workflow
        file). The testbed's Timeout, CheckInterval and ActionTimeout win over the defaults."""
        self = cls.__new__(cls)
        self._owned, self._testbed = contextlib.ExitStack(), None
        self.workflow = workflow = _as_workflow(workflow)
        backend, data_store = self._place(testbed, functions, options.pop("action_timeout", None))
        try:
            self.__init__(workflow, backend, data_store, functions=functions, **options)
        except BaseException:
            self._owned.close()
            raise
        return self

    def _place(self, testbed, functions, action_timeout=None):
        from .environment import start_s3
        from .function_check import check_before_run
        from .function_source import functions_dir
        from .placement.place import placed

        testbed = _as_testbed(testbed)
        testbed.check_available()
        self._testbed = testbed
        if functions is None:
            functions = functions_dir(self.workflow, self.workflow.source)
        # Before S3 starts: a missing function or package fails here, not after the trigger.
        check_before_run(self.workflow, functions, testbed=testbed,
                         fix_folder="put the workflow's Python files there, or pass functions=DIR.")
        embedded = None
        if testbed.needs_embedded_s3:
            embedded = start_s3()
            self._owned.callback(embedded.close)
            self.s3_server = embedded.server
        try:
            return self._owned.enter_context(placed(
                self.workflow, testbed, functions, embedded_s3=embedded,
                fix="put the workflow's Python files there, or pass functions=DIR.",
                action_timeout=action_timeout))
        except BaseException:
            self._owned.close()
            raise

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
        """Block until monitoring is complete; False if `timeout` passed first or it was stopped.
        Raises S3Error when the S3 server the run depends on (s3_server) died."""
        if not self.started:
            raise RuntimeError("WorkflowRunner.wait() before start(): call start() or use `with runner:`")
        self.monitor.wait(timeout=timeout)
        if self.s3_lost:
            from .errors import S3Error

            raise S3Error(self.s3_lost)
        return self.monitor.complete

    @property
    def s3_lost(self):
        """One paragraph on why the run could not be watched to its end (its S3 server died,
        or its disk is full), or None. The monitor noticed it and gave up at once, instead of at the timeout."""
        death = self.monitor.s3_lost
        if not death:
            return None
        return (f"The run of {self.workflow.name} was stopped because {death}. Without its S3 the "
                "run can neither go on nor be watched, so the actions still running were cancelled and "
                "their statuses are unknown.")

    def wait_until(self, predicate, timeout=None):
        """Block until predicate(machine) holds (under the monitor lock) or monitoring ends."""
        return self.monitor.wait(lambda: predicate(self.monitor.machine), timeout=timeout)

    def close(self, timeout=10.0):
        """Stop monitoring (waiting up to `timeout` for the monitor thread; 0: not at all),
        cancel whatever still runs for this invocation, and stop what the runner started
        for a testbed (its backend, the embedded S3 server; S3 is unreachable afterwards).
        Safe to call twice; leaving `with runner:` calls it."""
        try:
            self._stop(timeout)
        finally:
            self._owned.close()

    def _stop(self, timeout=10.0, why="shut down"):
        """Stop monitoring and cancel the invocation; what the runner owns stays up."""
        if self.stopped:
            return
        self.stopped = True
        self.monitor.stop(why)
        if self._own_loop:
            self.loop.stop(timeout)
        else:
            self.loop.remove(self.monitor)
        self._cancel()
        self.restore_signal_handlers()

    def shutdown(self, timeout=10.0):
        """Deprecated: close(timeout)."""
        warn_deprecated("WorkflowRunner.shutdown() is deprecated: use close() (or a with block)")
        self._stop(timeout)

    def force_shutdown(self):
        """Deprecated: close(timeout=0)."""
        warn_deprecated("WorkflowRunner.force_shutdown() is deprecated: use close(timeout=0)")
        self._stop(0, "force shut down")

    def cleanup(self, include_outputs=False):
        """Deprecated name of delete_data()."""
        warn_deprecated("WorkflowRunner.cleanup() is deprecated: use delete_data()")
        return self.delete_data(include_outputs)

    def delete_data(self, include_outputs=False):
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
        # Timed out or S3 lost: nothing of this invocation is worth running any more.
        self._cancel()

    # -- signals -------------------------------------------------------------------
    def install_signal_handlers(self, reraise=False, only_unclaimed=False):
        """Make Ctrl-C / SIGTERM shut this runner down gracefully (monitor thread joined,
        invocation cancelled); a second Ctrl-C interrupts as usual. Only possible in the
        main thread: returns False elsewhere (or when no signal was taken).

        reraise: after the shutdown, raise KeyboardInterrupt (SIGINT) or SystemExit(143)
        (SIGTERM), so the program still stops as the user asked, with nothing left running.
        only_unclaimed: take a signal only while its handler is Python's default, leaving
        those a program (pyATS, the CLI, a task) set for itself alone."""
        if threading.current_thread() is not threading.main_thread():
            return False
        defaults = {signal.SIGINT: (signal.default_int_handler,), signal.SIGTERM: (signal.SIG_DFL, None)}
        old = {}
        for sig, default in defaults.items():
            if only_unclaimed and signal.getsignal(sig) not in default:
                continue
            old[sig] = signal.signal(sig, self._on_signal)
        self._old_handlers = old or None
        self._reraise = reraise
        return bool(old)

    def restore_signal_handlers(self):
        old, self._old_handlers = self._old_handlers, None
        if old and threading.current_thread() is threading.main_thread():
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum, frame):
        log.warning("%s: stopping the monitor and cancelling invocation %s",
                    signal.Signals(signum).name, self.invocation_id)
        self.restore_signal_handlers()  # a second Ctrl-C interrupts for real
        self._stop(timeout=5.0)
        if self._reraise:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            # A program that takes this SystemExit for one failure (pytest: a failed test, then
            # the next one) must still end: its runner (faasr_easypy.pytest_plugin) asks here.
            TERMINATED.append(signal.Signals(signum).name)
            raise SystemExit(128 + signum)

    # -- context manager -----------------------------------------------------------
    def __enter__(self):
        # In a `with` block Ctrl-C / SIGTERM stop the run cleanly, unless the program
        # handles those signals itself.
        self.install_signal_handlers(reraise=True, only_unclaimed=True)
        try:
            return self.start()
        except BaseException:
            self.restore_signal_handlers()
            raise

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"WorkflowRunner({self.workflow.name!r}, {self.invocation_id!r})"


def _as_testbed(testbed):
    """A FaasrTestbed from one or from the path of its YAML file."""
    from .placement.model import FaasrTestbed
    from .placement.testbed_file import load_file

    return testbed if isinstance(testbed, FaasrTestbed) else load_file(testbed)


def _as_workflow(workflow):
    """A Workflow, given one or the path of its JSON file."""
    from .workflow import Workflow, load_workflow

    return workflow if isinstance(workflow, Workflow) else load_workflow(workflow)


def _is_testbed(backend):
    if isinstance(backend, (str, os.PathLike)):
        return True
    # A FaasrTestbed exists only once its module is loaded: no need to load placement (and YAML) to ask.
    model = sys.modules.get("faasr_easypy.placement.model")
    return model is not None and isinstance(backend, model.FaasrTestbed)


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

    def close(self, timeout=10.0):
        """Close every runner, then stop the shared loop."""
        for runner in self.runners:
            runner.close(timeout)
        self.loop.stop(timeout)

    def shutdown(self, timeout=10.0):
        """Deprecated: close(timeout)."""
        warn_deprecated("MultiRunner.shutdown() is deprecated: use close() (or a with block)")
        self.close(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def delete_prefix(client, bucket, prefix):
    """Delete every object under `prefix`; return how many."""
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
            count += len(keys[i:i + 1000])
    return count
