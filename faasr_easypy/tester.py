"""Assertions about one FaaSr invocation, for aetest, pytest or plain Python.

    with WorkflowTester(workflow, backend, data_store, timeout=120) as t:
        t.wait_for("start")
        t.wait_for("work(2)", should_fail=True)
        t.assert_function_not_invoked("else-branch")
        t.assert_content_equals("output/result.txt", "42\\n")

Every failed check raises AssertionError whose message says what was
expected, what S3 actually holds (the nearest keys), and the last log lines
of the function(s) concerned, so a red test explains itself; credentials in
it (a function may print them into its log) are masked by faasr_easypy.redact.

Object assertions read the bucket *as of the action last waited for*: after
`wait_for("x")` they see what x and everything before it wrote (the bucket when
x's .done was written), nothing that later actions changed; after `wait_all()`
the end state; `tester.live` reads the bucket as it is now. That needs S3 object
versions: the tester switches them on in buckets of the embedded server, uses
them where a bucket has them, and otherwise says in its messages that the view
is live (docs/TESTER.md).
"""

import copy
import difflib
import functools
import re

from ._deprecation import warn_deprecated
from .bucket_view import AsOfView, LiveView, bucket_versioning, enable_versioning, latest_time
from .errors import UserError
from .layout import instance_label
from .monitor.statuses import Status
from .runner import WorkflowRunner
from .s3.client import shared_client
from .workflow import ACTION_NAME_PATTERN

_LABEL = re.compile(rf"^(?P<action>{ACTION_NAME_PATTERN})(?:\((?P<rank>\d+)\))?$")
SHOW_LINES = 10


def _masked_failures(method):
    """`method`'s AssertionError with every credential masked in its message."""
    @functools.wraps(method)
    def check(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except AssertionError as exc:
            failure = exc
        masked = _redactor_of(self).redact(str(failure))
        if masked == str(failure):
            raise failure
        # raised outside the except block: the unmasked original is not even its __context__
        raise AssertionError(masked).with_traceback(failure.__traceback__) from None
    return check


def _redactor_of(tester):
    from .redact import Redactor

    if getattr(tester, "_redactor", None) is None:
        store = tester.runner.data_store
        tester._redactor = Redactor([getattr(store, "access_key", None), getattr(store, "secret_key", None)])
    return tester._redactor


def _mask_checks(cls):
    """Every public wait/assert/get of `cls` fails with a masked message."""
    for name, member in list(vars(cls).items()):
        if callable(member) and name.startswith(("assert_", "wait_", "get_")):
            setattr(cls, name, _masked_failures(member))
    return cls


@_mask_checks
class WorkflowTester:
    def __init__(self, workflow=None, backend=None, data_store=None, *, runner=None,
                 cleanup=False, versioning=None, **runner_kwargs):
        """versioning: True switches S3 object versions on in the logging bucket (for as-of
        assertions), False never uses them (every view is live), None (default) switches them
        on in buckets of an embedded server this process started, and uses them where a
        bucket already has them."""
        if isinstance(workflow, WorkflowRunner):
            runner, workflow = workflow, None
        if runner is None:
            if workflow is None or backend is None:
                raise TypeError("WorkflowTester needs a runner, or a workflow and a backend (with "
                                "its data_store) or a testbed")
            runner = WorkflowRunner(workflow, backend, data_store, **runner_kwargs)
        self.runner = runner
        self.workflow = runner.workflow
        self.bucket = runner.data_store.bucket
        self.cleanup_after = cleanup
        self.versioning = versioning
        self.versioned = None  # does the bucket keep versions? known once started
        self._client = None
        self._view = None  # what object assertions read; None: the live bucket
        self._folders = None  # see _run_folders

    @classmethod
    def from_testbed(cls, workflow, testbed, *, functions=None, cleanup=False, **options):
        """A tester on WorkflowRunner.from_testbed(workflow, testbed, functions=..., **options)."""
        return cls(runner=WorkflowRunner.from_testbed(workflow, testbed, functions=functions, **options),
                   cleanup=cleanup)

    # -- plumbing ------------------------------------------------------------------
    @property
    def invocation_id(self):
        return self.runner.invocation_id

    @property
    def client(self):
        # A retrying client (an assertion should survive one S3 hiccup), shared in the process.
        if self._client is None:
            self._client = shared_client(self.runner.data_store)
        return self._client

    @property
    def statuses(self):
        return self.runner.get_function_statuses()

    @property
    def view(self):
        """What object assertions read now (its .description names the point in time)."""
        if self._view is None:
            return LiveView(self.client, self.bucket)
        return self._view

    @property
    def live(self):
        """This tester reading the live bucket: `tester.live.assert_object_exists(key)`."""
        other = copy.copy(self)
        other._view = LiveView(self.client, self.bucket)
        return other

    def _prepare_versions(self):
        """Before the trigger: object versions on where we may, so as-of views are exact."""
        if self.versioned is not None:
            return
        from .s3.server import started_here

        if self.versioning is False:
            self.versioned = False
            return
        on = bucket_versioning(self.client, self.bucket)
        if not on and (self.versioning or started_here(self.runner.data_store.endpoint)):
            enable_versioning(self.client, self.bucket)
            on = True
        self.versioned = on

    def start(self):
        self._prepare_versions()
        self.runner.start()
        return self

    def close(self, timeout=10.0):
        """Stop the runner (see WorkflowRunner.close), deleting the invocation's S3 data
        first when the tester was made with cleanup=True."""
        self.runner._stop(timeout)
        try:
            if self.cleanup_after:
                self.runner.delete_data(include_outputs=True)
        finally:
            self.runner.close(timeout)

    def shutdown(self):
        """Deprecated: close()."""
        warn_deprecated("WorkflowTester.shutdown() is deprecated: use close() (or a with block)")
        self.close()

    def __enter__(self):
        self._prepare_versions()
        self.runner.__enter__()  # its signal handling too
        return self

    def __exit__(self, *exc):
        self.close()

    # -- waiting -------------------------------------------------------------------
    def wait_for(self, action, should_fail=False, timeout=None):
        """Wait until `action` ("name", or "name(3)" for one rank) has a settled final
        status, then check it as FaaSr-Integration-Tests' wait_for does: COMPLETED and
        NOT_INVOKED (a branch not taken) pass; FAILED raises unless should_fail=True (which
        then expects FAILED); SKIPPED and TIMEOUT raise, with the reason.

        A ranked action given without a rank means every rank. Returns the
        FunctionState (it compares equal to its Status), or a list of them for several
        ranks. Object assertions then read the bucket as of this action's end.
        """
        states = self._wait_final(action, timeout)
        if should_fail:
            self._expect(action, states, (Status.FAILED,))
        else:
            self._expect(action, states, (Status.COMPLETED, Status.NOT_INVOKED))
        self._view = self._view_as_of(action, states)
        return states[0] if len(states) == 1 else states

    def wait_all(self, timeout=None):
        """Wait until every instance has a final status; return {label: FunctionState}."""
        if not self.runner.started:
            self.start()
        if not self.runner.wait(timeout):
            waiting = [s.summary() for s in self.statuses.values() if not s.is_final]
            raise AssertionError(
                f"The workflow {self.workflow.name} (InvocationID {self.invocation_id}) did not finish "
                f"within {_seconds(timeout, self.runner.timeout)}: still waiting for "
                f"{', '.join(waiting) or 'the last checks'}.\n{self._overview()}")
        self._view = LiveView(self.client, self.bucket, "at the end of the run (after wait_all)")
        return self.statuses

    def _wait_final(self, action, timeout):
        labels = self._labels(action)
        if not self.runner.started:
            self.start()

        def settled(machine):
            return all(machine.settled(machine.instance(label)) for label in labels)

        self.runner.wait_until(settled, timeout)
        snapshot = self.statuses
        states = [snapshot[label] for label in labels]
        pending = [s for s in states if not s.is_final]
        if pending:
            stopped = self.runner.monitor.stop_reason
            when = f"monitoring was {stopped}:" if stopped else f"after {_seconds(timeout, self.runner.timeout)}"
            raise AssertionError(
                f"Expected {action} to finish, but {when} "
                + "; ".join(f"{s.label} is still {s.status.value}" + (f" ({s.reason})" if s.reason else "")
                            for s in pending)
                + ".\n" + self._details(pending) + self._overview())
        return states

    # -- function assertions -------------------------------------------------------
    def assert_function_completed(self, action, timeout=None):
        return self._assert_status(action, Status.COMPLETED, timeout)

    def assert_function_failed(self, action, timeout=None):
        return self._assert_status(action, Status.FAILED, timeout)

    def assert_function_not_invoked(self, action, timeout=None):
        return self._assert_status(action, Status.NOT_INVOKED, timeout)

    def assert_function_skipped(self, action, timeout=None):
        return self._assert_status(action, Status.SKIPPED, timeout)

    def _assert_status(self, action, expected, timeout):
        states = self._wait_final(action, timeout)
        self._expect(action, states, (expected,))
        return states[0] if len(states) == 1 else states

    def _expect(self, action, states, allowed):
        wrong = [s for s in states if s.status not in allowed]
        if not wrong:
            return
        not_invoked = allowed[0] is Status.NOT_INVOKED  # then who invoked it is the news
        what = "; ".join(
            f"{s.label} is {s.status.value}" + (f": {s.reason}" if s.reason else "")
            + (f" (invoked by {', '.join(s.invoked_by)})" if s.invoked_by and not_invoked else "")
            for s in wrong)
        raise AssertionError(f"Expected {action} to be {allowed[0].value}, but {what}.\n"
                             + self._details(wrong) + self._overview())

    def assert_logs_contain(self, action, text, timeout=None):
        """Assert the log of `action` contains `text` (for several ranks: any of them)."""
        states = self._wait_final(action, timeout)
        texts = {s.label: self._read_log(s.log_key) for s in states}
        if any(body is not None and text in body.decode("utf-8", "replace") for body in texts.values()):
            return
        found = ", ".join(f"{label}: {'no log in S3' if body is None else f'{len(body)} bytes'}"
                          for label, body in texts.items())
        raise AssertionError(f"Expected the log of {action} to contain {text!r}, but it does not "
                             f"({found}).\n" + self._details(states) + self._overview())

    # -- S3 assertions -------------------------------------------------------------
    def get_s3_key(self, name):
        """The key `name` has for this invocation.

        `name` may contain `{InvocationID}`; a plain name is looked up as
        `<InvocationID>/name`, as `<folder>/<InvocationID>/name` for every folder
        argument of the workflow (an Arguments key containing "folder", plus
        FaaSr-Integration-Tests' `integration-tests`), and as given; the first that
        exists wins, else the first whose folder holds anything, else `name` itself.
        """
        candidates = self._candidates(name)
        for key in candidates:
            if self._exists(key):
                return key
        for key in candidates[:-1]:
            if self._any_under(key.rsplit("/", 1)[0] + "/"):
                return key  # the workflow namespaces its outputs there; not written yet
        return candidates[-1]

    def get_object(self, key):
        """The bytes of `key` (resolved like get_s3_key); AssertionError if missing."""
        resolved = self.assert_object_exists(key)
        return self._read(resolved)

    def assert_object_exists(self, key):
        candidates = self._candidates(key)
        for k in candidates:
            if self._exists(k):
                return k
        raise AssertionError(f"Expected S3 object {self._named(candidates)} to exist "
                             f"{self.view.description}, but it does not.\n"
                             + self._nearby(candidates) + self._context())

    def assert_object_does_not_exist(self, key):
        candidates = self._candidates(key)
        present = [k for k in candidates if self._exists(k)]
        if present:
            size = self._size(present[0])
            raise AssertionError(f"Expected S3 object {self._named(candidates)} not to exist "
                                 f"{self.view.description}, but {present[0]!r} exists ({size} bytes).\n"
                                 + self._context())

    def assert_content_equals(self, key, expected):
        if isinstance(expected, str):
            expected = expected.encode("utf-8")
        for resolved in self._candidates(key):
            actual = self._read(resolved)  # one GET says both whether it exists and what it holds
            if actual is not None:
                break
        else:  # missing: this raises, showing what S3 holds nearby (unless it just appeared)
            resolved = self.assert_object_exists(key)
            actual = self._read(resolved) or b""
        if actual == expected:
            return
        at = next((i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
                  min(len(actual), len(expected)))
        raise AssertionError(
            f"Expected S3 object {resolved!r} in bucket {self.bucket!r} {self.view.description} to hold "
            f"{len(expected)} bytes {_preview(expected)}, but it holds {len(actual)} bytes {_preview(actual)} "
            f"(first difference at byte {at}).\n" + self._context())

    # -- as-of views ---------------------------------------------------------------
    def _view_as_of(self, action, states):
        """The bucket when `action` (every rank given) had finished: the newest of their
        .done files (else of their logs; else of their predecessors', for an instance
        that never ran)."""
        if self.versioned is None:  # started by someone else (a pyATS job): use versions if there
            self.versioned = self.versioning is not False and bucket_versioning(self.client, self.bucket)
        if not self.versioned:
            why = ("versioning=False" if self.versioning is False
                   else f"bucket {self.bucket!r} keeps no object versions")
            return LiveView(self.client, self.bucket,
                            f"in the live bucket ({why}, so this is not as of {action}'s end)")
        found = [self._instant(s.action, s.rank, {}) for s in states]
        found = [f for f in found if f is not None]
        if not found:
            return LiveView(self.client, self.bucket, f"in the live bucket ({action} left nothing in S3)")
        instant, exact, what = max(found)
        seconds = instant / 1e9 - (self.runner.triggered_at or instant / 1e9)
        note = "" if exact else " (S3 gives its times to the second: changes in that second count)"
        return AsOfView(self.client, self.bucket, instant,
                        f"as of {what} at {seconds:.2f} s{note}", exact=exact)

    def _instant(self, action, rank, memo):
        """(time_ns, exact, what) of an instance's end as S3 recorded it, or None."""
        key = (action, rank)
        if key in memo:
            return memo[key]
        label = instance_label(action, rank)
        layout = self.runner.layout
        memo[key] = None
        for s3_key, what in ((layout.done_key(action, rank), f"{label}'s .done"),
                             (layout.log_key(action, rank), f"{label}'s last log write")):
            when = latest_time(self.client, self.bucket, s3_key)
            if when is not None:
                memo[key] = (*when, what)
                return memo[key]
        # Never ran (NOT_INVOKED, SKIPPED): decided when its predecessors had ended.
        preds = [self._instant(a, r, memo) for a, r in self.workflow.predecessor_instances(action)]
        preds = [p for p in preds if p is not None]
        memo[key] = max(preds) if preds else None
        return memo[key]

    # -- helpers -------------------------------------------------------------------
    def _labels(self, action):
        m = _LABEL.match(str(action).strip())
        name = m["action"] if m else None
        if not m or name not in self.workflow.actions:
            raise UserError(f"{action!r} is not an action of workflow {self.workflow.name}: use one of "
                            f"{', '.join(sorted(self.workflow.actions))} (\"name(N)\" for one rank)")
        instances = self.workflow.instances(name)
        if m["rank"] is None:
            return [instance_label(a, r) for a, r in instances]
        rank = int(m["rank"])
        if (name, rank) not in instances:
            ranks = self.workflow.rank_count(name) if self.workflow.is_ranked(name) else 0
            runs = f"ranks 1..{ranks}" if ranks else "no ranks"
            raise UserError(f"{action!r}: {name} runs with {runs}; "
                            f"use {name!r}" + (f" or '{name}(1)'..'{name}({ranks})'" if ranks else ""))
        return [instance_label(name, rank)]

    def _candidates(self, name):
        key = str(name).replace("{InvocationID}", self.invocation_id).lstrip("/")
        if "{InvocationID}" in str(name) or self.invocation_id in key.split("/"):
            return [key]
        return list(dict.fromkeys([f"{folder}/{key}" for folder in self._run_folders()] + [key]))

    def _run_folders(self):
        """Where a workflow may namespace its outputs by run (see get_s3_key)."""
        if self._folders is None:
            named = ["integration-tests"]  # FaaSr-Integration-Tests' get_s3_key prefix
            for spec in self.workflow.actions.values():
                args = spec.arguments or {}
                named += [v.strip("/") for k, v in args.items()
                          if "folder" in k.lower() and isinstance(v, str) and v.strip("/")]
            self._folders = [self.invocation_id] + [f"{f}/{self.invocation_id}" for f in dict.fromkeys(named)]
        return self._folders

    def _named(self, candidates):
        also = f" (also looked for {', '.join(repr(c) for c in candidates[1:])})" if len(candidates) > 1 else ""
        return f"{candidates[-1]!r} in bucket {self.bucket!r}{also}"

    def _exists(self, key):
        return self.view.size(key) is not None

    def _size(self, key):
        return self.view.size(key) or 0

    def _read_log(self, key):
        """A log's body (always live): the monitor's copy when final (see
        WorkflowRunner.final_log), else S3's."""
        final = self.runner.final_log(key) if self.runner is not None else None
        return final if final is not None else LiveView(self.client, self.bucket).read(key)

    def _read(self, key):
        return self.view.read(key)

    def _any_under(self, prefix):
        return bool(self.view.list(prefix, limit=1))

    def _list(self, prefix, limit=1000):
        return self.view.list(prefix, limit)

    def _nearby(self, candidates):
        """What S3 holds near the missing key(s): the most similar keys, nearest folder first."""
        keys, folders = [], []
        for c in candidates:
            folder = c.rsplit("/", 1)[0] + "/" if "/" in c else ""
            if folder not in folders:
                folders.append(folder)
        if f"{self.invocation_id}/" not in folders:
            folders.append(f"{self.invocation_id}/")
        for folder in folders:
            keys += [k for k in self._list(folder) if k not in keys]
        keys = [k for k in keys if not k.startswith(self.runner.layout.prefix)]
        if not keys:
            return (f"S3 holds nothing under {', '.join(repr(f or '(bucket root)') for f in folders)} "
                    f"{self.view.description}.\n")
        target = candidates[-1]
        nearest = sorted(keys, key=lambda k: -difflib.SequenceMatcher(None, target, k).ratio())[:5]
        return f"Nearest keys in S3 {self.view.description}: {', '.join(repr(k) for k in nearest)}.\n"

    def _context(self):
        """Statuses, plus the last log lines of the functions most likely to matter."""
        states = list(self.statuses.values())
        bad = [s for s in states if s.status in (Status.FAILED, Status.TIMEOUT, Status.RUNNING)]
        if not bad:
            ended = [s for s in states if s.ended_at and s.last_lines]
            bad = sorted(ended, key=lambda s: s.ended_at)[-1:]
        return self._details(bad[:3]) + self._overview()

    def _details(self, states):
        out = []
        for s in states:
            if s.last_lines:
                lines = "\n".join(f"    {line}" for line in s.last_lines[-SHOW_LINES:])
                out.append(f"Last log lines of {s.label} ({s.log_key}):\n{lines}\n")
            else:
                out.append(f"{s.label} has no log in S3 ({s.log_key}).\n")
        return "".join(out)

    def _overview(self):
        states = self.statuses.values()
        return (f"Workflow {self.workflow.name}, InvocationID {self.invocation_id}: "
                + ", ".join(f"{s.label} {s.status.value}" for s in states))


def _preview(data, limit=120):
    text = repr(bytes(data[:limit]))
    return text + ("..." if len(data) > limit else "")


def _seconds(timeout, default):
    return f"{timeout:g} s" if timeout is not None else f"the workflow timeout of {default:g} s"
