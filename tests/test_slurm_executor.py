"""The cluster executor on the real SLURM cluster (testbeds/slurm_cluster.yaml, Runtime: local):
the local scheduler submits each action (each rank) as a SLURM job; the monitor is the same.
Faults: a job scancel'ed, a job over its time limit, a node drained, slurmrestd stopped mid-run:
each ends with a verdict for every action and the reason, nothing of ours left in the queue,
no leftover process. R actions: each job starts its own R server cold and stops it with the job."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.workflow import load_workflow

from .processes import alive, cmdline
from .slurm_cluster import is_loopback, listening_sockets, read_log
from .workflow_factory import NAP_FUNCTIONS, action, workflow

PROJECT = Path(__file__).resolve().parent.parent
TESTBED = PROJECT / "testbeds" / "slurm_cluster.yaml"

pytestmark = pytest.mark.slow

R_FUNCTIONS = '''
square_up <- function(n) {
    writeLines(as.character(n * n), "square.txt")
    faasr_put_file(local_file = "square.txt", remote_file = "square.txt", remote_folder = "rslurm")
    faasr_log(paste("R on", Sys.getenv("SLURMD_NODENAME"), "squared", n, "to", n * n))
}

explode <- function() deeper(2)
deeper <- function(n) stop("the sky fell in ", n, " places")

sleeper <- function() {
    faasr_log("R sleeping")
    Sys.sleep(120)
}
'''


@pytest.fixture
def cluster_env(slurm_cluster, monkeypatch, tmp_path):
    for var in (ENV_ENDPOINT, ENV_ACCESS_KEY, ENV_SECRET_KEY):
        monkeypatch.delenv(var, raising=False)  # the testbed's embedded S3
    monkeypatch.setenv("FAASR_EASYPY_SLURM_ENDPOINT", slurm_cluster.endpoint)
    monkeypatch.setenv("FAASR_EASYPY_SLURM_TOKEN", slurm_cluster.token())
    slurm_cluster.baseline = slurm_cluster.last_job_id()
    slurm_cluster.testbed_file = slurm_cluster.testbed(TESTBED, tmp_path)  # this cluster's jobs/ folder
    yield slurm_cluster
    for path in (slurm_cluster.dir / "jobs").glob("faasr-easypy-*.out"):
        path.unlink(missing_ok=True)


def nap_workflow(cluster, tmp_path, seconds, action_timeout=None):
    """start (naps) -> next (quick), as a workflow file beside its functions; the testbed file."""
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "fns.py").write_text(NAP_FUNCTIONS)
    data = workflow({"start": action("nap", args={"seconds": seconds}, nxt=["next"]),
                     "next": action("quick")}, name="NapFlow")
    path = tmp_path / "nap.json"
    path.write_text(json.dumps(data))
    testbed = cluster.testbed_file
    if action_timeout:  # the device's: one action's limit
        (tmp_path / "timed").mkdir()
        testbed = cluster.testbed(TESTBED, tmp_path / "timed", f"\n        ActionTimeout: {action_timeout}")
    return load_workflow(path), functions, testbed


def our_processes():
    """Action runners of our jobs, and the R servers and workers they started (their folder is
    in the job's faasr-easypy-slurm-action-* folder, so the fork server's are not counted).
    From /proc: ps cuts long command lines to $COLUMNS."""
    lines = [f"{pid} {cmdline(pid)}" for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
             if alive(pid)]
    return [line for line in lines if "slurm_action" in line or "faasr-easypy-slurm-action-" in line]


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


def cancelled_and_settled(cluster, got):
    """`start` was scancel'ed: FAILED with that reason, `next` SKIPPED, nothing of ours left."""
    assert got["start"][0] == Status.FAILED and "cancelled (scancel)" in got["start"][1], got
    assert got["next"][0] == Status.SKIPPED, got
    settled(cluster)


def test_ranks_and_fan_in_spread_over_both_nodes(cluster_env):
    wf = load_workflow(PROJECT / "workflows" / "fan_out_fan_in.json")
    with WorkflowRunner.from_testbed(wf, cluster_env.testbed_file, timeout=120, check_interval=0.2) as runner:
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
    wf, functions, testbed = nap_workflow(cluster_env, tmp_path, 30)
    with WorkflowRunner.from_testbed(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
        job_id, _ = wait_running(cluster_env, "faasr-NapFlow-start-")
        cluster_env.run("scancel", job_id)
        assert runner.wait(40)
        got = statuses(runner)
    cancelled_and_settled(cluster_env, got)


def test_a_job_over_its_time_limit_is_stopped_and_says_so(cluster_env, tmp_path):
    wf, functions, testbed = nap_workflow(cluster_env, tmp_path, 60, action_timeout=3)
    started = time.monotonic()
    with WorkflowRunner.from_testbed(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
        assert runner.wait(40)
        got = statuses(runner)
    assert time.monotonic() - started < 40
    assert got["start"][0] == Status.FAILED and "time limit of 3 s" in got["start"][1], got
    assert got["next"][0] == Status.SKIPPED
    settled(cluster_env)


def test_a_drained_node_finishes_its_job_and_gets_no_new_ones(cluster_env, tmp_path):
    wf, functions, testbed = nap_workflow(cluster_env, tmp_path, 3)
    try:
        with WorkflowRunner.from_testbed(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
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
    wf, functions, testbed = nap_workflow(cluster_env, tmp_path, 3)
    pidfile = cluster_env.dir / "run" / "slurmrestd.pid"
    try:
        with WorkflowRunner.from_testbed(wf, testbed, functions=functions, timeout=60, check_interval=0.2) as runner:
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
    """jobs/faasr_job.py and its testscripts, unchanged, with every action a SLURM job; the R
    example's R actions each start their own R server in their job."""
    from .easypy_helpers import all_text, leftovers, run_job, task_results

    token = cluster_env.env.get("FAASR_EASYPY_SLURM_TOKEN") or cluster_env.token()
    rc, out, archive, tag = run_job("jobs/faasr_job.py", "--testbed-file", cluster_env.testbed_file,
                                    "--archive-dir", tmp_path, timeout=300,
                                    env={"FAASR_EASYPY_SLURM_TOKEN": token,
                                         "FAASR_EASYPY_SLURM_ENDPOINT": cluster_env.endpoint})
    assert rc == 0, out[-4000:]
    examples = ["data_pipeline", "conditional", "fan_out_fan_in", "failing_function", "mixed_r_python"]
    results = {t: r["result"] for t, r in task_results(archive).items()}
    assert results == {t: "passed" for t in examples}
    jobs = cluster_env.jobs_after(cluster_env.baseline, "faasr-")
    assert {name.split("-")[1] for _, name, _, _ in jobs} >= {
        "DataPipeline", "ConditionalCheck", "FanOutFanIn", "FailingStep", "MixedRPython"}
    mixed = {name.split("-", 2)[2][:-37] for _, name, _, _ in jobs if name.startswith("faasr-MixedRPython-")}
    assert {"create-data", "sum-v1", "count-rows"} <= mixed, mixed  # R and Python actions, each a job
    pipeline = [name for _, name, _, _ in jobs if name.startswith("faasr-DataPipeline-")]
    invocation = pipeline[0][-36:]  # faasr-<workflow>-<action>-<InvocationID> (a UUID)
    assert pipeline == [f"faasr-DataPipeline-{a}-{invocation}" for a in ("create-input", "compute-sum", "publish")]
    assert token not in out and token not in all_text(archive)
    outputs = "".join(p.read_text(errors="replace") for p in (cluster_env.dir / "jobs").glob("faasr-easypy-*.out"))
    assert token not in outputs
    assert not leftovers(tag)
    settled(cluster_env)


# -- R actions: each job starts the R server cold for its one action ----------------------

def r_run(cluster, tmp_path, actions):
    """A runner of an R workflow (functions in actions.R) on the cluster executor."""
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "actions.R").write_text(R_FUNCTIONS)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(workflow(actions, name="RFlow")))
    return WorkflowRunner.from_testbed(load_workflow(path), cluster.testbed_file, functions=functions,
                                       timeout=120, check_interval=0.2)


def r_action(function, **kwargs):
    return action(function=function, type="R", **kwargs)


def test_r_actions_run_in_their_jobs_with_their_own_r_server(cluster_env, tmp_path):
    with r_run(cluster_env, tmp_path, {"start": r_action("square_up", args={"n": 7}, nxt=["next"]),
                                       "next": r_action("square_up", args={"n": 3})}) as runner:
        assert runner.wait(120)
        got = statuses(runner)
        logs = {label: read_log(runner, label) for label in ("start", "next")}
    assert {k: v[0] for k, v in got.items()} == {"start": Status.COMPLETED, "next": Status.COMPLETED}, got
    assert "squared 7 to 49" in logs["start"] and "squared 3 to 9" in logs["next"], logs
    assert "R on n1 squared" in logs["start"] or "R on n2 squared" in logs["start"]  # in a SLURM job
    jobs = cluster_env.jobs_after(cluster_env.baseline, "faasr-RFlow-")
    assert sorted(name.split("-")[2] for _, name, _, _ in jobs) == ["next", "start"]
    settled(cluster_env)  # no R server or worker outlives its job


def test_a_failing_r_action_fails_with_the_r_error_and_skips_downstream(cluster_env, tmp_path):
    with r_run(cluster_env, tmp_path, {"start": r_action("explode", nxt=["next"]),
                                       "next": r_action("square_up", args={"n": 1})}) as runner:
        assert runner.wait(120)
        got = statuses(runner)
        log = read_log(runner, "start")
    assert got["start"][0] == Status.FAILED and got["next"][0] == Status.SKIPPED, got
    message = "The R function explode stopped with an error: Error in deeper(2): the sky fell in 2 places"
    assert message in log and "Call stack (innermost last):" in log, log
    assert "the sky fell in 2 places" in got["start"][1], got
    settled(cluster_env)


def test_an_r_action_without_r_on_the_node_says_so(cluster_env, tmp_path, monkeypatch):
    monkeypatch.setenv("FAASR_EASYPY_RSCRIPT", "/nonexistent/Rscript")  # the executor passes it on
    with r_run(cluster_env, tmp_path, {"start": r_action("square_up", args={"n": 2})}) as runner:
        assert runner.wait(120)
        got = statuses(runner)
    assert got["start"][0] == Status.FAILED, got
    assert "R is not installed on this machine (no Rscript on PATH)" in got["start"][1], got
    settled(cluster_env)


def test_an_r_action_cancelled_with_scancel_leaves_no_r_process(cluster_env, tmp_path):
    with r_run(cluster_env, tmp_path, {"start": r_action("sleeper", nxt=["next"]),
                                       "next": r_action("square_up", args={"n": 1})}) as runner:
        job_id, _ = wait_running(cluster_env, "faasr-RFlow-start-")
        deadline = time.monotonic() + 60
        while "R sleeping" not in read_log(runner, "start") and time.monotonic() < deadline:
            time.sleep(0.2)
        r_processes = [line for line in our_processes() if "slurm_action" not in line]
        assert r_processes, "the job's R server and worker run while the function sleeps"
        cluster_env.run("scancel", job_id)
        assert runner.wait(60)
        got = statuses(runner)
    cancelled_and_settled(cluster_env, got)
