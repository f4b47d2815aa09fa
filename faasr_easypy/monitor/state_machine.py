"""Turn what S3 shows about an invocation into a status per function instance.

Facts come from the poller: a log key appeared, a .done key appeared, a log
line arrived. Statuses are re-derived from the facts on every evaluation, in
topological order, so a late fact (an ERROR line after .done, an invoker line
after .done) corrects an earlier answer instead of being lost. The rules, and
why, are in docs/STATUSES.md.

Inferred statuses (NOT_INVOKED, SKIPPED) need every predecessor instance to be
*settled*: final, its log fully read, re-read on at least one tick after it
became final, and quiet for a grace period. Real FaaSr may write invoker lines
after .done, so without the grace period a branch that was taken could be
reported as not invoked.
"""

import time
from collections import deque

from ..layout import instance_label, parse_log_line
from .platforms import parse_invocation, start_grace
from .statuses import BLOCKING_STATUSES, FunctionState, Status

TAIL_LINES = 20


class _Instance:
    """Facts about one instance plus its public FunctionState."""

    def __init__(self, action, rank, log_key):
        self.state = FunctionState(action=action, rank=rank, label=instance_label(action, rank),
                                   log_key=log_key)
        self.key = (action, rank)
        self.log_seen = False
        self.candidate = False         # a fan-in election key exists: it was triggered
        self.invoked_by = {}           # label -> True, insertion-ordered
        self.invokes = set()           # instance keys this instance's log says it triggered
        self.errors = []               # ERROR messages, continuation lines included
        self.tail = deque(maxlen=TAIL_LINES)
        self.in_error = False          # the last record was an ERROR (continuations join it)
        self.final_at = None           # monotonic time the first final fact was seen
        self.final_tick = None         # poller tick on which that happened
        self.changed_at = None         # monotonic time of the last new fact
        self.forced = None             # (Status, reason) once the monitor gave up on it
        self.final_since = None        # monotonic time its published status became final

    @property
    def label(self):
        return self.state.label


class InvocationStateMachine:
    """Statuses of every instance of one invocation. Not thread-safe: the caller locks."""

    def __init__(self, workflow, layout, grace_period=1.5, clock=time.monotonic, wall=time.time,
                 platform=None):
        self.workflow = workflow
        self.layout = layout
        self.grace_period = grace_period
        self.platform = platform
        # None: nothing below a blocked instance ever starts here; else seconds (platforms.py)
        self.start_grace = start_grace(platform)
        self.clock = clock
        self.wall = wall
        self.tick = 0                  # successful poller ticks applied so far
        self.lost = ""                 # why S3 can no longer be read (then nothing final is known)
        self.entry_invoked = False
        self.order = []                # instance keys, topologically
        self.instances = {}
        self._by_label = {}
        self._preds = {}
        for action in workflow.topological_order():
            preds = workflow.predecessor_instances(action)
            for key in workflow.instances(action):
                inst = _Instance(key[0], key[1], layout.log_key(*key))
                self.order.append(key)
                self.instances[key] = self._by_label[inst.label] = inst
                self._preds[key] = preds
        # is this log fully read (no bytes pending, no unfinished line)? set by the monitor
        self.log_is_read = lambda key: True

    # -- facts -------------------------------------------------------------------
    def get(self, action, rank):
        return self.instances.get((action, rank))

    def mark_entry_invoked(self):
        """The backend accepted the trigger of the entry action."""
        self.entry_invoked = True
        inst = self.instances[(self.workflow.entry, None)]
        self._touch(inst, self.clock())
        self._add_invoker(inst, "harness")

    def observe_key(self, info):
        """A key of kind log / done / candidate exists."""
        inst = self.get(info.action, info.rank)
        if inst is None:
            return  # not an instance of this workflow (or a rank it does not have)
        now = self.clock()
        self._touch(inst, now)
        if info.kind == "log" and not inst.log_seen:
            inst.log_seen = True
            inst.state.started_at = self.wall()
        elif info.kind == "done" and not inst.state.done:
            inst.state.done = True
            self._final_fact(inst, now)
        elif info.kind == "candidate":
            for key in self.order:
                if key[0] == info.action:
                    self.instances[key].candidate = True

    def observe_line(self, info, line):
        """One complete physical line of the log of (info.action, info.rank)."""
        inst = self.get(info.action, info.rank)
        if inst is None:
            return
        now = self.clock()
        self._touch(inst, now)
        inst.tail.append(line)
        parsed = parse_log_line(line)
        if parsed is None:
            # A continuation line (e.g. a traceback): part of the previous record.
            if inst.in_error and inst.errors:
                inst.errors[-1] += "\n" + line
            return
        elapsed, level, _file, message = parsed
        if inst.state.log_seconds is None or elapsed > inst.state.log_seconds:
            inst.state.log_seconds = elapsed  # lines may arrive out of order: keep the largest
        inst.in_error = level == "ERROR"
        if inst.in_error:
            inst.errors.append(message)
            self._final_fact(inst, now)
        target = parse_invocation(message)
        if target:
            for key in self._resolve(*target):
                inst.invokes.add(key)
                self._add_invoker(self.instances[key], inst.label)

    def reset_log(self, info):
        """The log was rewritten: forget what its old lines said; they are replayed next."""
        inst = self.get(info.action, info.rank)
        if inst is None:
            return
        inst.errors.clear()
        inst.tail.clear()
        inst.in_error = False
        for key in inst.invokes:
            self.instances[key].invoked_by.pop(inst.label, None)
        inst.invokes.clear()
        if not inst.state.done:
            inst.final_at = inst.final_tick = None

    def tick_done(self):
        """The poller finished a successful tick (every listed fact was applied)."""
        self.tick += 1

    # -- statuses ----------------------------------------------------------------
    def evaluate(self):
        """Re-derive every status; return [(FunctionState copy, previous Status)] that changed."""
        now = self.clock()
        changes = []
        for key in self.order:
            inst = self.instances[key]
            status, reason = self._derive(inst, now)
            if self.lost and not status.is_final:
                reason = self.lost
            self._publish(inst, status, reason, changes)
        return changes

    def lose(self, reason):
        """S3 is gone for good: every instance not final keeps its last status, with `reason`
        (not TIMEOUT: nobody can tell how it ends)."""
        self.lost = reason
        return self.evaluate()

    def expire(self, reason):
        """Give up: every instance not final becomes TIMEOUT, or SKIPPED below one that is."""
        changes = self.evaluate()
        for key in self.order:
            inst = self.instances[key]
            if inst.state.status.is_final:
                continue
            blocked = self._blocking_predecessor(inst)
            if inst.state.status is Status.PENDING and blocked:
                inst.forced = (Status.SKIPPED, f"upstream {blocked.label} is {blocked.state.status.value}")
            else:
                inst.forced = (Status.TIMEOUT, f"{reason} while {inst.state.status.value}")
            self._publish(inst, *inst.forced, changes)
        return changes

    def settled(self, inst, now=None):
        """Final and no late fact expected (see the module docstring)."""
        status = inst.state.status
        if not status.is_final:
            return False
        if inst.forced or status in (Status.NOT_INVOKED, Status.SKIPPED):
            return True  # inferred from settled facts, or given up on
        now = self.clock() if now is None else now
        return (inst.final_tick is not None and self.tick > inst.final_tick
                and now - max(inst.final_at, inst.changed_at) >= self.grace_period
                and self.log_is_read(inst.key))

    @property
    def complete(self):
        now = self.clock()
        return all(self.settled(self.instances[k], now) for k in self.order)

    def snapshot(self):
        return {self.instances[k].label: self.instances[k].state.copy() for k in self.order}

    def instance(self, label):
        return self._by_label.get(label)

    # -- internals ---------------------------------------------------------------
    def _derive(self, inst, now):
        if inst.forced:
            return inst.forced
        if inst.errors:
            return Status.FAILED, _summarize(inst.errors[0])
        if inst.state.done:
            return Status.COMPLETED, ""
        if inst.log_seen:
            return Status.RUNNING, ""
        blocked = self._blocked_for_good(inst, now)
        if blocked:
            return Status.SKIPPED, blocked
        if inst.invoked_by or inst.candidate:
            by = ", ".join(inst.invoked_by) or "a fan-in election"
            return Status.INVOKED, f"invoked by {by}"
        preds = [self.instances[k] for k in self._preds[inst.key]]
        if not preds:
            return Status.PENDING, ""
        if not all(self.settled(p, now) for p in preds):
            return Status.PENDING, ""
        # Every predecessor is done with and none triggered it: it will not run.
        blocked = self._blocking_predecessor(inst)
        if blocked:
            return Status.SKIPPED, f"upstream {blocked.label} is {blocked.state.status.value}"
        names = ", ".join(p.label for p in preds)
        return Status.NOT_INVOKED, f"{names} finished without invoking it"

    def _blocked_for_good(self, inst, now):
        """Why a triggered (or fan-in) instance below a FAILED/SKIPPED one will never start
        on this platform, or "" while it still might (see platforms.START_GRACE)."""
        blocked = self._blocking_predecessor(inst)
        if blocked is None:
            return ""
        upstream = f"upstream {blocked.label} is {blocked.state.status.value}"
        if self.start_grace is None:
            return upstream
        preds = [self.instances[k] for k in self._preds[inst.key]]
        if not all(p.state.status.is_final and p.final_since is not None for p in preds):
            return ""
        if now - max(p.final_since for p in preds) < self.start_grace:
            return ""
        return (f"{upstream}, and it did not start within {self.start_grace:g} s of its predecessors "
                f"ending ({self.platform or 'this platform'}'s start grace)")

    def _blocking_predecessor(self, inst):
        for key in self._preds[inst.key]:
            pred = self.instances[key]
            if pred.state.status in BLOCKING_STATUSES:
                return pred
        return None

    def _publish(self, inst, status, reason, changes):
        state = inst.state
        if status is state.status and reason == state.reason:
            return
        previous = state.status
        state.status, state.reason = status, reason
        if status.is_final and not previous.is_final:
            state.ended_at = self.wall()
            inst.final_since = self.clock()
        elif not status.is_final:
            state.ended_at = inst.final_since = None
        self._refresh(inst, self.clock())
        changes.append((state.copy(), previous))

    def refresh_details(self):
        """Copy the fast-changing details (tail, errors, settled) into the public states."""
        now = self.clock()
        for key in self.order:
            self._refresh(self.instances[key], now)

    def _refresh(self, inst, now):
        inst.state.last_lines = list(inst.tail)
        inst.state.error_lines = list(inst.errors)
        inst.state.invoked_by = list(inst.invoked_by)
        inst.state.settled = self.settled(inst, now)

    def _final_fact(self, inst, now):
        if inst.final_at is None:
            # self.tick counts finished ticks; this fact belongs to the one being applied.
            inst.final_at, inst.final_tick = now, self.tick + 1

    def _touch(self, inst, now):
        inst.changed_at = now
        if inst.state.first_seen is None:
            inst.state.first_seen = self.wall()

    def _add_invoker(self, inst, label):
        if label not in inst.invoked_by:
            inst.invoked_by[label] = True
            self._touch(inst, self.clock())

    def _resolve(self, target, rank):
        """Instance keys an invoker line names; unknown names are ignored."""
        wf = self.workflow
        if target not in wf.actions and target.startswith(wf.name + "-"):
            target = target[len(wf.name) + 1:]  # GoogleCloud names jobs <workflow>-<action>
        if target not in wf.actions:
            return []
        keys = wf.instances(target)
        if not wf.is_ranked(target):
            return keys
        if rank is None:
            return keys  # a bare name of a ranked action: every rank
        return [k for k in keys if k[1] == rank]


def _summarize(message):
    """First line of an ERROR message; for a bare traceback its last line says more."""
    lines = [line for line in message.splitlines() if line.strip()]
    if not lines:
        return "ERROR"
    if lines[0].startswith("Traceback (most recent call last)") and len(lines) > 1:
        return lines[-1].strip()
    return lines[0].strip()
