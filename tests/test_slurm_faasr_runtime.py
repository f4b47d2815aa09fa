"""FaaSr's own runtime on the real SLURM cluster (testbeds/slurm_local.yaml): the harness submits
the entry action through slurmrestd, each job's `docker run` runs faasr-py 2.1.0 (the nodes'
docker stand-in), and faasr-py submits the successors itself, ranks and fan-in included."""

import os
import subprocess
from pathlib import Path

import pytest

from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.tester import WorkflowTester
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
    yield slurm_cluster, token
    for path in set(jobs_dir.iterdir()) - before:  # the jobs' output files (FaaSr: <name>-<id>.out)
        path.unlink()


def job_outputs(cluster, since):
    return {p: p.read_text(errors="replace") for p in (cluster.dir / "jobs").glob("slurm-*.out") if p not in since}


def standin_processes():
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "docker_standin" in line or "faasr_entry.py" in line]


def test_data_pipeline_runs_as_slurm_jobs_and_faasr_py_submits_the_successors(on_slurm):
    cluster, token = on_slurm
    before = set((cluster.dir / "jobs").iterdir())
    wf = load_workflow(PROJECT / "workflows" / "data_pipeline.json")
    with WorkflowTester(wf, TESTBED, timeout=180, check_interval=0.3) as tester:
        tester.wait_for("publish")
        tester.assert_content_equals(f"pipeline/{tester.invocation_id}/sum.txt", "210")
        secret = tester.runner.data_store.secret_key
        log = tester.runner.get_function_statuses()
    assert {label: s.status for label, s in log.items()} == {
        "create-input": Status.COMPLETED, "compute-sum": Status.COMPLETED, "publish": Status.COMPLETED}
    jobs = cluster.jobs_after(cluster.baseline, "DataPipeline-")
    names = [name for _, name, _, _ in jobs]
    for action in ("create-input", "compute-sum", "publish"):
        assert f"DataPipeline-{action}" in names, jobs  # one SLURM job per action
    assert {node for *_, node in jobs} == {"n1", "n2"}, f"jobs spread over both nodes: {jobs}"
    assert cluster.wait_idle("DataPipeline-") == []
    outputs = job_outputs(cluster, before)
    assert len(outputs) >= 3
    text = "\n".join(outputs.values())
    assert "running faasr/slurm-r:latest as faasr-py 2.1.0" in text
    assert "SLURM: Successfully submitted job: compute-sum" in text  # faasr-py's own invoker line
    assert token not in text and secret not in text  # the job's output shows only OVERWRITTEN's length
    assert not standin_processes()


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
    examples = ["data_pipeline", "conditional", "fan_out_fan_in", "failing_function"]
    assert {t: r["result"] for t, r in task_results(archive).items()} == {t: "passed" for t in examples}
    data = read_json(archive, "faasr_results.json")
    assert {w["platform"] for w in data["workflows"]} == {"SLURM"}
    assert token not in out and token not in all_text(archive)
    assert not leftovers(tag)
    assert cluster.wait_idle() == []
    assert not standin_processes()
