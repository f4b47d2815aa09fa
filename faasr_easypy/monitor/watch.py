"""Watching invocations: one InvocationMonitor per invocation, one loop for all.

An :class:`InvocationMonitor` joins a poller (S3 -> facts) and a state machine
(facts -> statuses) and adds the clocks: the overall deadline and the
inactivity timeout. It has no thread of its own: a :class:`MonitorLoop` ticks
any number of monitors from one thread, each at its own check interval (with a
few tick workers when it watches several), so one process can watch dozens of
invocations without a thread per function or per invocation.
"""

import logging
import queue
import threading
import time

from ..layout import InvocationLayout
from .poller import S3Poller
from .state_machine import InvocationStateMachine

log = logging.getLogger(__name__)

#: after a tick that took t seconds, the next one starts no sooner than BUSY_FACTOR * t later
BUSY_FACTOR = 2.0


class InvocationMonitor:
    """Statuses of one invocation, advanced by tick(). Thread-safe for readers."""

    def __init__(self, invocation, client, bucket, check_interval=1.0, grace_period=None,
                 timeout=None, inactivity_timeout=None, stream_logs=False, log_printer=print,
                 on_status_change=None, on_expire=None, tick_budget=None, clock=time.monotonic,
                 platform=None, on_log_line=None, s3_death=None):
        """on_log_line(action, rank, line): every complete log line read (replays included), for a
        backend that learns from them (SLURM: its successors' job ids); called under the lock."""
        self.invocation = invocation
        self.layout = getattr(invocation, "layout", None) or InvocationLayout.for_invocation(invocation)
        self.check_interval = float(check_interval)
        # ~1.5 check intervals: at least one more tick re-reads the invoker's log after .done.
        self.grace_period = 1.5 * self.check_interval if grace_period is None else float(grace_period)
        self.timeout = timeout
        self.inactivity_timeout = inactivity_timeout
        self.stream_logs = stream_logs
        self.log_printer = log_printer
        self.on_status_change = on_status_change
        self.on_expire = on_expire
        # on_expire(monitor, reason): the watch gave up (timeout, inactivity, S3 lost)
        # s3_death(): why the S3 server the invocation lives on can no longer serve it (its
        # process died, its disk is full), or None; asked every tick (it must be cheap), so
        # that ends the watch within a check interval, not at the timeout
        self.s3_death = s3_death
        self.on_log_line = on_log_line
        self.clock = clock
        budget = tick_budget if tick_budget is not None else max(0.5, 2 * self.check_interval)
        # Streaming wants every flush at once; otherwise a running log is read once it goes
        # quiet, or every `refresh` while it keeps growing (see S3Poller).
        refresh = 0.0 if stream_logs else max(10.0, 20 * self.check_interval)
        self.poller = S3Poller(client, bucket, self.layout, tick_budget=budget, clock=clock,
                               log_refresh=refresh)
        self.machine = InvocationStateMachine(invocation.workflow, self.layout, self.grace_period, clock=clock,
                                              platform=platform)
        self.machine.log_is_read = self._log_is_read
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)   # notified after every tick
        self.started_at = None
        self.deadline = None
        self.last_change = None
        self.next_due = 0.0
        self.finished = False        # complete, expired or stopped: no more ticks
        self.complete = False        # every instance settled in a final status
        self.expired_reason = None
        self.stop_reason = None
        self.s3_lost = None          # s3_death()'s answer once it had one
        self.tick_count = 0
        self.tick_seconds = 0.0      # total time spent in tick(); benchmarks read it
        self._bug_logged = False

    # -- control -------------------------------------------------------------------
    def begin(self):
        """Start the clocks (call when the invocation is triggered)."""
        now = self.clock()
        with self.lock:
            self.started_at = self.last_change = now
            self.deadline = now + self.timeout if self.timeout else None
            self.next_due = now

    def mark_entry_invoked(self):
        with self.lock:
            self.machine.mark_entry_invoked()
            changes = self.machine.evaluate()
            self.machine.refresh_details()
        self._emit([], changes)

    def stop(self, reason="stopped"):
        with self.lock:
            if not self.finished:
                self.finished = True
                self.stop_reason = reason
            self.changed.notify_all()

    # -- reading -------------------------------------------------------------------
    def snapshot(self):
        with self.lock:
            return self.machine.snapshot()

    @property
    def s3_error(self):
        """The last S3 error while it lasts (None once S3 answers again)."""
        return self.poller.last_error

    def wait(self, predicate=None, timeout=None):
        """Block until predicate() holds, monitoring finished, or timeout; return predicate().

        The default predicate is "finished". predicate() runs under the monitor's lock.
        """
        check = predicate or (lambda: self.finished)
        end = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while not (check() or self.finished):
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self.changed.wait(1.0 if remaining is None else min(remaining, 1.0))
            return bool(check())

    # -- the tick ------------------------------------------------------------------
    def tick(self):
        """Poll S3 once (unless backing off), update statuses, apply the clocks."""
        if self.finished:
            return
        started = self.clock()
        if self.started_at is None:
            self.begin()
        result = self.poller.poll() if self.poller.due(started) else None
        death = self._s3_death()
        lines = []
        expired = None
        with self.lock:
            if self.finished:  # stopped while we were polling
                return
            now = self.clock()
            if result is not None:
                self._apply(result, lines)
            if death:
                changes, expired = self._lose(death, lines), death
            else:
                changes, expired = self._advance(result, now, lines)
            self.tick_count += 1
            self.tick_seconds += self.clock() - started
            self.changed.notify_all()
        self._emit(lines, changes)
        if expired and self.on_expire:
            self._call(self.on_expire, self, expired)

    def _advance(self, result, now, lines):
        """Statuses after a tick in which S3 is there (or only briefly away), and the clocks."""
        # Inactivity counts only time in which S3 answered and nothing changed:
        # an S3 outage (including its backoff pauses) is not a silent workflow.
        if (result is not None and result.changed) or self.poller.failures:
            self.last_change = now
        changes = self.machine.evaluate()
        expired = None
        if self.deadline is not None and now >= self.deadline:
            expired = f"no final status within the {self.timeout:g} s timeout"
        elif self.inactivity_timeout and now - self.last_change >= self.inactivity_timeout:
            expired = f"nothing changed in S3 for {self.inactivity_timeout:g} s"
        if expired and not self.machine.complete:
            self._flush_partials(lines, force=True)
            changes += self.machine.evaluate()
            changes += self.machine.expire(expired)
            self.expired_reason = expired
            self.complete = self.finished = True  # every instance is final now
        else:
            expired = None
        self.machine.refresh_details()
        if self.machine.complete:
            self.complete = self.finished = True
        return changes, expired

    def _lose(self, death, lines):
        """The S3 server is gone for good: nothing more can be learned, so the watch ends now
        (not at the timeout) and what is not final says why its status is unknown."""
        self._flush_partials(lines, force=True)
        changes = self.machine.lose(f"status unknown: {death}")
        self.s3_lost, self.stop_reason = death, f"stopped: {death}"
        self.finished = True
        self.machine.refresh_details()
        return changes

    def _s3_death(self):
        if self.s3_death is None:
            return None
        try:
            return self.s3_death()
        except Exception:  # a broken check must not stop the watch
            log.exception("checking the S3 server failed")
            return None

    def _apply(self, result, lines):
        machine = self.machine
        for info in result.new_keys:
            machine.observe_key(info)
        for info in result.resets:
            machine.reset_log(info)
        for info, text, replayed in result.lines:
            self._observe_line(info, text)
            if self.stream_logs and not replayed:
                lines.append(f"[{_label(info)}] {text}")
        self._flush_partials(lines)
        if result.ok:
            machine.tick_done()

    def _flush_partials(self, lines, force=False):
        """Complete unfinished last lines of logs whose writer has finished."""
        now = self.clock()
        for log_key in self.poller.partial_keys():
            info = self.poller.objects[log_key].info
            inst = self.machine.get(info.action, info.rank)
            if inst is None or not self.poller.log_is_current(log_key):
                continue
            quiet = inst.changed_at is not None and now - inst.changed_at >= self.grace_period
            if force or (inst.final_at is not None and quiet):
                for info, text, replayed in self.poller.flush_partial(log_key):
                    self._observe_line(info, text)
                    if self.stream_logs and not replayed:
                        lines.append(f"[{_label(info)}] {text}")

    def _observe_line(self, info, text):
        self.machine.observe_line(info, text)
        if self.on_log_line:
            self._call(self.on_log_line, info.action, info.rank, text)

    def _log_is_read(self, key):
        log_key = self.layout.log_key(*key)
        return self.poller.log_is_current(log_key) and not self.poller.has_partial(log_key)

    def _emit(self, lines, changes):
        for line in lines:
            self._call(self.log_printer, line)
        if self.on_status_change:
            for state, previous in changes:
                self._call(self.on_status_change, state, previous)

    def _call(self, fn, *args):
        # A user callback that raises must not stop the monitoring of everything else.
        try:
            fn(*args)
        except Exception:
            log.exception("callback %r raised; monitoring goes on", fn)


def _label(info):
    return f"{info.action}({info.rank})" if info.rank is not None else info.action


class MonitorLoop:
    """One thread ticking many InvocationMonitors, each at its own check interval.

    With `workers` > 0 the ticks themselves run on that many worker threads, so one
    invocation whose S3 is slow or unreachable (a tick may wait for the client's
    timeouts) never delays the others; a monitor is never ticked twice at once. With
    0 (one runner, one monitor) the loop thread ticks inline.
    """

    def __init__(self, name="faasr-easypy-monitor", stop_when_idle=False, clock=time.monotonic, workers=0):
        self.name = name
        self.stop_when_idle = stop_when_idle
        self.clock = clock
        self.workers = int(workers)
        self._monitors = []
        self._in_flight = set()      # monitors handed to a worker and not back yet
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = None
        self._queue = queue.SimpleQueue()
        self._worker_threads = []

    def add(self, monitor):
        with self._lock:
            if monitor.started_at is None:
                monitor.begin()
            monitor.next_due = self.clock()
            self._monitors.append(monitor)
        self._ensure_thread()
        self._wake.set()

    def remove(self, monitor):
        with self._lock:
            if monitor in self._monitors:
                self._monitors.remove(monitor)
        self._wake.set()

    @property
    def monitors(self):
        with self._lock:
            return list(self._monitors)

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout=None):
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        workers, self._worker_threads = self._worker_threads, []
        for _ in workers:
            self._queue.put(None)
        end = None if timeout is None else time.monotonic() + timeout
        for worker in workers:
            worker.join(None if end is None else max(0.0, end - time.monotonic()))
        return (thread is None or not thread.is_alive()) and not any(w.is_alive() for w in workers)

    def _ensure_thread(self):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            while len(self._worker_threads) < self.workers:
                worker = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self.name}-worker-{len(self._worker_threads)}")
                worker.start()
                self._worker_threads.append(worker)

    def _run(self):
        while not self._stopping:
            self._wake.clear()  # before scanning: an add() or a finished tick wakes the wait below
            now = self.clock()
            for monitor in self.monitors:
                if self._stopping:
                    return
                if monitor.finished:
                    self.remove(monitor)
                    continue
                with self._lock:
                    if monitor.next_due > now or monitor in self._in_flight:
                        continue
                    if self.workers:
                        self._in_flight.add(monitor)
                if self.workers:
                    self._queue.put(monitor)
                else:
                    self._tick(monitor)
            with self._lock:
                if not self._monitors and self.stop_when_idle:
                    self._thread = None
                    return
                wait = min((m.next_due for m in self._monitors if m not in self._in_flight), default=None)
            self._wake.wait(None if wait is None else max(0.0, wait - self.clock()))

    def _work(self):
        while True:
            monitor = self._queue.get()
            if monitor is None:
                return
            try:
                self._tick(monitor)
            finally:
                with self._lock:
                    self._in_flight.discard(monitor)
                self._wake.set()

    def _tick(self, monitor):
        started = self.clock()
        try:
            monitor.tick()
        except Exception:  # a bug: keep watching the other invocations
            if not monitor._bug_logged:
                log.exception("monitor of %r failed", monitor.invocation)
                monitor._bug_logged = True
        # Fixed rate keeps detection latency near one interval; never build a backlog. A tick
        # that took long (a folder of 2,000 keys: one LIST costs ~0.25 s here and as much CPU
        # in the S3 server) waits BUSY_FACTOR times as long, so watching never takes more
        # than a third of the time from the functions it watches.
        now = self.clock()
        monitor.next_due = max(monitor.next_due + monitor.check_interval, now + BUSY_FACTOR * (now - started))
        if monitor.finished:
            self.remove(monitor)
