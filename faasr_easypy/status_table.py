"""The live status table of `faasr-easypy run`.

On a terminal: a `rich` live table, redrawn in place a few times a second and on
every status change. Each row is one function instance cut to one line at any
width (no row ever wraps into stacked copies): its status, elapsed time (still
counting while it runs) and, while it runs, the last line of its log (its reason
once it ended). A header counts done/total. Streamed log lines print above it.

Elsewhere (a pipe, CI): no redrawing, one plain line per status change with the
time since the start and the done/total counter, so logs stay readable.
"""

import sys
import threading
import time

from .layout import instance_label
from .monitor.statuses import Status

STYLES = {Status.COMPLETED: "green", Status.FAILED: "bold red", Status.TIMEOUT: "bold red",
          Status.SKIPPED: "yellow", Status.NOT_INVOKED: "bright_black", Status.RUNNING: "cyan",
          Status.INVOKED: "blue", Status.PENDING: "white"}
REFRESH_PER_SECOND = 4


class StatusTable:
    """Use as a context manager around the run: the live display starts and stops with it.

    `states` (a callable returning {label: FunctionState}, e.g. runner.get_function_statuses)
    lets the live table show log lines and elapsed times between status changes."""

    def __init__(self, workflow, stream=None, live=None, states=None, clock=time.monotonic):
        self.workflow = workflow
        self.stream = stream or sys.stdout
        self.live = _isatty(self.stream) if live is None else live
        self.labels = [label for action in workflow.topological_order()
                       for label in _labels(workflow, action)]
        self.states = {}
        self._final = 0  # how many of `states` are final, counted as they change (1,000 rows: no recount)
        self.width = max((len(label) for label in self.labels), default=10) + 2
        self._source = states
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._live = None
        self._console = None

    # -- lifetime ----------------------------------------------------------------------
    def start(self):
        if self.live and self._live is None:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream, force_terminal=True, highlight=False, soft_wrap=False)
            self._live = Live(console=self._console, get_renderable=self._render, auto_refresh=True,
                              refresh_per_second=REFRESH_PER_SECOND, transient=False,
                              redirect_stdout=False, redirect_stderr=False, vertical_overflow="ellipsis")
            self._live.start()
        return self

    def stop(self):
        live, self._live = self._live, None
        if live is not None:
            live.stop()  # draws the final state once more and leaves it on the screen

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def follow(self, states):
        """Read live states from `states()` (runner.get_function_statuses) when redrawing."""
        self._source = states

    # -- callbacks for WorkflowRunner ----------------------------------------------------
    def on_status_change(self, state, previous=None):
        with self._lock:
            before = self.states.get(state.label)
            was_final = before is not None and before.status.is_final
            self._final += int(state.status.is_final) - int(was_final)
            self.states[state.label] = state
            if self._live is not None:
                self._live.refresh()
            elif not self.live:
                reason = f" ({state.reason})" if state.reason else ""
                self._write(f"[{self._clock() - self._started:7.2f}s] [{self._final}/{len(self.labels)}] "
                            f"{state.label:<{self.width}}{state.status.value}{reason}\n")

    def print_log(self, line):
        line = line.rstrip("\n")
        if self._live is not None:
            from rich.text import Text

            self._console.print(Text(line), overflow="fold")  # above the live table
        else:
            with self._lock:
                self._write(line + "\n")

    # -- drawing -----------------------------------------------------------------------
    def _current(self):
        states = dict(self.states)
        if self._source is not None:
            try:
                states.update(self._source())
            except Exception:  # a redraw must never break the run
                pass
        return states

    def _render(self):
        from rich.table import Table
        from rich.text import Text

        states = self._current()
        now = self._clock()
        done = sum(1 for label in self.labels if label in states and states[label].status.is_final)
        running = sum(1 for s in states.values() if s.status is Status.RUNNING)
        failed = sum(1 for s in states.values() if s.status in (Status.FAILED, Status.TIMEOUT))
        title = Text.assemble((f"{self.workflow.name}", "bold"), f"  {done}/{len(self.labels)} done",
                              f", {running} running" if running else "",
                              (f", {failed} failed", "bold red") if failed else "",
                              f"  {now - self._started:.1f} s")
        table = Table(title=title, title_justify="left", box=None, expand=False, pad_edge=False,
                      show_edge=False, padding=(0, 1))
        # The label keeps its width (up to 24) on a narrow terminal; the log line gives way first.
        table.add_column("function", no_wrap=True, overflow="ellipsis", min_width=min(self.width - 2, 24))
        table.add_column("status", no_wrap=True, min_width=11)
        table.add_column("elapsed", no_wrap=True, justify="right", min_width=7)
        table.add_column("last log line / reason", no_wrap=True, overflow="ellipsis", ratio=1)
        for label in self.labels:
            state = states.get(label)
            status = state.status if state else Status.PENDING
            table.add_row(label, Text(status.value, style=STYLES.get(status, "")), _elapsed(state, now),
                          Text(_detail(state), style="bright_black" if status is Status.RUNNING else ""))
        return table

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


def _elapsed(state, now):
    if state is None or state.started_at is None:
        return ""
    end = state.ended_at if state.ended_at is not None else now
    return f"{max(0.0, end - state.started_at):.1f}s"


def _detail(state):
    if state is None:
        return ""
    if state.status is Status.RUNNING and state.last_lines:
        return state.last_lines[-1].strip()
    return state.reason or ""


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _labels(workflow, action):
    return [instance_label(a, r) for a, r in workflow.instances(action)]
