"""Issue 15 figures on the real SLURM cluster of scripts/slurm-cluster (printed, never asserted).

- cluster start-up from nothing to "a job ran", and stop (cancelling jobs first);
- what one cluster-executor job pays before its function runs (fresh interpreter, imports, boto3 client);
- submit->running latency p50/p95 over N tiny jobs posted to slurmrestd as FaaSr posts them
  (each job's first line is its start time; the submit time is taken before the POST);
- jobs (actions) per second: N jobs from the first submit to the last job's end;
- a regression of W workflows x 20 actions (fan-out of 0.5 s actions) on the cluster executor
  (Runtime: local on SLURM) next to the same run on the local fork server: wall time and slot
  utilisation = busy action-seconds / (slots x wall), slots = CPUs (2 here in both cases).

Needs root on Debian (the cluster's script installs and starts it); prints why and exits 0
elsewhere, so `make bench` still runs the others. Leaves the cluster as it found it.

Run: .venv/bin/python benchmarks/bench_slurm.py [--quick]
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
SCRIPT = PROJECT / "scripts" / "slurm-cluster"
sys.path.insert(0, str(HERE))
SLOTS = os.cpu_count() or 1


def sh(*args, timeout=300):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def env_of(output):
    return dict(line.split("=", 1) for line in output.splitlines() if line.startswith(("FAASR_", "SLURM_")))


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_start_stop(was_running):
    if was_running:
        t = time.monotonic()
        sh("stop")
        print(f"stop (cancel jobs, end 5 daemons)   {time.monotonic() - t:6.2f} s")
    t = time.monotonic()
    started = sh("start")
    up = time.monotonic() - t
    if started.returncode != 0:
        print(started.stdout, started.stderr)
        raise SystemExit(1)
    print(f"start from nothing to 'a job ran'   {up:6.2f} s   ({started.stdout.splitlines()[-3].strip()})")
    t = time.monotonic()
    sh("stop")
    print(f"stop (cancel jobs, end 5 daemons)   {time.monotonic() - t:6.2f} s")
    started = sh("start")
    return env_of(started.stdout)


def bench_latency(env, count, one_at_a_time=False):
    endpoint = env["FAASR_EASYPY_SLURM_ENDPOINT"]
    conf_dir = Path(env["SLURM_CONF"]).parent
    out_dir = conf_dir / "jobs" / f"bench-{os.getpid()}"
    out_dir.mkdir(parents=True)
    out_dir.chmod(0o777)
    token = sh("token", "600").stdout.strip()
    headers = {"X-SLURM-USER-TOKEN": token, "X-SLURM-USER-NAME": "root"}
    session = requests.Session()
    submitted = {}
    first = time.time()
    for i in range(count):
        body = {"job": {"name": f"faasr-easypy-bench-{i}", "partition": "faasr", "nodes": "1", "tasks": "1",
                        "cpus_per_task": "1", "memory_per_cpu": "100", "time_limit": "1",
                        "current_working_directory": str(out_dir), "environment": {"I": str(i)},
                        "standard_output": str(out_dir / f"{i}.out")},
                "script": "#!/bin/bash\ndate +%s.%N\n"}
        submitted[i] = time.time()
        r = session.post(f"{endpoint}/slurm/v0.0.37/job/submit", json=body, headers=headers, timeout=30)
        r.raise_for_status()
        while one_at_a_time and not (out_dir / f"{i}.out").exists() and time.time() < submitted[i] + 30:
            time.sleep(0.01)  # an idle cluster: the next job only once this one started
    deadline = time.time() + 120 + count
    latencies = {}
    while len(latencies) < count and time.time() < deadline:
        for i in range(count):
            if i in latencies:
                continue
            path = out_dir / f"{i}.out"
            try:
                latencies[i] = float(path.read_text().split()[0]) - submitted[i]
            except (OSError, ValueError, IndexError):
                pass
        time.sleep(0.1)
    last = max(float((out_dir / f"{i}.out").stat().st_mtime) for i in latencies)
    lat = list(latencies.values())
    how = "one at a time, idle cluster" if one_at_a_time else "burst, queue wait included"
    print(f"submit->running over {len(lat)} jobs ({how})  p50 {percentile(lat, 0.5):5.2f} s   p95 "
          f"{percentile(lat, 0.95):5.2f} s   max {max(lat):5.2f} s   mean {statistics.mean(lat):5.2f} s")
    if not one_at_a_time:
        print(f"jobs (actions) per second           {len(lat) / (last - first):6.2f} /s   "
              f"({len(lat)} tiny jobs on 2 one-CPU nodes, {last - first:.1f} s)")
    for path in out_dir.iterdir():
        path.unlink()
    out_dir.rmdir()


STARTUP = """
import time
t0 = time.perf_counter()
from faasr_easypy.backends.local.forkserver import SHIM  # what slurm_action.main() does first
t1 = time.perf_counter()
from faasr_easypy.s3.client import DataStore, make_client
make_client(DataStore(name="s", bucket="b", endpoint="http://127.0.0.1:9", access_key="a", secret_key="b"))
t2 = time.perf_counter()
from faasr_easypy.backends.local.action_process import _run
print(t1 - t0, t2 - t1, time.perf_counter() - t2)
"""


def bench_job_startup(runs):
    """What each cluster-executor job pays before its function runs, in a fresh interpreter
    (the fork server forks a warm one): interpreter, imports, one boto3 client."""
    rows = []
    for _ in range(runs):
        t = time.monotonic()
        out = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True,
                             cwd=PROJECT).stdout.split()
        rows.append((time.monotonic() - t, *map(float, out)))
    total, imports, client, action = (statistics.median(col) for col in zip(*rows, strict=True))
    print(f"job start-up, fresh interpreter (median of {runs})  {total:5.2f} s   (harness imports {imports:.2f} s, "
          f"boto3 import + S3 client {client:.2f} s, action runner {action:.2f} s, the rest interpreter start/exit)")


def regression(env, count):
    """`count` fan-out workflows of 20 actions at once, on one backend: cluster executor vs fork server."""
    import functools

    import workflows as generated
    from faasr_easypy.backends.local import LocalBackend
    from faasr_easypy.backends.local.slurm_executor import SlurmExecutor
    from faasr_easypy.environment import S3Service
    from faasr_easypy.invocation import Invocation
    from faasr_easypy.s3.server import EmbeddedS3Server
    from faasr_easypy.workflow import parse_workflow

    token = sh("token", "3600").stdout.strip()
    executor = functools.partial(SlurmExecutor, endpoint=env["FAASR_EASYPY_SLURM_ENDPOINT"], token=token,
                                 working_dir=str(Path(env["SLURM_CONF"]).parent / "jobs"))
    server = EmbeddedS3Server().start()
    try:
        service = S3Service(server.endpoint, server.access_key, server.secret_key, server=server)
        for name, options in (("local fork server", {}), ("SLURM cluster executor", {"executor": executor})):
            wfs = [parse_workflow(dict(generated.fan(18, function="sleepy"), WorkflowName=f"Fan18n{i}"))
                   for i in range(count)]
            backend = LocalBackend(HERE / "functions", service.stores_for(wfs[0]), max_parallel=2 * SLOTS,
                                   **options)
            try:
                invs = [Invocation(wf) for wf in wfs]
                t = time.monotonic()
                for inv in invs:
                    backend.trigger(inv)
                for inv in invs:
                    assert backend.wait(inv, 900), f"{inv} did not finish"
                wall = time.monotonic() - t
                results = [r for inv in invs for r in backend.results(inv).values()]
            finally:
                backend.close()
            failed = [r for r in results if not r["ok"]]
            busy = sum(r["seconds"] or 0 for r in results)
            print(f"{count} workflows x 20 actions, {name:22s} wall {wall:6.1f} s   {len(results)} actions, "
                  f"{len(failed)} failed   slot utilisation {busy / (SLOTS * wall):5.1%} "
                  f"({busy:.0f} busy action-s / {SLOTS} slots)")
    finally:
        server.stop()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if os.geteuid() != 0:
        print("bench_slurm: skipped, the SLURM test cluster needs root")
        return 0
    was_running = sh("status").returncode == 0
    try:
        env = bench_start_stop(was_running)
        bench_job_startup(5 if "--quick" in argv else 20)
        bench_latency(env, 10 if "--quick" in argv else 30, one_at_a_time=True)
        bench_latency(env, 20 if "--quick" in argv else 100)
        regression(env, 2 if "--quick" in argv else 10)
    finally:
        if not was_running:
            sh("stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
