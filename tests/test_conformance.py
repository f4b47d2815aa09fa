"""Conformance: the local backend against the real faasr-py 2.1.0 runtime.

Each example workflow runs twice on one embedded S3 server: on the local
backend and on FaaSrPyBackend (the real runtime, one action at a time). Both
runs are watched by the same monitor. Compared:

* the keys of the invocation folder and the user's output keys (relative,
  InvocationID replaced), and the .done bodies;
* the shape of every log: each line is `[<seconds>] [<LEVEL>] [<file.py>] <message>`,
  a raw user message, or a continuation of an ERROR record; the user messages,
  whether there is an ERROR line, and which successors the invoker lines name;
* the status the monitor derives for every function instance.

The deliberate differences (docs/FIDELITY.md, "Differences found") are encoded
below, so any new difference fails this test.
"""

import os
import re
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from faasr_easypy.backends.faasr_py import FaaSrPyBackend
from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.environment import start_s3
from faasr_easypy.invocation import Invocation
from faasr_easypy.layout import parse_log_line
from faasr_easypy.monitor.platforms import parse_invocation
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.s3.client import make_client
from faasr_easypy.workflow import default_functions_dir, load_workflow

from .helpers import REPO

pytestmark = pytest.mark.timeout(900)  # the first run creates faasr-py's virtualenv

OK = "COMPLETED"
# case -> (workflow, argument overrides, the statuses both backends must reach)
CASES = {
    "conditional-true": ("workflows/conditional.json", None,
                         {"check-threshold": OK, "above": OK, "below": "NOT_INVOKED"}),
    "conditional-false": ("workflows/conditional.json", {"check-threshold": {"value": 1}},
                          {"check-threshold": OK, "above": "NOT_INVOKED", "below": OK}),
    "data-pipeline": ("workflows/data_pipeline.json", None,
                      {"create-input": OK, "compute-sum": OK, "publish": OK}),
    "failing-function": ("workflows/failing_function.json", None,
                         {"prepare": OK, "explode": "FAILED", "after-explode": "SKIPPED"}),
    "fan-out-fan-in": ("workflows/fan_out_fan_in.json", None,
                       {"split": OK, **{f"square({r})": OK for r in range(1, 6)}, "gather": OK}),
    # R actions: the local backend's warm R server against faasr-py's `Rscript r_user_func_entry.R`
    "r-conditional-true": ("tests/r_workflows/r_conditional.json", None,
                           {"check-threshold": OK, "above": OK, "below": "NOT_INVOKED"}),
    "r-conditional-false": ("tests/r_workflows/r_conditional.json", {"check-threshold": {"value": 1}},
                            {"check-threshold": OK, "above": "NOT_INVOKED", "below": OK}),
    "r-failing-function": ("tests/r_workflows/r_failing.json", None,
                           {"prepare": OK, "explode": "FAILED", "after-explode": "SKIPPED"}),
    "r-python-pipeline-fan-in": ("workflows/mixed_r_python.json", None,
                                 {"create-data": OK, "sum-v1": OK, "sum-v2": OK, "sum-v3": OK,
                                  "count-rows": OK, "report": OK}),
}
# A frame of a traceback: File "/any/path/steps.py", line 14, in explode
FRAME = re.compile(r'^\s*File "(?:.*/)?(?P<file>[^/"]+)", line (?P<line>\d+), in (?P<func>\S+)')
# An R error: faasr-py's r_func_helper.R logs it raw (then sys.calls(), raw too); the local
# backend puts it in its ERROR line (FIDELITY.md, difference 9). Both carry R's "Error in ...".
FAASR_PY_R_ERROR = '"faasr_user_function":Errors in the user function - '
LOCAL_R_ERROR = re.compile(r"The R function \S+ stopped with an error: (?P<error>.*)$")


def documented_extra_keys_of_faasr_py(wf):
    """Keys only the real runtime writes: the fan-in election file (FIDELITY.md, difference 1)."""
    return {f"{action}.candidate" for action in wf.actions if wf.is_fan_in(action)}


@pytest.fixture(scope="module")
def s3():
    service = start_s3()
    yield service
    service.close()


@dataclass
class Outcome:
    """What one backend left in S3 and what the monitor made of it."""

    folder_keys: set
    output_keys: set
    done_bodies: set
    logs: dict        # relative log key -> text with the InvocationID replaced
    statuses: dict    # label -> status name
    seconds: float


def run_on(backend, wf, store, overrides):
    invocation = Invocation(wf, argument_overrides=overrides)
    runner = WorkflowRunner(wf, backend, store, timeout=240, check_interval=0.25,
                            invocation=invocation)
    started = time.monotonic()
    with runner:
        assert runner.wait(260), f"the monitor did not finish {wf.name} on {type(backend).__name__}"
        # faasr-py: the fan-in copies that lose the election still run after the winner
        assert backend.wait(invocation, 120), f"{type(backend).__name__} still busy with {wf.name}"
    seconds = time.monotonic() - started
    statuses = {label: state.status.value for label, state in runner.get_function_statuses().items()}

    client = make_client(store)
    iid, prefix = invocation.invocation_id, invocation.layout.prefix
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    folder = {k[len(prefix):] for k in keys if k.startswith(prefix)}
    outputs = {k.replace(iid, "<ID>") for k in keys if iid in k and not k.startswith(prefix)}

    def read(rel):
        return client.get_object(Bucket=store.bucket, Key=prefix + rel)["Body"].read().decode()

    done = {read(k) for k in folder if k.endswith(".done")}
    logs = {k: read(k).replace(iid, "<ID>") for k in folder if k.endswith(".txt")}
    return Outcome(folder, outputs, done, logs, statuses, seconds)


@dataclass(frozen=True)
class LogShape:
    """A log reduced to what must not depend on the backend."""

    has_error: bool
    user_messages: tuple  # raw faasr_log lines, in order
    user_frames: tuple    # traceback frames in the user's own files: (file, line, function)
    invoked: tuple        # instance labels the invoker lines name, ranks expanded
    odd_lines: tuple      # prefixed lines whose file is not a .py file (must be empty)
    r_error: str = ""     # R's "Error in <call>: <message>" of a failed R function


def log_shape(text, wf, user_files):
    levels, user, frames, odd, named = set(), [], set(), [], Counter()
    in_error, r_error, in_r_report = False, "", False
    for line in text.splitlines():
        if not line.strip():
            continue
        parsed = parse_log_line(line)
        if parsed is None and line.startswith(FAASR_PY_R_ERROR):
            # its sys.calls() dump follows (after the RPC server's INFO lines), up to the ERROR line
            r_error, in_r_report = line[len(FAASR_PY_R_ERROR):], True
            continue
        if parsed is None and in_r_report:
            continue
        if parsed is None:
            frame = FRAME.match(line)
            if in_error and frame and frame["file"] in user_files:
                frames.add((frame["file"], int(frame["line"]), frame["func"]))
            elif not in_error:  # a traceback continues an ERROR record; anything else is the user's
                user.append(line)
            continue
        _, level, filename, message = parsed
        levels.add(level)
        in_error = level in ("ERROR", "CRITICAL")
        in_r_report = in_r_report and not in_error
        local_r_error = LOCAL_R_ERROR.match(message) if in_error else None
        if local_r_error:
            r_error = local_r_error["error"]
        if not filename.endswith(".py"):
            odd.append(line)
        target = parse_invocation(message)
        if target:
            named[target] += 1
    invoked = set()
    for (action, rank), count in named.items():
        if rank is None and wf.is_ranked(action):
            # GitHub's line names a ranked action once per rank, without the rank (difference 2)
            invoked.update(f"{action}({r})" for r in range(1, count + 1))
        else:
            invoked.add(f"{action}({rank})" if rank else action)
    return LogShape("ERROR" in levels or "CRITICAL" in levels, tuple(user), tuple(sorted(frames)),
                    tuple(sorted(invoked)), tuple(odd), r_error)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_local_backend_writes_what_faasr_py_writes(case, s3, faasr_python, tmp_path):
    path, overrides, expected_statuses = CASES[case]
    wf = load_workflow(REPO / path)
    functions = str(default_functions_dir(REPO / path, wf.name))
    user_files = {name for _, _, names in os.walk(functions) for name in names if name.endswith(".py")}
    stores = s3.stores_for(wf)
    store = stores[wf.logging_data_store]

    with LocalBackend(functions, stores) as local_backend:
        local = run_on(local_backend, wf, store, overrides)
    with FaaSrPyBackend(functions, stores, python=faasr_python,
                        workdir_root=str(tmp_path / "faasr-py")) as real_backend:
        real = run_on(real_backend, wf, store, overrides)
    print(f"{case}: local {local.seconds:.1f} s, faasr-py {real.seconds:.1f} s")

    # 1. S3 keys: the same, except the documented fan-in election file
    assert real.folder_keys - local.folder_keys == documented_extra_keys_of_faasr_py(wf)
    assert local.folder_keys - real.folder_keys == set()
    assert local.output_keys == real.output_keys
    assert local.done_bodies == real.done_bodies == {"True"}

    # 2. log shapes, log by log
    assert set(local.logs) == set(real.logs)
    for key in sorted(real.logs):
        want, got = log_shape(real.logs[key], wf, user_files), log_shape(local.logs[key], wf, user_files)
        assert want.odd_lines == () and got.odd_lines == (), key
        assert got == want, f"{key}: local {got} vs faasr-py {want}"

    # 3. what the monitor derives (spelled out, so an empty comparison cannot pass)
    assert real.statuses == expected_statuses
    assert local.statuses == real.statuses
    assert real.output_keys and real.logs


def test_log_shape_sees_what_differs():
    """The comparison can fail: a changed user message, a lost traceback frame or a missing
    invoker line each change the shape."""
    wf = load_workflow(REPO / "workflows/failing_function.json")
    files = {"steps.py"}
    base = ("[0.1] [INFO] [x.py] GitHub Action: Successfully invoked: explode\nabout to divide\n"
            "[0.2] [ERROR] [x.py] boom\nTraceback (most recent call last):\n"
            '  File "/a/steps.py", line 14, in explode\nZeroDivisionError: division by zero\n')
    shape = log_shape(base, wf, files)
    assert shape == LogShape(True, ("about to divide",), (("steps.py", 14, "explode"),), ("explode",), ())
    assert log_shape(base.replace("about to divide", "about to multiply"), wf, files) != shape
    assert log_shape(base.replace("line 14", "line 15"), wf, files) != shape
    assert log_shape(base.replace("GitHub Action: Successfully invoked: explode", "hello"), wf, files) != shape
    assert log_shape(base.replace("[ERROR]", "[INFO]"), wf, files).has_error is False
    assert log_shape("[1] [INFO] [notes] hi\n", wf, files).odd_lines == ("[1] [INFO] [notes] hi",)
    # an R error, as faasr-py logs it (raw, then its sys.calls() dump) and as the local backend does
    r_real = (f"about to fail\n{FAASR_PY_R_ERROR}Error in check(x): bad x\n\n"
              "[0.2] [INFO] [faasr_server.py] Processing request: faasr_log\n[[1]]\nf()\n"
              "[0.3] [ERROR] [executor.py] Unkown error while getting user function return\n")
    r_local = ("about to fail\n[0.3] [ERROR] [local_backend.py] The R function f stopped with an error: "
               "Error in check(x): bad x\nCall stack (innermost last):\n  f()\n")
    assert log_shape(r_real, wf, files) == log_shape(r_local, wf, files) == \
        LogShape(True, ("about to fail",), (), (), (), "Error in check(x): bad x")
    assert log_shape(r_local.replace("bad x", "bad y"), wf, files) != log_shape(r_real, wf, files)
