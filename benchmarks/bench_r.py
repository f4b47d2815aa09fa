"""Issue 13 figures: R actions on the local backend (the warm R server).

Printed, each next to a baseline measured in the same run:
- R dispatch over a 30-action R chain: predecessor's `.done` to the successor's
  first log line (the action process's), and to the moment the R function itself
  starts (its first statement logs the time); median and p95. Baseline: a cold
  `Rscript` that loads httr and jsonlite, what one Rscript per action would pay.
- an R 1 -> 20 -> 1 fan-out/fan-in: wall time, next to the same workflow on the
  real faasr-py 2.1.0 runtime (one action at a time, a cold Rscript each), unless --quick.
- unshared memory (USS: private clean + dirty pages) per running R action: its R
  worker and its Python action process, while 20 of them run at once.

Run: .venv/bin/python benchmarks/bench_r.py [--quick]
"""

import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workflows as generated  # noqa: E402
from faasr_easypy.backends.local import LocalBackend  # noqa: E402
from faasr_easypy.backends.local.r_server import rscript  # noqa: E402
from faasr_easypy.backends.local.scheduler import default_parallelism  # noqa: E402
from faasr_easypy.environment import S3Service  # noqa: E402
from faasr_easypy.invocation import Invocation  # noqa: E402
from faasr_easypy.s3.client import make_client  # noqa: E402
from faasr_easypy.s3.server import EmbeddedS3Server  # noqa: E402
from faasr_easypy.workflow import parse_workflow  # noqa: E402

FUNCTIONS = HERE / "functions"
STAMP = re.compile(r"^t=(\d+\.\d+)$", re.M)


def p95(values):
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def run_once(service, data, backend=None, during=None):
    """Run `data` on a local backend whose fork server and R server are already warm."""
    wf = parse_workflow(data)
    own = backend is None
    backend = backend or LocalBackend(FUNCTIONS, service.stores_for(wf))
    try:
        if own:
            warm = Invocation(parse_workflow(generated.chain(2, "noop_r", "R")))
            backend.trigger(warm)
            backend.wait(warm, 120)
        inv = Invocation(wf)
        t = time.monotonic()
        backend.trigger(inv)
        sampler = threading.Thread(target=during, args=(backend,), daemon=True) if during else None
        if sampler:
            sampler.start()
        assert backend.wait(inv, 900), "benchmark run did not finish"
        wall = time.monotonic() - t
        if sampler:
            sampler.join(30)
        results = backend.results(inv)
    finally:
        if own:
            backend.close()
    failed = [k for k, r in results.items() if not r["ok"]]
    assert not failed, f"actions failed: {failed}"
    return wall, results, inv


def r_function_starts(service, wf, inv, length):
    client = make_client(service.stores_for(wf)[wf.default_data_store])
    starts = {}
    for i in range(length):
        body = client.get_object(Bucket="faasr", Key=inv.layout.log_key(f"a{i}", None))["Body"].read().decode()
        starts[i] = float(STAMP.search(body).group(1))
    return starts


def cold_rscript_seconds(rounds=5):
    times = []
    for _ in range(rounds):
        t = time.monotonic()
        subprocess.run([rscript(), "-e", "suppressMessages({library(httr); library(jsonlite)})"], check=True)
        times.append(time.monotonic() - t)
    return statistics.median(times)


def uss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
    except OSError:
        return None
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty") if k in fields)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


class MemorySampler:
    """While the fan runs: the USS of every R worker and action process, at the busiest moment."""

    def __init__(self, width):
        self.width = width
        self.r_workers, self.actions = [], []

    def __call__(self, backend):
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline:
            server = backend._proc.pid
            r_servers = [p for p in _children(server) if "server.R" in _cmdline(p)]
            workers = [w for s in r_servers for w in _children(s)]
            if seen > 1 and not workers:
                break  # the fan is over (one worker alone is the entry action's)
            if len(workers) > seen:
                time.sleep(0.3)  # let them finish starting, then measure
                actions = [p for p in _children(server) if p not in r_servers]
                self.r_workers = [k for k in map(uss_kib, workers) if k]
                self.actions = [k for k in map(uss_kib, actions) if k]
                seen = len(workers)
                if seen >= self.width:
                    break
            time.sleep(0.05)


def main():
    quick = "--quick" in sys.argv
    if rscript() is None:
        print("R is not installed: run scripts/install-r")
        return 2
    server = EmbeddedS3Server().start()
    service = S3Service(server.endpoint, server.access_key, server.secret_key, server=server)
    try:
        length = 30
        data = generated.chain(length, "stamp_r", "R")
        wall, results, inv = run_once(service, data)
        starts = r_function_starts(service, parse_workflow(data), inv, length)
        to_log = [results[f"a{i + 1}"]["first_log_at"] - results[f"a{i}"]["done_at"] for i in range(length - 1)]
        to_r = [starts[i + 1] - results[f"a{i}"]["done_at"] for i in range(length - 1)]
        cold = cold_rscript_seconds(3 if quick else 5)
        print(f"R dispatch, {length}-action R chain (.done -> successor's first log line): "
              f"median {statistics.median(to_log) * 1000:5.1f} ms, p95 {p95(to_log) * 1000:5.1f} ms")
        print(f"R dispatch, {length}-action R chain (.done -> the R function running):      "
              f"median {statistics.median(to_r) * 1000:5.1f} ms, p95 {p95(to_r) * 1000:5.1f} ms   "
              "target <= 150 ms")
        print(f"  baseline: cold Rscript loading httr + jsonlite {cold * 1000:6.1f} ms "
              f"(the warm R server is {cold / statistics.median(to_r):4.1f}x faster)")
        print(f"  chain wall time {wall:.2f} s ({wall / length * 1000:.1f} ms per R action)")

        width = 20
        sampler = MemorySampler(min(width, default_parallelism()))  # at most max_parallel run at once
        fan_wall, _, _ = run_once(service, generated.fan(width, "noop_r", "R"))
        _, _, _ = run_once(service, generated.fan(width, "noop_r", "R", {"seconds": 3}), during=sampler)
        print(f"R 1 -> {width} -> 1 fan-out/fan-in: {fan_wall:6.2f} s")
        if not quick:
            seconds, processes = faasr_py_fan_seconds(service, width)
            print(f"  baseline: the same workflow on faasr-py 2.1.0 {seconds:6.2f} s "
                  f"({processes} runtime processes, one at a time)")
        if sampler.r_workers:
            print(f"unshared memory per running R action ({len(sampler.r_workers)} running, the max_parallel "
                  f"default): R worker median "
                  f"{statistics.median(sampler.r_workers) / 1024:5.1f} MiB + its Python action process "
                  f"{statistics.median(sampler.actions) / 1024:5.1f} MiB")
    finally:
        service.close()
    return 0


def faasr_py_fan_seconds(service, width):
    from faasr_easypy.backends.faasr_py import FaaSrPyBackend

    data = generated.fan(width, "noop_r", "R")
    data["FunctionGitRepo"] = {"noop_r": "bench/functions/R"}  # faasr-py downloads its functions from there
    wf = parse_workflow(data)
    backend = FaaSrPyBackend(FUNCTIONS, service.stores_for(wf))
    try:
        inv = Invocation(wf)
        t = time.monotonic()
        backend.trigger(inv)
        assert backend.wait(inv, 1800), "the faasr-py run did not finish"
        seconds = time.monotonic() - t
        attempts = backend.results(inv)
    finally:
        backend.close()
    client = make_client(service.stores_for(wf)[wf.default_data_store])
    client.head_object(Bucket="faasr", Key=inv.layout.done_key("join", None))  # it really finished
    failed = [a["label"] for a in attempts if a.get("exit_code")]
    assert not failed, f"faasr-py runtime processes failed: {failed}"
    return seconds, len(attempts)


if __name__ == "__main__":
    sys.exit(main())
