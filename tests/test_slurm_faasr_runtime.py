"""FaaSr's own runtime on the real SLURM cluster (testbeds/slurm_local.yaml): the harness submits
the entry action through slurmrestd, each job's `docker run` runs faasr-py 2.1.0 (the nodes'
docker stand-in), and faasr-py submits the successors itself, ranks and fan-in included.
Faults: a job scancel'ed mid-run or while pending fails its action with SLURM's reason at once (the
harness watches the invocation's jobs), and cancelling one of two runs of a workflow scancels only
its own jobs."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.workflow import load_workflow

from .slurm_cluster import read_log

PROJECT = Path(__file__).resolve().parent.parent
TESTBED = PROJECT / "testbeds" / "slurm_local.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture
def on_slurm(slurm_cluster, faasr_python, monkeypatch, tmp_path):
    for var in (ENV_ENDPOINT, ENV_ACCESS_KEY, ENV_SECRET_KEY):
        monkeypatch.delenv(var, raising=False)  # the testbed's embedded S3
    token = slurm_cluster.token()
    monkeypatch.setenv("FAASR_EASYPY_SLURM_ENDPOINT", slurm_cluster.endpoint)
    monkeypatch.setenv("FAASR_EASYPY_SLURM_TOKEN", token)
    monkeypatch.setenv("FAASR_EASYPY_FAASR_PY_PYTHON", faasr_python)
    jobs_dir = slurm_cluster.dir / "jobs"
    before = set(jobs_dir.iterdir())
    slurm_cluster.baseline = slurm_cluster.last_job_id()
    slurm_cluster.outputs_before = before
    # the testbed with this cluster's jobs/ folder (the shipped one names the default cluster's)
    (tmp_path / "testbed").mkdir()
    slurm_cluster.testbed_file = slurm_cluster.testbed(TESTBED, tmp_path / "testbed")
    yield slurm_cluster, token
    for path in set(jobs_dir.iterdir()) - before:  # the jobs' output files (FaaSr: <name>-<id>.out)
        path.unlink()


def job_outputs(cluster, since):
    return {p: p.read_text(errors="replace") for p in (cluster.dir / "jobs").glob("slurm-*.out") if p not in since}


def standin_processes():
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "docker_standin" in line or "faasr_entry.py" in line]


def test_fan_out_and_fan_in_across_jobs(on_slurm):
    cluster, _ = on_slurm
    wf = load_workflow(PROJECT / "workflows" / "fan_out_fan_in.json")
    with WorkflowRunner.from_testbed(wf, cluster.testbed_file, timeout=240, check_interval=0.3) as runner:
        assert runner.wait(240)
        statuses = {label: s.status for label, s in runner.get_function_statuses().items()}
    ranks = wf.rank_count("square")
    assert statuses == {"split": Status.COMPLETED, "gather": Status.COMPLETED,
                        **{f"square({r})": Status.COMPLETED for r in range(1, ranks + 1)}}, statuses
    jobs = [name for _, name, _, _ in cluster.jobs_after(cluster.baseline, "FanOutFanIn-")]
    assert jobs.count("FanOutFanIn-square") == ranks
    # every rank triggers gather; the runtime's election lets exactly one copy run it
    assert jobs.count("FanOutFanIn-gather") == ranks
    # the harness knows exactly these jobs as the run's, each with its action instance
    known = watched_jobs(runner)
    assert set(known) == {int(j) for j, *_ in cluster.jobs_after(cluster.baseline, "FanOutFanIn-")}, known
    assert sorted(known.values(), key=str) == sorted(
        [("split", None), *[("square", r) for r in range(1, ranks + 1)], *[("gather", None)] * ranks], key=str)
    assert cluster.wait_idle("FanOutFanIn-") == []
    assert not standin_processes()
    assert os.path.isdir(cluster.dir)


def test_the_example_job_passes_on_the_slurm_testbed(on_slurm, tmp_path):
    """jobs/faasr_job.py and its testscripts, unchanged, on testbeds/slurm_local.yaml."""
    from .easypy_helpers import all_text, leftovers, read_json, run_job, task_results

    cluster, token = on_slurm
    rc, out, archive, tag = run_job("jobs/faasr_job.py", "--testbed-file", cluster.testbed_file,
                                    "--archive-dir", tmp_path,
                                    timeout=400, env={"FAASR_EASYPY_SLURM_TOKEN": token,
                                                      "FAASR_EASYPY_SLURM_ENDPOINT": cluster.endpoint})
    assert rc == 0, out[-4000:]
    examples = ["data_pipeline", "conditional", "fan_out_fan_in", "failing_function", "mixed_r_python"]
    assert {t: r["result"] for t, r in task_results(archive).items()} == {t: "passed" for t in examples}
    data = read_json(archive, "faasr_results.json")
    assert {w["platform"] for w in data["workflows"]} == {"SLURM"}
    assert token not in out and token not in all_text(archive)
    assert not leftovers(tag)
    assert cluster.wait_idle() == []
    assert not standin_processes()
    jobs = cluster.jobs_after(cluster.baseline, "DataPipeline-")
    assert sorted(name for _, name, _, _ in jobs) == sorted(
        f"DataPipeline-{a}" for a in ("create-input", "compute-sum", "publish"))  # one job per action
    assert {node for *_, node in cluster.jobs_after(cluster.baseline) if node} == {"n1", "n2"}  # both nodes
    text = "\n".join(job_outputs(cluster, cluster.outputs_before).values())
    assert "running faasr/slurm-r:latest as faasr-py 2.1.0" in text  # each job's docker run: the stand-in
    assert "SLURM: Successfully submitted job: compute-sum" in text  # faasr-py submitted the successor
    # OVERWRITTEN carries the credentials into the job's environment; its output shows only the length
    assert token not in text and "OVERWRITTEN length:" in text and '"SecretKey"' not in text


def test_a_run_that_times_out_leaves_no_job_of_its_invocation(on_slurm, tmp_path):
    """The workflow's timeout ends the run: close() cancels what faasr-py still has queued or running.
    (A nap longer than the timeout: fan_out_fan_in.json once stood in, and finished within the
    8 s on a quiet machine.)"""
    cluster, _ = on_slurm
    wf, functions = nap_flow(tmp_path, 60)
    with WorkflowRunner.from_testbed(wf, cluster.testbed_file, functions=functions, timeout=8,
                                     check_interval=0.3) as runner:
        assert not runner.wait(8)
        statuses = {label: s.status for label, s in runner.get_function_statuses().items()}
    assert set(statuses) == {"start", "next"}  # every action has a verdict
    assert statuses["start"] != Status.COMPLETED and statuses["next"] != Status.COMPLETED, statuses
    assert cluster.wait_idle("NapFlow-", timeout=20) == []
    deadline = time.monotonic() + 10
    while standin_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not standin_processes()


# -- faults: the harness watches the invocation's jobs ------------------------------------

def nap_flow(tmp_path, seconds):
    """start (naps `seconds`) -> next (quick), FaaSr functions published by the GitHub stand-in."""
    from .workflow_factory import NAP_FUNCTIONS, action, workflow, write_workflow

    data = workflow({"start": action("nap", args={"seconds": seconds}, nxt=["next"]),
                     "next": action("quick")}, name="NapFlow")
    data["FunctionGitRepo"] = {"nap": "u/r/functions", "quick": "u/r/functions"}
    return write_workflow(tmp_path, data, NAP_FUNCTIONS)


def watched_jobs(runner):
    """{job id: (action, rank)} the harness knows as this run's (entry + what faasr-py logged)."""
    record = runner.backend.slurm.watcher.record(runner.invocation_id)
    return dict(record.jobs) if record else {}


def job_of(runner, action, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = [j for j, key in watched_jobs(runner).items() if key[0] == action]
        if ids:
            return ids[0]
        time.sleep(0.1)
    raise AssertionError(f"no job of {action} known: {watched_jobs(runner)}")


def wait_state(cluster, job_id, states, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.job(job_id).get("JobState")
        if state in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {cluster.job(job_id).get('JobState')}, not one of {states}")


def test_a_faasr_job_cancelled_mid_run_fails_its_action_with_slurms_reason(on_slurm, tmp_path):
    """Without the watcher the action would stay RUNNING until the 120 s timeout."""
    cluster, _ = on_slurm
    wf, functions = nap_flow(tmp_path, 30)
    with WorkflowRunner.from_testbed(wf, cluster.testbed_file, functions=functions, timeout=120,
                                     check_interval=0.3) as runner:
        job_id = job_of(runner, "start")
        assert runner.wait_until(lambda m: "napping 30 s" in "".join(m.get("start", None).tail), 90)
        cluster.run("scancel", str(job_id))
        assert runner.wait(60), "the run must end long before its timeout"
        got = {label: (s.status, s.reason) for label, s in runner.get_function_statuses().items()}
        log = read_log(runner, "start")
    assert not runner.timed_out
    assert got["start"][0] == Status.FAILED, got
    assert f"SLURM job {job_id} (NapFlow-start) ended CANCELLED" in got["start"][1], got
    assert "it was cancelled (scancel)" in got["start"][1], got
    assert got["next"][0] == Status.SKIPPED, got
    # the reason is in the action's log too, as the harness's line after faasr-py's own
    assert "napping 30 s" in log and "[ERROR] [faasr-easypy] Action start did not finish: SLURM job" in log, log
    assert cluster.wait_idle("NapFlow-") == []
    assert not standin_processes()


def test_cancelling_one_of_two_runs_of_a_workflow_leaves_the_others_jobs_alone(on_slurm, tmp_path):
    """Both runs' jobs are named NapFlow-<action>: only the job ids tell them apart."""
    cluster, _ = on_slurm
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wf_a, functions_a = nap_flow(tmp_path / "a", 4)
    wf_b, functions_b = nap_flow(tmp_path / "b", 4)
    with WorkflowRunner.from_testbed(wf_b, cluster.testbed_file, functions=functions_b, timeout=120,
                                     check_interval=0.3) as run_b:
        with WorkflowRunner.from_testbed(wf_a, cluster.testbed_file, functions=functions_a, timeout=120,
                                         check_interval=0.3) as run_a:
            a_start, b_start = job_of(run_a, "start"), job_of(run_b, "start")
            # both entry jobs run at once (two nodes); one of them waits for port 8000's lock
            wait_state(cluster, a_start, ("RUNNING",))
            wait_state(cluster, b_start, ("RUNNING",))
        # leaving the block closed run A: its jobs are scancel'ed, B's go on
        assert wait_state(cluster, a_start, ("CANCELLED",), timeout=20) == "CANCELLED"
        assert cluster.job(b_start).get("JobState") in ("RUNNING", "COMPLETING", "COMPLETED")
        assert run_b.wait(120)
        got_b = {label: s.status for label, s in run_b.get_function_statuses().items()}
        b_jobs = watched_jobs(run_b)
    assert got_b == {"start": Status.COMPLETED, "next": Status.COMPLETED}, got_b
    assert sorted(key for key in b_jobs.values()) == [("next", None), ("start", None)]  # its successor, learned
    assert all(cluster.job(j).get("JobState") == "COMPLETED" for j in b_jobs), {j: cluster.job(j) for j in b_jobs}
    assert cluster.wait_idle("NapFlow-") == []
    assert not standin_processes()


def test_a_faasr_job_cancelled_before_it_started_fails_its_action_too(on_slurm, tmp_path):
    """No node to run on (both drained): the job pends, is scancel'ed, and faasr-py never wrote a
    line; the harness's ERROR line is the action's whole log."""
    cluster, _ = on_slurm
    wf, functions = nap_flow(tmp_path, 0)
    nodes = ",".join(cluster.nodes())
    cluster.run("scontrol", "update", f"nodename={nodes}", "state=drain", "reason=faasr-easypy-test")
    try:
        with WorkflowRunner.from_testbed(wf, cluster.testbed_file, functions=functions, timeout=120,
                                         check_interval=0.3) as runner:
            job_id = job_of(runner, "start")
            wait_state(cluster, job_id, ("PENDING",))
            cluster.run("scancel", str(job_id))
            assert runner.wait(60), "the run must end long before its timeout"
            got = {label: (s.status, s.reason) for label, s in runner.get_function_statuses().items()}
            log = read_log(runner, "start")
    finally:
        cluster.run("scontrol", "update", f"nodename={nodes}", "state=resume", check=False)
    assert got["start"][0] == Status.FAILED and f"SLURM job {job_id} (NapFlow-start) ended CANCELLED" in got["start"][1]
    assert got["next"][0] == Status.SKIPPED, got
    assert len(log.splitlines()) == 1 and "[ERROR] [faasr-easypy] Action start did not finish" in log, log
    assert cluster.wait_idle("NapFlow-") == []
