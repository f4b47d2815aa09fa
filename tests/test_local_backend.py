"""The local backend against a real SeaweedFS server: what lands in S3 is what
FaaSr writes, for the examples and for every failure mode."""

import json
import os
import signal
import textwrap
import time

import pytest

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.environment import start_s3
from faasr_easypy.invocation import Invocation
from faasr_easypy.layout import LOG_LINE
from faasr_easypy.s3.client import make_client
from faasr_easypy.workflow import load_workflow, parse_workflow

from .helpers import REPO
from .processes import alive, children
from .workflow_factory import action, workflow

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def s3():
    service = start_s3()
    yield service
    service.close()


class Run:
    """One finished local run: its invocation, results and S3 contents."""

    def __init__(self, s3, wf, functions_dir, **backend_args):
        self.wf = wf
        self.stores = s3.stores_for(wf)
        self.client = make_client(self.stores[wf.default_data_store])
        self.bucket = self.stores[wf.default_data_store].bucket
        self.invocation = Invocation(wf)
        self.backend = LocalBackend(functions_dir, self.stores, **backend_args)

    def go(self, timeout=60):
        try:
            started = time.monotonic()
            self.backend.trigger(self.invocation)
            assert self.backend.wait(self.invocation, timeout), "local run did not finish"
            self.seconds = time.monotonic() - started
            self.results = self.backend.results(self.invocation)
        finally:
            self.backend.close()
        return self

    def keys(self, prefix=None):
        prefix = self.invocation.layout.prefix if prefix is None else prefix
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def rel_keys(self):
        n = len(self.invocation.layout.prefix)
        return [k[n:] for k in self.keys()]

    def read(self, key):
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()

    def log(self, action_name, rank=None):
        return self.read(self.invocation.layout.log_key(action_name, rank))


def write_functions(tmp_path, source, name="funcs.py"):
    folder = tmp_path / "functions"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source))
    return folder


def run_inline(s3, tmp_path, actions, source, **backend_args):
    wf = parse_workflow(workflow(actions))
    return Run(s3, wf, write_functions(tmp_path, source), **backend_args).go()


def assert_log_format(text):
    lines = text.splitlines()
    assert lines, "empty log"
    for line in lines:
        if line.startswith("["):
            assert LOG_LINE.match(line), line


# -- the examples ---------------------------------------------------------------

def test_data_pipeline_writes_faasr_layout_and_outputs(s3):
    wf = load_workflow(REPO / "workflows/data_pipeline.json")
    run = Run(s3, wf, REPO / "workflows/functions/DataPipeline").go()
    assert run.rel_keys() == ["compute-sum.txt", "create-input.txt",
                              "function_completions/compute-sum.done",
                              "function_completions/create-input.done",
                              "function_completions/publish.done", "publish.txt"]
    for key in run.keys():
        if key.endswith(".done"):
            assert run.read(key) == "True"
        else:
            assert_log_format(run.read(key))
    iid = run.invocation.invocation_id
    assert run.invocation.folder.startswith(f"FaaSrLog/DataPipeline/{run.invocation.timestamp}/{iid}")
    assert run.keys(f"pipeline/{iid}/") == [f"pipeline/{iid}/report.txt", f"pipeline/{iid}/sum.txt"]
    assert run.read(f"pipeline/{iid}/sum.txt") == "210"
    assert run.read(f"pipeline/{iid}/report.txt") == "total=210\n"
    assert "Local: Successfully invoked: compute-sum" in run.log("create-input")
    # user faasr_log messages are written raw, as faasr-py 2.1.0 writes them
    assert "\nsum is 210 (rank 1 of 1)\n" in run.log("compute-sum")
    assert "published report to bucket faasr" in run.log("publish")


def test_conditional_takes_one_branch_and_leaves_nothing_for_the_other(s3):
    wf = load_workflow(REPO / "workflows/conditional.json")
    run = Run(s3, wf, REPO / "workflows/functions/ConditionalCheck").go()
    rel = run.rel_keys()
    assert "above.txt" in rel and "function_completions/above.done" in rel
    assert not any(k.startswith("below") or "/below" in k for k in rel)
    assert "Local: Successfully invoked: above" in run.log("check-threshold")
    assert "below" not in run.log("check-threshold").split("Successfully invoked")[-1]


def test_conditional_false_branch_via_argument_override(s3):
    wf = load_workflow(REPO / "workflows/conditional.json")
    run = Run(s3, wf, REPO / "workflows/functions/ConditionalCheck")
    run.invocation = Invocation(wf, argument_overrides={"check-threshold": {"value": 1}})
    run.go()
    rel = run.rel_keys()
    assert "below.txt" in rel and "above.txt" not in rel


def test_fan_out_runs_ranks_and_fan_in_once(s3):
    wf = load_workflow(REPO / "workflows/fan_out_fan_in.json")
    run = Run(s3, wf, REPO / "workflows/functions/FanOutFanIn").go()
    rel = run.rel_keys()
    for r in range(1, 6):
        assert f"square({r}).txt" in rel and f"function_completions/square.{r}.done" in rel
        assert f"rank {r} of 5" in run.log("square", r)
        assert "Local: Successfully invoked: gather" in run.log("square", r)
    assert rel.count("gather.txt") == 1 and run.log("gather").count("Running action gather") == 1
    assert run.read(f"fan/{run.invocation.invocation_id}/total.txt") == "55"
    assert "Local: Successfully invoked: square(5)" in run.log("split")


def test_failing_function_logs_traceback_writes_done_and_triggers_nothing(s3):
    wf = load_workflow(REPO / "workflows/failing_function.json")
    run = Run(s3, wf, REPO / "workflows/functions/FailingStep").go()
    log = run.log("explode")
    assert "[ERROR] [local_backend.py] The function raised ZeroDivisionError: division by zero" in log
    assert "Traceback (most recent call last)" in log and 'steps.py", line' in log
    assert "action_process.py" not in log  # our own frames are not the user's problem
    rel = run.rel_keys()
    assert "function_completions/explode.done" in rel  # as faasr-py does
    assert not any("after-explode" in k for k in rel)
    assert "Successfully invoked" not in log
    assert run.results["explode"]["ok"] is False


# -- failure modes --------------------------------------------------------------

FAILURES = """
import os, signal, sys, time
from FaaSr_py.client.py_client_stubs import faasr_log

def exits():
    faasr_log("leaving")
    sys.exit(3)

def killed():
    faasr_log("about to die")
    os.kill(os.getpid(), signal.SIGKILL)

def hangs():
    faasr_log("sleeping forever")
    time.sleep(600)

def returns_none():
    return None

def escapes():
    from FaaSr_py.client.py_client_stubs import faasr_put_file
    faasr_put_file(local_file="passwd", local_folder="/etc", remote_file="x")

def bad_key():
    from FaaSr_py.client.py_client_stubs import faasr_put_file
    open("f", "w").write("x")
    faasr_put_file(local_file="f", remote_file="x", remote_folder="a/../../b")

def never():
    faasr_log("must not run")
"""


@pytest.mark.parametrize("function, expected", [
    ("exits", "The function called sys.exit(3)"),
    ("escapes", "outside the function's working directory"),
    ("bad_key", "has a '..' segment"),
])
def test_errors_get_error_line_and_done(s3, tmp_path, function, expected):
    run = run_inline(s3, tmp_path, {"start": action(function=function, nxt=["after"]),
                                    "after": action(function="never")}, FAILURES)
    log = run.log("start")
    error_lines = [line for line in log.splitlines() if "[ERROR]" in line]
    assert error_lines and expected in error_lines[0], log
    assert "function_completions/start.done" in run.rel_keys()
    assert "after.txt" not in run.rel_keys()


def test_killed_function_gets_error_line_and_no_done(s3, tmp_path):
    run = run_inline(s3, tmp_path, {"start": action(function="killed", nxt=["after"]),
                                    "after": action(function="never")}, FAILURES)
    log = run.log("start")
    assert "about to die" in log or "Running action start" in log
    assert "[ERROR] [local_backend.py] Action start did not finish: its process was killed by SIGKILL" in log
    assert run.rel_keys() == ["start.txt"]
    assert run.results["start"]["ok"] is False


def test_time_limit_kills_the_function(s3, tmp_path):
    run = run_inline(s3, tmp_path, {"start": action(function="hangs", nxt=["after"]),
                                    "after": action(function="never")}, FAILURES, action_timeout=1.0)
    log = run.log("start")
    assert "sleeping forever" in log
    assert "it ran past its time limit of 1 s and was killed" in log
    assert run.rel_keys() == ["start.txt"]


def test_julia_actions_fail_clearly(s3, tmp_path):  # R actions: tests/test_r_runtime.py
    run = run_inline(s3, tmp_path, {"start": action(type="Julia", nxt=["after"]),
                                    "after": action(function="never")}, FAILURES)
    log = run.log("start")
    assert "is of Type Julia, which the local backend does not support (it runs Python and R" in log
    assert "[ERROR]" in log


def test_missing_function_is_an_error_in_its_log(s3, tmp_path):
    run = run_inline(s3, tmp_path, {"start": action(function="no_such_function")}, FAILURES)
    assert "[ERROR] [local_backend.py] Cannot run action start: no function named no_such_function" in run.log("start")


def test_conditional_without_bool_return_is_an_error(s3, tmp_path):
    run = run_inline(s3, tmp_path, {"start": action(function="returns_none", nxt=[{"True": ["after"]}]),
                                    "after": action(function="never")}, FAILURES)
    assert "returned None, but InvokeNext of start has a" in run.log("start")


def test_import_error_in_one_file_does_not_hide_another(s3, tmp_path):
    folder = write_functions(tmp_path, "import not_a_module\n", name="broken.py")
    write_functions(tmp_path, "def f():\n    return None\n", name="ok.py")
    wf = parse_workflow(workflow({"start": action()}))
    run = Run(s3, wf, folder).go()
    log = run.log("start")
    assert "[WARN]" in log and "importing broken.py failed" in log
    assert run.results["start"]["ok"]


# -- the API ----------------------------------------------------------------------

API = """
import json
from FaaSr_py.client.py_client_stubs import (
    faasr_put_file, faasr_get_file, faasr_delete_file, faasr_get_folder_list, faasr_log,
    faasr_rank, faasr_invocation_id, faasr_get_s3_creds, faasr_secret)

def api(folder):
    iid = faasr_invocation_id()
    with open("a.txt", "w") as fh:
        fh.write("alpha")
    faasr_put_file(local_file="a.txt", remote_file="a.txt", remote_folder=f"{folder}/{iid}")
    faasr_put_file(local_file="a.txt", remote_file="b.txt", remote_folder=f"//{folder}//{iid}/")
    faasr_get_file(local_file="copy.txt", local_folder="sub/dir", remote_file="a.txt",
                   remote_folder=f"{folder}/{iid}")
    listing = faasr_get_folder_list(prefix=f"{folder}/{iid}/")
    faasr_delete_file(remote_file="b.txt", remote_folder=f"{folder}/{iid}")
    creds = faasr_get_s3_creds()
    result = {"listing": listing, "copy": open("sub/dir/copy.txt").read(), "rank": faasr_rank(),
              "after_delete": faasr_get_folder_list(prefix=f"{folder}/{iid}/"),
              "creds_keys": sorted(creds), "bucket": creds["bucket"],
              "secret": faasr_secret("FAASR_TEST_SECRET")}
    with open("result.json", "w") as fh:
        json.dump(result, fh)
    faasr_put_file(local_file="result.json", remote_file="result.json", remote_folder=f"{folder}/{iid}")
    faasr_log("api ok")

def ranked():
    r = faasr_rank()
    faasr_log(f"rank={r['rank']} max={r['max_rank']}")
"""


def test_every_api_call(s3, tmp_path):
    os.environ["FAASR_TEST_SECRET"] = "s3cr3t-value"
    try:
        data = workflow({"start": action(function="api", args={"folder": "apitest"}, nxt=["r(3)"]),
                         "r": action(function="ranked")})
        data["Secrets"] = ["FAASR_TEST_SECRET"]  # faasr_secret reads only the secrets named so
        run = Run(s3, parse_workflow(data), write_functions(tmp_path, API)).go()
    finally:
        del os.environ["FAASR_TEST_SECRET"]
    iid = run.invocation.invocation_id
    result = json.loads(run.read(f"apitest/{iid}/result.json"))
    assert result["listing"] == [f"apitest/{iid}/a.txt", f"apitest/{iid}/b.txt"]
    assert result["after_delete"] == [f"apitest/{iid}/a.txt"]
    assert result["copy"] == "alpha"
    assert result["rank"] == {"max_rank": 1, "rank": 1}
    assert result["bucket"] == "faasr"
    assert result["creds_keys"] == ["access_key", "anonymous", "bucket", "endpoint", "region", "secret_key"]
    assert result["secret"] == "s3cr3t-value"
    assert "\napi ok\n" in run.log("start")
    for r in (1, 2, 3):
        assert f"rank={r} max=3" in run.log("r", r)


def test_function_local_file_is_honoured(s3, tmp_path):
    folder = write_functions(tmp_path, "def f():\n    raise RuntimeError('wrong file')\n", name="a.py")
    (folder / "single").mkdir()
    (folder / "single" / "only.py").write_text(
        "from FaaSr_py.client.py_client_stubs import faasr_log\n\ndef f():\n    faasr_log('from local file')\n")
    data = workflow({"start": action()})
    data["FunctionLocalFile"] = {"f": "single/only.py"}
    run = Run(s3, parse_workflow(data), folder).go()
    assert "\nfrom local file\n" in run.log("start")


def test_each_action_gets_a_fresh_working_directory(s3, tmp_path):
    source = """
    import os
    from FaaSr_py.client.py_client_stubs import faasr_log
    def f():
        faasr_log(f"files={sorted(os.listdir('.'))} cwd={os.getcwd()}")
        open("leftover.txt", "w").write("x")
    """
    run = run_inline(s3, tmp_path, {"start": action(nxt=["b"]), "b": action()}, source)
    for name in ("start", "b"):
        assert "files=['console.log']" in run.log(name)
    assert run.log("start").split("cwd=")[1].split()[0] != run.log("b").split("cwd=")[1].split()[0]


def test_parallelism_is_bounded(s3, tmp_path):
    source = """
    import time
    from FaaSr_py.client.py_client_stubs import faasr_log
    def f():
        faasr_log(f"start={time.time():.4f}")
        time.sleep(0.4)
        faasr_log(f"end={time.time():.4f}")
    """
    run = run_inline(s3, tmp_path, {"start": action(nxt=["w(6)"]), "w": action()}, source, max_parallel=2)
    spans = []
    for r in range(1, 7):
        log = run.log("w", r)
        spans.append((float(log.split("start=")[1].split()[0]), float(log.split("end=")[1].split()[0])))
    for t, _ in spans:
        overlapping = sum(1 for s, e in spans if s <= t < e)
        assert overlapping <= 2, spans


def test_cancel_stops_a_running_invocation(s3, tmp_path):
    folder = write_functions(tmp_path, FAILURES)
    wf = parse_workflow(workflow({"start": action(function="hangs")}))
    run = Run(s3, wf, folder)
    try:
        run.backend.trigger(run.invocation)
        deadline = time.monotonic() + 10
        while "start.txt" not in run.rel_keys() and time.monotonic() < deadline:
            time.sleep(0.05)
        run.backend.cancel(run.invocation)
        assert run.backend.wait(run.invocation, 10)
    finally:
        run.backend.close()
    assert "the run was cancelled by the harness" in run.log("start")


def test_worker_process_killed_mid_run_fails_the_run_without_hanging(s3, tmp_path):
    folder = write_functions(tmp_path, FAILURES)
    wf = parse_workflow(workflow({"start": action(function="hangs")}))
    run = Run(s3, wf, folder)
    try:
        run.backend.trigger(run.invocation)
        time.sleep(0.5)
        os.killpg(run.backend._proc.pid, signal.SIGKILL)
        assert run.backend.wait(run.invocation, 30)  # a hang guard, not a speed check
        assert "worker process died" in run.backend.results(run.invocation)["start"]["error"]
        # the backend recovers: a new invocation runs on a fresh worker process
        wf2 = parse_workflow(workflow({"start": action(function="returns_none")}))
        inv2 = Invocation(wf2)
        run.backend.trigger(inv2)
        assert run.backend.wait(inv2, 30) and run.backend.results(inv2)["start"]["ok"]
    finally:
        run.backend.close()


def test_close_leaves_no_process_behind(s3, tmp_path):
    folder = write_functions(tmp_path, FAILURES)
    wf = parse_workflow(workflow({"start": action(function="hangs")}))
    run = Run(s3, wf, folder)
    run.backend.trigger(run.invocation)
    server_pid = run.backend._proc.pid
    deadline = time.monotonic() + 10
    while not children(server_pid) and time.monotonic() < deadline:  # a busy machine is slow to fork
        time.sleep(0.05)
    actions = children(server_pid)
    assert actions, "the hanging action should be running"
    run.backend.close()
    for pid in [server_pid] + actions:
        assert not alive(pid), pid


def test_a_50_mb_log_is_cut_with_a_note_and_the_function_still_completes(s3, tmp_path):
    source = """
    from FaaSr_py.client.py_client_stubs import faasr_log
    def f():
        line = "x" * 1000
        for i in range(50_000):
            faasr_log(f"{i} {line}")
    """
    run = run_inline(s3, tmp_path, {"start": action()}, source)
    assert run.results["start"]["ok"]
    log = run.log("start")
    assert len(log) < 9 * 1024 * 1024
    assert "[WARN] [local_backend.py] log cut at 8388608 bytes; further lines are dropped" in log
    last = log.rstrip().splitlines()
    assert last[-2].endswith("further lines are dropped") and "log lines were dropped in all" in last[-1]
    assert "function_completions/start.done" in run.rel_keys()


def test_backend_created_in_a_short_lived_thread_keeps_its_workers(s3, tmp_path):
    """PR_SET_PDEATHSIG follows the parent *thread*: a fork server bound to it died with
    the thread that created the backend (seen with a fake platform's request thread)."""
    import threading

    folder = write_functions(tmp_path, "import time\ndef f():\n    time.sleep(0.5)\n")
    wf = parse_workflow(workflow({"start": action(nxt=["b"]), "b": action()}))
    run = Run(s3, wf, folder)
    worker = threading.Thread(target=run.backend.trigger, args=(run.invocation,))
    worker.start()
    worker.join()  # the thread that started the fork server is gone now
    try:
        assert run.backend.wait(run.invocation, 30)
        results = run.backend.results(run.invocation)
    finally:
        run.backend.close()
    assert results["start"]["ok"] and results["b"]["ok"], results


def test_the_monitors_copy_of_each_finished_log_is_what_s3_holds(s3):
    """The local backend writes .done after the final log flush, so a tester (and a task's
    record) can use the monitor's copy of a finished log instead of downloading it again."""
    from faasr_easypy.tester import WorkflowTester

    wf = load_workflow(REPO / "workflows/fan_out_fan_in.json")
    stores = s3.stores_for(wf)
    backend = LocalBackend(REPO / "workflows/functions/FanOutFanIn", stores)
    assert backend.logs_final_at_done
    client = make_client(stores[wf.logging_data_store])
    with WorkflowTester(wf, backend, stores[wf.logging_data_store], timeout=60, check_interval=0.2) as t:
        states = t.wait_all()
        t.assert_logs_contain("square", "rank 3 of 5")
        for state in states.values():
            body = client.get_object(Bucket=stores[wf.logging_data_store].bucket, Key=state.log_key)["Body"].read()
            assert t.runner.final_log(state.log_key) == body, state.label
    backend.close()
