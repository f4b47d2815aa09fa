"""The pyATS side end to end: real `pyats run job` processes, their exit codes,
verdicts in the archive's results.json, archive contents, the shared status
dict, and nothing left running after Ctrl-C or a max_runtime kill."""

import json
import signal
import time
import zipfile

import pytest

from .easypy_helpers import (
    PROJECT,
    all_text,
    archive_from,
    fork_servers,
    kill_tagged,
    leftovers,
    make_slow_project,
    names,
    read_json,
    run_job,
    start_job,
    task_results,
    wait_for_text,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EXAMPLES = ["data_pipeline", "conditional", "fan_out_fan_in", "failing_function", "mixed_r_python"]


def test_faasr_job_on_the_local_testbed(tmp_path):
    rc, out, archive, tag = run_job("jobs/faasr_job.py", "--testbed-file", "testbeds/local.yaml",
                                    "--archive-dir", tmp_path)
    assert rc == 0, out[-4000:]
    assert archive is not None and archive.is_file() and archive.parent.parent == tmp_path
    report = archive.with_name(archive.name[:-4] + ".faasr_report.html")
    assert out.rstrip().splitlines()[-2:] == [f"faasr-easypy: archive {archive}",
                                              f"faasr-easypy: report  {report}"]
    assert report.is_file() and "<svg" in report.read_text()
    assert "Traceback" not in out
    assert not leftovers(tag)

    results = task_results(archive)
    assert sorted(results) == sorted(EXAMPLES)
    for taskid, res in results.items():
        assert res["result"] == "passed", (taskid, res)
        assert all(v == "passed" for v in res["sections"].values()), (taskid, res["sections"])
    # ranks are looped testcases
    assert [s for s in results["fan_out_fan_in"]["sections"] if s.startswith("square_")] == \
        [f"square_{r}" for r in range(1, 6)]
    # the failing example's own testscript expects the failure
    assert results["failing_function"]["tests"]["Explode.failed_as_expected"][0] == "passed"

    contents = names(archive)
    for taskid in EXAMPLES:
        assert f"TaskLog.{taskid}" in contents
        assert f"faasr/{taskid}.json" in contents
    assert {"results.json", "faasr_results.json", "faasr_statuses.json", "faasr_job.py"} <= contents

    # The shared status dict as the jobfile saw it at the end (it wrote it into runtime.directory).
    statuses = read_json(archive, "faasr_statuses.json")
    assert statuses["data_pipeline"]["functions"] == {
        "create-input": "COMPLETED", "compute-sum": "COMPLETED", "publish": "COMPLETED"}
    assert statuses["conditional"]["functions"] == {
        "check-threshold": "COMPLETED", "above": "COMPLETED", "below": "NOT_INVOKED"}
    assert statuses["failing_function"]["functions"] == {
        "prepare": "COMPLETED", "explode": "FAILED", "after-explode": "SKIPPED"}
    assert "ZeroDivisionError" in statuses["failing_function"]["reasons"]["explode"]
    assert statuses["fan_out_fan_in"]["functions"]["gather"] == "COMPLETED"
    assert len(statuses["fan_out_fan_in"]["functions"]) == 7
    assert statuses["mixed_r_python"]["functions"] == {  # R and Python actions in one workflow
        "create-data": "COMPLETED", "sum-v1": "COMPLETED", "sum-v2": "COMPLETED", "sum-v3": "COMPLETED",
        "count-rows": "COMPLETED", "report": "COMPLETED"}
    assert [s for s in results["mixed_r_python"]["sections"] if s.startswith("sum_")] == ["sum_v1", "sum_v2", "sum_v3"]
    for entry in statuses.values():
        assert entry["state"] == "finished" and entry["invocation_id"]

    # faasr_results.json (the report's input): verdicts, logs, outputs, no credentials.
    data = read_json(archive, "faasr_results.json")
    assert data["schema"] == 1 and data["job"]["complete"] is True
    by_task = {w["task_id"]: w for w in data["workflows"]}
    assert {t: w["verdict"] for t, w in by_task.items()} == {t: "passed" for t in EXAMPLES}
    pipeline = by_task["data_pipeline"]
    assert pipeline["workflow"] == "DataPipeline" and pipeline["source"] == "workflows/data_pipeline.json"
    keys = {o["key"] for o in pipeline["s3_objects"]}
    assert f"pipeline/{pipeline['invocation_id']}/sum.txt" in keys
    assert f"pipeline/{pipeline['invocation_id']}/numbers.csv" not in keys
    assert all(f["log"] for f in pipeline["functions"])


def test_faasr_job_passes_on_the_real_faasr_py_runtime(tmp_path, faasr_python):
    """Switching the testbed to Runtime: faasr-py runs the same job and testscripts in the real
    runtime; four tasks share the one RPC port, so their actions queue host-wide."""
    rc, out, archive, tag = run_job("jobs/faasr_job.py", "--testbed-file", "testbeds/faasr_py.yaml",
                                    "--archive-dir", tmp_path, timeout=600,
                                    env={"FAASR_EASYPY_FAASR_PY_PYTHON": faasr_python})
    assert rc == 0, out[-4000:]
    assert not leftovers(tag)
    results = task_results(archive)
    assert {t: r["result"] for t, r in results.items()} == {t: "passed" for t in EXAMPLES}
    statuses = read_json(archive, "faasr_statuses.json")
    assert statuses["failing_function"]["functions"] == {
        "prepare": "COMPLETED", "explode": "FAILED", "after-explode": "SKIPPED"}
    data = read_json(archive, "faasr_results.json")
    assert {w["platform"] for w in data["workflows"]} == {"GitHubActions"}


def test_regression_job_generic_testscript_fails_a_failing_workflow(tmp_path):
    """No --testbed-file (the local testbed is the default), every workflow with the generic
    testscript: the deliberately failing workflow gives FAILED testcases, never ERRORED."""
    rc, out, archive, tag = run_job("jobs/regression_job.py", "--testscripts-dir", "/nonexistent",
                                    "--faasr-parallel", "2")
    try:
        assert rc == 1, out[-4000:]
        assert archive is not None and archive.is_file()
        assert archive.parent.parent == PROJECT / "archives"  # the project's archives/ by default
        assert "built-in" in out  # the local testbed default
        assert not leftovers(tag)
        results = task_results(archive)
        assert sorted(results) == sorted(EXAMPLES)
        for taskid in ("data_pipeline", "conditional", "fan_out_fan_in"):
            assert results[taskid]["result"] == "passed", (taskid, results[taskid])
        failing = results["failing_function"]
        failing_invocation = next(w["invocation_id"] for w in read_json(archive, "faasr_results.json")["workflows"]
                                  if w["workflow"] == "FailingStep")
        assert failing["result"] == "failed"
        assert failing["sections"]["function[prepare]"] == "passed"
        assert failing["sections"]["function[explode]"] == "failed"
        assert failing["sections"]["function[after-explode]"] == "failed"
        _, reason = failing["tests"]["function[explode].finished_well"]
        assert "explode is FAILED" in reason and "ZeroDivisionError" in reason
        assert results["conditional"]["sections"]["function[below]"] == "skipped"  # branch not taken
        every = [v for r in results.values() for v in r["sections"].values()]
        assert "errored" not in every

        # pyATS's rerun file from that archive: only the failed task runs again (its workflow
        # is triggered anew), and in it only the failed testcases.
        rerun_file = tmp_path / "rerun.results"
        with zipfile.ZipFile(archive) as zf:
            rerun_file.write_bytes(zf.read("rerun.results"))
        rc, out, rerun_archive, tag = run_job("jobs/regression_job.py", "--testscripts-dir", "/nonexistent",
                                              "--rerun-file", rerun_file, "--rerun-condition", "failed", "errored")
        try:
            assert rc == 1, out[-4000:]
            assert not leftovers(tag)
            again = task_results(rerun_archive)
            assert sorted(again) == ["failing_function"], out[-4000:]
            assert again["failing_function"]["sections"] == {
                "common_setup": "passed", "function[explode]": "failed",
                "function[after-explode]": "failed", "common_cleanup": "passed"}
            records = read_json(rerun_archive, "faasr_results.json")["workflows"]
            assert [w["workflow"] for w in records] == ["FailingStep"]
            assert records[0]["invocation_id"] != failing_invocation
        finally:
            if rerun_archive is not None and rerun_archive.is_file():
                rerun_archive.unlink()
    finally:
        if archive is not None and archive.is_file():
            archive.unlink()


def test_batch_from_faasr_arg_on_an_external_s3_keeps_keys_secret(tmp_path, s3_server):
    """A list in --faasr-arg runs one task per value; the S3 keys (here of an external
    server given through FAASR_EASYPY_S3_*) appear nowhere in the output or the archive."""
    env = {"FAASR_EASYPY_S3_ENDPOINT": s3_server.endpoint, "FAASR_EASYPY_S3_ACCESS_KEY": s3_server.access_key,
           "FAASR_EASYPY_S3_SECRET_KEY": s3_server.secret_key}
    rc, out, archive, _ = run_job("jobs/regression_job.py", "--pattern", "data_pipeline.json",
                                    "--faasr-arg", "create-input.count=[10,30]", "--faasr-parallel", "1",
                                    "--archive-dir", tmp_path, env=env)
    assert rc == 0, out[-4000:]
    assert "external S3" in out
    assert s3_server.secret_key not in out and s3_server.secret_key not in all_text(archive)
    results = task_results(archive)
    assert sorted(results) == ["data_pipeline-1", "data_pipeline-2"]
    assert all(r["result"] == "passed" for r in results.values())
    data = {w["task_id"]: w for w in read_json(archive, "faasr_results.json")["workflows"]}
    assert data["data_pipeline-1"]["arguments"] == {"create-input": {"count": 10}}
    assert data["data_pipeline-2"]["arguments"] == {"create-input": {"count": 30}}
    # the paired testscript checked the sum the arguments imply (55 and 465)
    assert "expected total 55" in out and "expected total 465" in out


def test_ctrl_c_stops_tasks_and_leaves_nothing_running(tmp_path):
    job = make_slow_project(tmp_path, """
        def main(runtime):
            pool = WorkflowPool(runtime, max_parallel=2)
            for i in range(3):
                pool.submit(ROOT / "workflows" / "slow.json", taskid=f"slow{i}")
            pool.run()
        """)
    log = tmp_path / "job.log"
    proc = start_job(job, "--faasr-stream-logs", "--archive-dir", tmp_path / "archives", cwd=tmp_path, log=log)
    try:
        assert wait_for_text(log, "sleeping 120 s", timeout=90), log.read_text()[-3000:]
        time.sleep(0.5)
        assert len(fork_servers(proc.tag)) == 1, "the job's tasks share one fork server"
        proc.send_signal(signal.SIGINT)  # like `kill -INT <job>`; the terminal sends it to the group
        started = time.monotonic()
        rc = proc.wait(60)
        took = time.monotonic() - started
        output = log.read_text()
        assert rc != 0
        assert took < 20, f"the job took {took:.1f} s to stop after Ctrl-C"
        assert not leftovers(proc.tag), "processes left behind after Ctrl-C"
        assert "Ctrl-C: stopping the running workflow tasks" in output
        assert "not started: slow2" in output
        archive = archive_from(output)
        results = task_results(archive)
        assert {t: r["result"] for t, r in results.items()} == {"slow0": "aborted", "slow1": "aborted"}
        data = read_json(archive, "faasr_results.json")
        assert data["job"]["complete"] is False and data["job"]["note"] == "interrupted (Ctrl-C)"
        assert {w["task_id"]: w["verdict"] for w in data["workflows"]}["slow2"] == "aborted"
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_tagged(proc.tag)


def test_max_runtime_is_enforced(tmp_path):
    job = make_slow_project(tmp_path, """
        import json

        def main(runtime):
            result = run_workflow(ROOT / "workflows" / "slow.json", runtime=runtime, max_runtime=5)
            (ROOT / "result.json").write_text(json.dumps(str(result)))
        """)
    started = time.monotonic()
    rc, out, archive, tag = run_job(job, "--archive-dir", tmp_path / "archives", cwd=tmp_path)
    try:
        assert rc == 1, out[-4000:]
        assert time.monotonic() - started < 60
        assert json.loads((tmp_path / "result.json").read_text()) == "errored"
        assert "exceeded its max runtime of '5' seconds" in out
        assert task_results(archive)["slow"]["result"] == "errored"
        assert not leftovers(tag)
    finally:
        kill_tagged(tag)


def test_unsupported_compute_type_is_a_clear_error(tmp_path):
    env_free = tmp_path / "slurm.yaml"
    env_free.write_text((PROJECT / "testbeds" / "github_actions_example.yaml").read_text()
                        .replace('"%ENV{My_S3_Bucket_AccessKey}"', "AKIA-test")
                        .replace('"%ENV{My_S3_Bucket_SecretKey}"', "not-a-real-secret")
                        .replace('"%ENV{My_GitHub_Account_PAT}"', "not-a-real-token")
                        .replace("FaaSType: GitHubActions", "FaaSType: Kubernetes\n        Endpoint: http://127.0.0.1:1"))
    rc, out, _, tag = run_job("jobs/faasr_job.py", "--testbed-file", env_free, "--archive-dir", tmp_path)
    assert rc != 0
    assert "Kubernetes is not supported by faasr-easypy yet" in out
    assert "not-a-real-secret" not in out and "not-a-real-token" not in out
    assert not leftovers(tag)
