"""The cluster executor on the real SLURM cluster (testbeds/slurm_cluster.yaml, Runtime: local):
the local scheduler submits each action (each rank) as a SLURM job; the monitor is the same.
Faults: a job scancel'ed, a job over its time limit, a node drained, slurmrestd stopped mid-run:
each ends with a verdict for every action and the reason, nothing of ours left in the queue,
no leftover process."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.workflow import load_workflow

from .slurm_cluster import is_loopback, listening_sockets
from .workflow_factory import action, workflow

PROJECT = Path(__file__).resolve().parent.parent
TESTBED = PROJECT / "testbeds" / "slurm_cluster.yaml"

pytestmark = pytest.mark.slow

FUNCTIONS = '''
import time

from FaaSr_py.client.py_client_stubs import faasr_log


def nap(seconds=0):
    faasr_log(f"napping {seconds} s")
    time.sleep(seconds)


def quick():
    faasr_log("quick")
'''


@pytest.fixture
def cluster_env(slurm_cluster, monkeypatch):
    for var in (ENV_ENDPOINT, ENV_ACCESS_KEY, ENV_SECRET_KEY):
        monkeypatch.delenv(var, raising=False)  # the testbed's embedded S3
    monkeypatch.setenv("FAASR_EASYPY_SLURM_ENDPOINT", slurm_cluster.endpoint)
    monkeypatch.setenv("FAASR_EASYPY_SLURM_TOKEN", slurm_cluster.token())
    slurm_cluster.baseline = slurm_cluster.last_job_id()
    yield slurm_cluster
    for path in (slurm_cluster.dir / "jobs").glob("faasr-easypy-*.out"):
        path.unlink(missing_ok=True)


def nap_workflow(tmp_path, seconds, action_timeout=None):
    """start (naps) -> next (quick), as a workflow file beside its functions; the testbed file."""
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "fns.py").write_text(FUNCTIONS)
    data = workflow({"start": action("nap", args={"seconds": seconds}, nxt=["next"]),
                     "next": action("quick")}, name="NapFlow")
    path = tmp_path / "nap.json"
    path.write_text(json.dumps(data))
    testbed = TESTBED
    if action_timeout:
        testbed = tmp_path / "testbed.yaml"
        testbed.write_text(TESTBED.read_text().replace(  # the device's: one action's limit
            "        MaxParallel: 8", f"        MaxParallel: 8\n        ActionTimeout: {action_timeout}"))
    return load_workflow(path), functions, testbed


def our_processes():
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "slurm_action" in line]


def wait_running(cluster, prefix, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id, _name, state, node in cluster.jobs_after(cluster.baseline, prefix):
            if state == "RUNNING":
                return job_id, node
        time.sleep(0.1)
    raise AssertionError(f"no job {prefix}* running: {cluster.jobs_after(cluster.baseline)}")


def statuses(runner):
    return {label: (s.status, s.reason) for label, s in runner.get_function_statuses().items()}


def settled(cluster):
    assert cluster.wait_idle("faasr-") == [], "our jobs must be gone from the queue"
    deadline = time.monotonic() + 10
    while our_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not our_processes()


def test_ranks_and_fan_in_spread_over_both_nodes(cluster_env):
    import os

    wf = load_workflow(PROJECT / "workflows" / "fan_out_fan_in.json")
    with WorkflowRunner(wf, TESTBED, timeout=120, check_interval=0.2) as runner:
        assert runner.wait(120)
        got = {label: s.status for label, s in runner.get_function_statuses().items()}
        # while it runs: what the harness listens on is loopback only (the executor uses a Unix socket)
        sockets = listening_sockets([os.getpid()])
        assert all(is_loopback(addr) for _, addr, _ in sockets), sockets
    ranks = wf.rank_count("square")
    assert set(got.values()) == {Status.COMPLETED} and len(got) == ranks + 2
    jobs = cluster_env.jobs_after(cluster_env.baseline, "faasr-FanOutFanIn-")
    assert len(jobs) == ranks + 2, "one job per rank, and gather once (the scheduler's fan-in)"
    assert {node for *_, node in jobs} == {"n1", "n2"}
    settled(cluster_env)


def test_a_job_cancelled_with_scancel_fails_its_action_with_the_reason(cluster_env, tmp_path):
    wf, functions, testbed = nap_workflow(tmp_path, 30)
    with WorkflowRunner(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
        job_id, _ = wait_running(cluster_env, "faasr-NapFlow-start-")
        cluster_env.run("scancel", job_id)
        assert runner.wait(40)
        got = statuses(runner)
    assert got["start"][0] == Status.FAILED and "cancelled (scancel)" in got["start"][1], got
    assert got["next"][0] == Status.SKIPPED, got
    settled(cluster_env)


def test_a_job_over_its_time_limit_is_stopped_and_says_so(cluster_env, tmp_path):
    wf, functions, testbed = nap_workflow(tmp_path, 60, action_timeout=3)
    started = time.monotonic()
    with WorkflowRunner(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
        assert runner.wait(40)
        got = statuses(runner)
    assert time.monotonic() - started < 40
    assert got["start"][0] == Status.FAILED and "time limit of 3 s" in got["start"][1], got
    assert got["next"][0] == Status.SKIPPED
    settled(cluster_env)


def test_a_drained_node_finishes_its_job_and_gets_no_new_ones(cluster_env, tmp_path):
    wf, functions, testbed = nap_workflow(tmp_path, 3)
    try:
        with WorkflowRunner(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
            _, node = wait_running(cluster_env, "faasr-NapFlow-start-")
            cluster_env.run("scontrol", "update", f"nodename={node}", "state=drain", "reason=faasr-easypy-test")
            assert runner.wait(40)
            got = statuses(runner)
    finally:
        cluster_env.run("scontrol", "update", f"nodename={node}", "state=resume", check=False)
    assert {k: v[0] for k, v in got.items()} == {"start": Status.COMPLETED, "next": Status.COMPLETED}, got
    nodes = {name.split("-")[2]: n for _, name, _, n in cluster_env.jobs_after(cluster_env.baseline, "faasr-NapFlow-")}
    assert nodes["start"] == node and nodes["next"] != node, nodes
    settled(cluster_env)


def test_slurmrestd_stopped_mid_run_the_running_action_finishes_the_next_fails(cluster_env, tmp_path):
    wf, functions, testbed = nap_workflow(tmp_path, 3)
    pidfile = cluster_env.dir / "run" / "slurmrestd.pid"
    try:
        with WorkflowRunner(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
            wait_running(cluster_env, "faasr-NapFlow-start-")
            subprocess.run(["kill", pidfile.read_text().strip()], check=True)
            assert runner.wait(40)
            got = statuses(runner)
    finally:
        restarted = cluster_env.script("start")
        assert restarted.returncode == 0, restarted.stderr
    assert got["start"][0] == Status.COMPLETED, got  # its report came through S3, not slurmrestd
    assert got["next"][0] == Status.FAILED and "did not accept its job" in got["next"][1], got
    settled(cluster_env)


def test_the_example_job_passes_on_the_cluster_executor(cluster_env, tmp_path):
    """jobs/faasr_job.py and its testscripts, unchanged, with every action a SLURM job."""
    from .easypy_helpers import all_text, leftovers, run_job, task_results

    token = cluster_env.env.get("FAASR_EASYPY_SLURM_TOKEN") or cluster_env.token()
    rc, out, archive, tag = run_job("jobs/faasr_job.py", "--testbed-file", TESTBED, "--archive-dir", tmp_path,
                                    timeout=300, env={"FAASR_EASYPY_SLURM_TOKEN": token,
                                                      "FAASR_EASYPY_SLURM_ENDPOINT": cluster_env.endpoint})
    assert rc == 1, out[-4000:]  # the R example: R actions need the fork server's R server
    python_examples = ["data_pipeline", "conditional", "fan_out_fan_in", "failing_function"]
    results = {t: r["result"] for t, r in task_results(archive).items()}
    assert results == dict({t: "passed" for t in python_examples}, mixed_r_python="failed")
    assert "the SLURM cluster executor does not run R actions yet" in out
    jobs = cluster_env.jobs_after(cluster_env.baseline, "faasr-")
    assert {name.split("-")[1] for _, name, _, _ in jobs} >= {
        "DataPipeline", "ConditionalCheck", "FanOutFanIn", "FailingStep"}
    pipeline = [name for _, name, _, _ in jobs if name.startswith("faasr-DataPipeline-")]
    invocation = pipeline[0][-36:]  # faasr-<workflow>-<action>-<InvocationID> (a UUID)
    assert pipeline == [f"faasr-DataPipeline-{a}-{invocation}" for a in ("create-input", "compute-sum", "publish")]
    assert token not in out and token not in all_text(archive)
    outputs = "".join(p.read_text(errors="replace") for p in (cluster_env.dir / "jobs").glob("faasr-easypy-*.out"))
    assert token not in outputs
    assert not leftovers(tag)
    settled(cluster_env)
