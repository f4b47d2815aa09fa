"""The live status table of `faasr-easypy run`.

On a terminal, one line per function instance, redrawn in place (ANSI cursor
movement) whenever a status changes; streamed log lines are printed above it.
Elsewhere (a pipe, CI), one plain line per status change instead, so logs stay
readable.
"""

import sys
import threading
import time

from .layout import instance_label
from .monitor.statuses import Status

_COLOURS = {Status.COMPLETED: "32", Status.FAILED: "31", Status.TIMEOUT: "31", Status.SKIPPED: "33",
            Status.NOT_INVOKED: "90", Status.RUNNING: "36", Status.INVOKED: "34", Status.PENDING: "37"}


class StatusTable:
    def __init__(self, workflow, stream=None, live=None):
        self.workflow = workflow
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.labels = [label for action in workflow.topological_order()
                       for label in _labels(workflow, action)]
        self.states = {}
        self.width = max((len(label) for label in self.labels), default=10) + 2
        self._drawn = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()

    # -- callbacks for WorkflowRunner ----------------------------------------------
    def on_status_change(self, state, previous=None):
        with self._lock:
            self.states[state.label] = state
            if self.live:
                self._redraw()
            else:
                reason = f" ({state.reason})" if state.reason else ""
                self._write(f"[{time.monotonic() - self._started:7.2f}s] {state.label:<{self.width}}"
                            f"{state.status.value}{reason}\n")

    def print_log(self, line):
        with self._lock:
            if self.live:
                self._erase()
            self._write(line.rstrip("\n") + "\n")
            if self.live:
                self._redraw()

    # -- drawing ----------------------------------------------------------------------
    def _erase(self):
        if self._drawn:
            self._write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self):
        self._erase()
        lines = [self._row(label) for label in self.labels]
        self._write("".join(line + "\n" for line in lines))
        self._drawn = len(lines)

    def _row(self, label):
        state = self.states.get(label)
        status = state.status if state else Status.PENDING
        text = f"  {label:<{self.width}}\x1b[{_COLOURS[status]}m{status.value:<12}\x1b[0m"
        if state and state.reason:
            text += f" {state.reason[:100]}"
        return text

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


def _labels(workflow, action):
    return [instance_label(a, r) for a, r in workflow.instances(action)]
