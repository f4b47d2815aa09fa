"""Issue 2 figures: embedded S3 start/stop, dispatch overhead, fan-out/fan-in time.

Each figure is printed next to a baseline measured in the same run:
- S3 start/stop: `weed server -s3` would be the alternative; we print ours only
  against the target, since the baseline is documented at ~15 s to stop.
- dispatch: a cold interpreter that imports boto3 and puts one object, which is
  what a naive "one subprocess per action" backend pays per action.
- fan-out/fan-in: the same workflow with max_parallel=1 (one action at a time,
  like faasr-py's runtime on one host).

- scale (issue 20): `faasr-easypy run` of fan-out 200 + fan-in, fan-out 1000 and a
  chain of 100, as a user runs them: wall time and peak RSS of its whole process
  tree (CLI, weed, fork server, actions), sampled every 50 ms. `--tree DIR` runs the
  code of another checkout (e.g. an export of main) for the baseline.

Run: .venv/bin/python benchmarks/bench_local.py [--quick] [--scale-only [--tree DIR]]
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workflows as generated  # noqa: E402
from faasr_easypy.backends.local import LocalBackend  # noqa: E402
from faasr_easypy.environment import S3Service  # noqa: E402
from faasr_easypy.invocation import Invocation  # noqa: E402
from faasr_easypy.s3.server import EmbeddedS3Server  # noqa: E402
from faasr_easypy.workflow import parse_workflow  # noqa: E402
from tests.processes import descendants  # noqa: E402

FUNCTIONS = HERE / "functions"


def bench_s3(rounds):
    starts, stops = [], []
    for _ in range(rounds):
        server = EmbeddedS3Server()
        t = time.monotonic()
        server.start()
        starts.append(time.monotonic() - t)
        t = time.monotonic()
        server.stop()
        stops.append(time.monotonic() - t)
    return statistics.median(starts), statistics.median(stops)


def run_once(service, data, max_parallel=None):
    wf = parse_workflow(data)
    backend = LocalBackend(FUNCTIONS, service.stores_for(wf), max_parallel=max_parallel)
    try:
        warm = Invocation(parse_workflow(generated.chain(2)))  # start the fork server first
        backend.trigger(warm)
        backend.wait(warm, 60)
        inv = Invocation(wf)
        t = time.monotonic()
        backend.trigger(inv)
        assert backend.wait(inv, 600), "benchmark run did not finish"
        wall = time.monotonic() - t
        results = backend.results(inv)
    finally:
        backend.close()
    failed = [k for k, r in results.items() if not r["ok"]]
    assert not failed, f"actions failed: {failed}"
    return wall, results


def dispatch_overheads(results, length):
    """For a chain a0..aN: successor's first log line minus predecessor's .done."""
    gaps = []
    for i in range(length - 1):
        gaps.append(results[f"a{i + 1}"]["first_log_at"] - results[f"a{i}"]["done_at"])
    return gaps


def cold_action_seconds(service, rounds=5):
    code = ("import boto3,sys; c=boto3.client('s3',endpoint_url=sys.argv[1],aws_access_key_id=sys.argv[2],"
            "aws_secret_access_key=sys.argv[3],region_name='us-east-1');"
            "c.put_object(Bucket='faasr',Key='bench/cold',Body=b'x')")
    times = []
    for _ in range(rounds):
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", code, service.endpoint, service.access_key, service.secret_key],
                       check=True)
        times.append(time.monotonic() - t)
    return statistics.median(times)


def _tree_memory(root):
    """(RSS, PSS) bytes of `root` and all its descendants, from /proc. RSS counts every page
    a forked action shares with the fork server once per process (the issue's figure); PSS
    splits shared pages among their sharers, so its sum is the tree's real memory."""
    rss = pss = 0
    for pid in [root] + descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    name, _, value = line.partition(":")
                    if name == "Rss":
                        rss += int(value.split()[0]) * 1024
                    elif name == "Pss":
                        pss += int(value.split()[0]) * 1024
        except OSError:
            pass
    return rss, pss


def cli_run(data, tree=None, timeout=300):
    """`faasr-easypy run` of workflow `data`: (wall seconds, peak tree RSS bytes, PSS bytes at that
    moment, CPU seconds of the whole tree: on a shared machine the CPU time is the steadier figure)."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        path = Path(folder) / "wf.json"
        path.write_text(json.dumps(data))
        env = dict(os.environ, PYTHONPATH=str(tree) if tree else str(HERE.parent))
        cmd = [sys.executable, "-m", "faasr_easypy.cli", "run", str(path), "--functions", str(FUNCTIONS),
               "--timeout", str(timeout)]
        peak = peak_pss = 0
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=folder)
        out = []
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
        while proc.poll() is None:
            rss, pss = _tree_memory(proc.pid)
            if rss > peak:
                peak, peak_pss = rss, pss
            time.sleep(0.05)
        wall = time.monotonic() - t
        proc.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        reader.join(10)
        text = out[0].decode(errors="replace") if out else ""
        if proc.returncode != 0:
            raise SystemExit(f"faasr-easypy run failed ({proc.returncode}):\n{text[-3000:]}")
    return wall, peak, peak_pss, cpu


def bench_scale(tree=None):
    cases = [("fan-out 200 + fan-in", generated.fan(200)), ("fan-out 1000 + fan-in", generated.fan(1000)),
             ("chain of 100", generated.chain(100))]
    print(f"scale, `faasr-easypy run` ({'code of ' + str(tree) if tree else 'this checkout'}):")
    for name, data in cases:
        wall, peak, pss, cpu = cli_run(data, tree)
        print(f"  {name:24s} {wall:6.2f} s   peak RSS of the process tree {peak / 2**20:6.0f} MiB "
              f"(PSS then {pss / 2**20:4.0f} MiB)   CPU {cpu:6.2f} s")
    print(f"  issue 20 target: fan-out 1000 <= 12 s and <= 600 MiB (peak RSS); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main():
    quick = "--quick" in sys.argv
    if "--scale-only" in sys.argv:
        tree = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else None
        bench_scale(tree)
        return
    start, stop = bench_s3(3 if quick else 7)
    print(f"embedded S3 ready (median)      {start:6.2f} s   target <= 1.5 s")
    print(f"embedded S3 stop  (median)      {stop:6.2f} s   target <= 3 s")

    server = EmbeddedS3Server().start()
    service = S3Service(server.endpoint, server.access_key, server.secret_key, server=server)
    try:
        length = 30 if quick else 100
        wall, results = run_once(service, generated.chain(length))
        gaps = dispatch_overheads(results, length)
        cold = cold_action_seconds(service)
        med = statistics.median(gaps)
        print(f"dispatch overhead, {length}-action chain: median {med * 1000:5.1f} ms, "
              f"p95 {sorted(gaps)[int(len(gaps) * 0.95) - 1] * 1000:5.1f} ms   target <= 30 ms")
        print(f"  baseline: cold interpreter + boto3 + one put {cold * 1000:6.1f} ms "
              f"(ours is {cold / med:4.1f}x faster)")
        print(f"  chain wall time {wall:.2f} s ({wall / length * 1000:.1f} ms per action)")

        width = 50
        fan_wall, _ = run_once(service, generated.fan(width))
        serial_wall, _ = run_once(service, generated.fan(width), max_parallel=1)
        print(f"1 -> {width} -> 1 fan-out/fan-in:        {fan_wall:6.2f} s   target <= 4 s")
        print(f"  baseline: same workflow one action at a time {serial_wall:6.2f} s "
              f"({serial_wall / fan_wall:4.1f}x); faasr-py 2.1.0 needs ~1.5 s/action = "
              f"~{1.5 * (width + 2):.0f} s")
    finally:
        service.close()
    bench_scale()


if __name__ == "__main__":
    main()
