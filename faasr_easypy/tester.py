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
"""

import difflib
import functools
import re

from ._deprecation import warn_deprecated
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
                 cleanup=False, **runner_kwargs):
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
        self._client = None

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

    def start(self):
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
        self.runner.__enter__()  # its signal handling too
        return self

    def __exit__(self, *exc):
        self.close()

    # -- waiting -------------------------------------------------------------------
    def wait_for(self, action, should_fail=False, timeout=None):
        """Wait until `action` ("name", or "name(3)" for one rank) has a settled final
        status; assert it COMPLETED (or FAILED with should_fail=True).

        A ranked action given without a rank means every rank. Returns the
        FunctionState, or a list of them for several ranks.
        """
        expected = Status.FAILED if should_fail else Status.COMPLETED
        states = self._wait_final(action, timeout)
        self._expect(action, states, expected)
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
        self._expect(action, states, expected)
        return states[0] if len(states) == 1 else states

    def _expect(self, action, states, expected):
        wrong = [s for s in states if s.status is not expected]
        if not wrong:
            return
        what = "; ".join(
            f"{s.label} is {s.status.value}" + (f": {s.reason}" if s.reason else "")
            + (f" (invoked by {', '.join(s.invoked_by)})" if s.invoked_by and expected is Status.NOT_INVOKED else "")
            for s in wrong)
        raise AssertionError(f"Expected {action} to be {expected.value}, but {what}.\n"
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

        `name` may contain `{InvocationID}`; a plain name is looked up both as
        `<InvocationID>/name` (workflows that namespace their outputs by run)
        and as given, and the one that exists wins.
        """
        candidates = self._candidates(name)
        for key in candidates:
            if self._exists(key):
                return key
        if len(candidates) > 1 and self._any_under(f"{self.invocation_id}/"):
            return candidates[0]  # the workflow namespaces by InvocationID; not written yet
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
        raise AssertionError(f"Expected S3 object {self._named(candidates)} to exist, but it does not.\n"
                             + self._nearby(candidates) + self._context())

    def assert_object_does_not_exist(self, key):
        candidates = self._candidates(key)
        present = [k for k in candidates if self._exists(k)]
        if present:
            size = self._size(present[0])
            raise AssertionError(f"Expected S3 object {self._named(candidates)} not to exist, but "
                                 f"{present[0]!r} exists ({size} bytes).\n" + self._context())

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
            f"Expected S3 object {resolved!r} in bucket {self.bucket!r} to hold {len(expected)} bytes "
            f"{_preview(expected)}, but it holds {len(actual)} bytes {_preview(actual)} "
            f"(first difference at byte {at}).\n" + self._context())

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
        if "{InvocationID}" in str(name) or key.startswith(self.invocation_id + "/"):
            return [key]
        return [f"{self.invocation_id}/{key}", key]

    def _named(self, candidates):
        also = f" (also looked for {', '.join(repr(c) for c in candidates[1:])})" if len(candidates) > 1 else ""
        return f"{candidates[-1]!r} in bucket {self.bucket!r}{also}"

    def _head(self, key):
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def _exists(self, key):
        return self._head(key) is not None

    def _size(self, key):
        head = self._head(key)
        return head["ContentLength"] if head else 0

    def _read_log(self, key):
        """A log's body: the monitor's copy when final (see WorkflowRunner.final_log), else S3's."""
        final = self.runner.final_log(key) if self.runner is not None else None
        return final if final is not None else self._read(key)

    def _read(self, key):
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def _any_under(self, prefix):
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        return bool(page.get("Contents"))

    def _list(self, prefix, limit=1000):
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=limit)
        return [o["Key"] for o in page.get("Contents", ())]

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
            return f"S3 holds nothing under {', '.join(repr(f or '(bucket root)') for f in folders)}.\n"
        target = candidates[-1]
        nearest = sorted(keys, key=lambda k: -difflib.SequenceMatcher(None, target, k).ratio())[:5]
        return f"Nearest keys in S3: {', '.join(repr(k) for k in nearest)}.\n"

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
