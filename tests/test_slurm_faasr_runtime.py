"""FaaSr's own runtime on the real SLURM cluster (testbeds/slurm_local.yaml): the harness submits
the entry action through slurmrestd, each job's `docker run` runs faasr-py 2.1.0 (the nodes'
docker stand-in), and faasr-py submits the successors itself, ranks and fan-in included."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.workflow import load_workflow

PROJECT = Path(__file__).resolve().parent.parent
TESTBED = PROJECT / "testbeds" / "slurm_local.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture
def on_slurm(slurm_cluster, faasr_python, monkeypatch):
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
    with WorkflowRunner(wf, TESTBED, timeout=240, check_interval=0.3) as runner:
        assert runner.wait(240)
        statuses = {label: s.status for label, s in runner.get_function_statuses().items()}
    ranks = wf.rank_count("square")
    assert statuses == {"split": Status.COMPLETED, "gather": Status.COMPLETED,
                        **{f"square({r})": Status.COMPLETED for r in range(1, ranks + 1)}}, statuses
    jobs = [name for _, name, _, _ in cluster.jobs_after(cluster.baseline, "FanOutFanIn-")]
    assert jobs.count("FanOutFanIn-square") == ranks
    # every rank triggers gather; the runtime's election lets exactly one copy run it
    assert jobs.count("FanOutFanIn-gather") == ranks
    assert cluster.wait_idle("FanOutFanIn-") == []
    assert not standin_processes()
    assert os.path.isdir(cluster.dir)


def test_the_example_job_passes_on_the_slurm_testbed(on_slurm, tmp_path):
    """jobs/faasr_job.py and its testscripts, unchanged, on testbeds/slurm_local.yaml."""
    from .easypy_helpers import all_text, leftovers, read_json, run_job, task_results

    cluster, token = on_slurm
    rc, out, archive, tag = run_job("jobs/faasr_job.py", "--testbed-file", TESTBED, "--archive-dir", tmp_path,
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


def test_a_run_that_times_out_leaves_no_job_of_its_invocation(on_slurm):
    """The workflow's timeout ends the run: close() cancels what faasr-py still has queued or running."""
    cluster, _ = on_slurm
    wf = load_workflow(PROJECT / "workflows" / "fan_out_fan_in.json")
    with WorkflowRunner(wf, TESTBED, timeout=8, check_interval=0.3) as runner:
        runner.wait(8)
        statuses = {label: s.status for label, s in runner.get_function_statuses().items()}
    assert set(statuses) >= {"split", "gather"}  # every action has a verdict
    assert Status.COMPLETED not in (statuses["gather"],)
    assert cluster.wait_idle("FanOutFanIn-", timeout=20) == []
    deadline = time.monotonic() + 10
    while standin_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not standin_processes()
