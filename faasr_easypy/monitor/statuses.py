"""What the monitor says about each function instance of an invocation.

An *instance* is one run of an action: `name`, or `name(3)` for rank 3 of a
ranked action. docs/STATUSES.md describes how an instance moves between these
statuses; faasr_easypy.monitor.state_machine implements it.
"""

import copy
from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    PENDING = "PENDING"          # nothing seen yet, may still run
    INVOKED = "INVOKED"          # an invoker's log (or the harness) says it was triggered
    RUNNING = "RUNNING"          # its log exists, no .done and no ERROR yet
    COMPLETED = "COMPLETED"      # .done and no ERROR line
    FAILED = "FAILED"            # an ERROR line in its log, .done or not
    NOT_INVOKED = "NOT_INVOKED"  # its predecessors finished without triggering it
    SKIPPED = "SKIPPED"          # cannot run: something upstream failed, timed out or was skipped
    TIMEOUT = "TIMEOUT"          # the monitor gave up waiting for it

    @property
    def is_final(self):
        return self in FINAL_STATUSES

    @property
    def is_success(self):
        return self is Status.COMPLETED

    def __str__(self):
        return self.value


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.NOT_INVOKED,
                            Status.SKIPPED, Status.TIMEOUT})
# Statuses that stop everything downstream that has not been triggered yet.
BLOCKING_STATUSES = frozenset({Status.FAILED, Status.TIMEOUT, Status.SKIPPED})


def is_final(status):
    """True when `status` (a Status or its name) will not change any more on its own."""
    return Status(status) in FINAL_STATUSES


@dataclass
class FunctionState:
    """The monitor's view of one instance. Snapshots are copies: safe to keep."""

    action: str
    rank: int | None
    label: str
    status: Status = Status.PENDING
    reason: str = ""
    log_key: str = ""
    first_seen: float | None = None   # monitor clock (monotonic) of the first fact about it
    started_at: float | None = None   # monitor clock when its log was first seen
    ended_at: float | None = None     # monitor clock when it reached a final status
    error_lines: list[str] = field(default_factory=list)   # one entry per ERROR message
    last_lines: list[str] = field(default_factory=list)    # tail of its log, physical lines
    invoked_by: list[str] = field(default_factory=list)    # labels of the instances that triggered it
    log_seconds: float | None = None  # largest "[elapsed]" in its log: run time as the runtime saw it
    done: bool = False                   # its .done file exists
    settled: bool = False                # final, and no late S3 fact can change it any more

    @property
    def is_final(self):
        return self.status.is_final

    def __eq__(self, other):
        # `tester.wait_for("x") == Status.COMPLETED`, as FaaSr-Integration-Tests compares
        # its FunctionStatus; two states compare field by field.
        if isinstance(other, (Status, str)):
            return self.status == other
        if isinstance(other, FunctionState):
            return vars(self) == vars(other)
        return NotImplemented

    __hash__ = None

    def copy(self):
        # Only the lists are mutable: copying them is a deep copy (deepcopy was ~1 ms per
        # instance, and status snapshots are taken many times per tick).
        clone = copy.copy(self)
        clone.error_lines = list(self.error_lines)
        clone.last_lines = list(self.last_lines)
        clone.invoked_by = list(self.invoked_by)
        return clone

    def summary(self):
        """One line for people: `work(2): FAILED (The function raised ValueError: boom)`."""
        return f"{self.label}: {self.status.value}" + (f" ({self.reason})" if self.reason else "")
