"""Monitor figures: S3 cost per run, detection latency, CPU for 50 concurrent invocations.

Each figure is printed next to a baseline measured in the same run, never asserted. The
baseline is a naive per-function monitor written here (BaselineMonitor): for every
action/rank instance it HEADs the log key each tick until the log exists, then each tick
HEADs the .done key and GETs the whole log, until .done exists. (1) S3 cost: a 20-action
workflow of `sleepy` functions (benchmarks/functions/timed.py; a chain of 20 and a
1 -> 18 -> 1 fan) runs on the local backend while our WorkflowRunner and the baseline watch
the SAME invocation concurrently at the same check interval, each with its own boto3
client; both clients are counted the same way by a botocore `after-call` hook: one request
per API call, and response body bytes (LIST XML, GET bodies, error bodies; HEAD has none),
plus header bytes separately. Our poller's own counters (which count log bytes from GETs,
not LIST XML) are printed as a cross-check, and the final statuses of both are compared.
Rows: [chatty] functions that finish within one or two check intervals, the worst case
(ours sits at its floor of one LIST per tick plus one GET per log, while the baseline has
few ticks to waste); [progress logs] functions that log as they work; [FaaSr-like]
functions busy for 20 check intervals at the CLI's default interval, as on FaaSr's
platforms, where actions take tens of seconds. "object bytes" are the log bytes
downloaded (GET bodies); the LIST XML, which the baseline does not pay and we pay once
per tick (about 170 B per listed key), is printed beside it.
(2) Detection latency: a runner with a backend that triggers nothing watches a chain while
the benchmark writes the logs and .done files itself, at random moments; latency is
time.monotonic() in on_status_change minus time.monotonic() right after the put returned;
p50/p95/max are printed against check_interval + 100 ms. (3) CPU: 50 invocations watched
at a 1 s interval by one MultiRunner (one thread, one shared client) while a separate
writer process (so its CPU is not counted) plays FaaSr for all of them; this process's CPU
time (time.process_time, all threads) over the writer's window divided by wall time, then
the same for the baseline monitor (one thread) over a fresh but identical workload.

Run: .venv/bin/python benchmarks/bench_monitor.py [--quick]
"""

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workflows as generated  # noqa: E402
from faasr_easypy.backends.base import Backend  # noqa: E402
from faasr_easypy.backends.local import LocalBackend  # noqa: E402
from faasr_easypy.environment import start_s3  # noqa: E402
from faasr_easypy.invocation import Invocation  # noqa: E402
from faasr_easypy.layout import format_log_line  # noqa: E402
from faasr_easypy.monitor.statuses import Status  # noqa: E402
from faasr_easypy.runner import MultiRunner, WorkflowRunner  # noqa: E402
from faasr_easypy.s3.client import make_client  # noqa: E402
from faasr_easypy.workflow import parse_workflow  # noqa: E402

FUNCTIONS = HERE / "functions"
BUCKET = "faasr"


# -- shared pieces -----------------------------------------------------------------------

def own_client(store):
    """A client of its own with the monitor's settings. Not runner.monitor_client(): that
    one is shared per process, so ours and the baseline would count each other's calls."""
    return make_client(store, max_attempts=1, connect_timeout=2, read_timeout=10)


class NoopBackend(Backend):
    """Triggers nothing: the benchmark writes what FaaSr would write."""

    def trigger(self, invocation):
        pass


class S3Counter:
    """Counts the S3 API calls of one boto3 client and the bytes of their responses.

    Hooked on botocore's `after-call` (every answered call, errors included) and
    `after-call-error` (no answer). Body bytes: the Content-Length of a streamed GET, the
    parsed body of anything else, 0 for HEAD (its Content-Length is the object's size).
    """

    def __init__(self, client):
        self.requests = 0
        self.body_bytes = 0
        self.header_bytes = 0
        self.by_op = {}
        self._lock = threading.Lock()
        client.meta.events.register("after-call.s3", self._after)
        client.meta.events.register("after-call-error.s3", self._error)

    def _after(self, http_response, model, **_):
        if model.name == "HeadObject":
            body = 0
        elif model.has_streaming_output and http_response.status_code < 300:
            body = int(http_response.headers.get("content-length", 0))  # not read yet: don't touch
        else:
            body = len(http_response.content or b"")
        headers = len(f"HTTP/1.1 {http_response.status_code} OK\r\n\r\n") + sum(
            len(k) + len(v) + 4 for k, v in http_response.headers.items())
        with self._lock:
            self.requests += 1
            self.body_bytes += body
            self.header_bytes += headers
            self.by_op[model.name] = self.by_op.get(model.name, 0) + 1

    def _error(self, **_):
        with self._lock:
            self.requests += 1


class _BaseInstance:
    def __init__(self, invocation, action, rank):
        self.label = action if rank is None else f"{action}({rank})"
        self.invocation_id = invocation.invocation_id
        self.log_key = invocation.layout.log_key(action, rank)
        self.done_key = invocation.layout.done_key(action, rank)
        self.status = Status.PENDING
        self.log_seen = False
        self.final = False


class BaselineMonitor:
    """The naive per-function monitor: a HEAD per pending instance, HEAD .done + full GET
    of the log per running instance, every tick, all from one thread."""

    def __init__(self, client, bucket, invocations, check_interval, on_status_change=None):
        from botocore.exceptions import BotoCoreError, ClientError

        self._client_error = ClientError
        self._s3_errors = (BotoCoreError, ClientError, OSError)
        self.client, self.bucket = client, bucket
        self.check_interval = check_interval
        self.on_status_change = on_status_change
        self.instances = [_BaseInstance(inv, a, r) for inv in invocations
                          for action in inv.workflow.topological_order()
                          for a, r in inv.workflow.instances(action)]
        self.ticks = 0
        self.tick_seconds = 0.0
        self.overruns = 0           # ticks that took longer than the check interval
        self.errors = 0
        self._stop = threading.Event()
        self._thread = None

    def _exists(self, key):
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except self._client_error as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def _set(self, inst, status):
        if inst.status is not status:
            previous, inst.status = inst.status, status
            if self.on_status_change:
                self.on_status_change(inst, previous)

    def tick(self):
        for inst in self.instances:
            if inst.final:
                continue
            try:
                if not inst.log_seen:
                    if not self._exists(inst.log_key):
                        continue
                    inst.log_seen = True
                    self._set(inst, Status.RUNNING)
                done = self._exists(inst.done_key)  # first, so the GET below sees the final log
                body = self.client.get_object(Bucket=self.bucket, Key=inst.log_key)["Body"].read()
            except self._s3_errors:
                self.errors += 1
                continue
            if b"] [ERROR] [" in body:
                self._set(inst, Status.FAILED)
            elif done:
                self._set(inst, Status.COMPLETED)
            inst.final = done

    @property
    def complete(self):
        return all(i.final for i in self.instances)

    def statuses(self):
        return {(i.invocation_id, i.label): i.status for i in self.instances}

    def start(self):
        self._thread = threading.Thread(target=self._run, name="baseline-monitor", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        due = time.monotonic()
        while not self._stop.is_set() and not self.complete:
            started = time.monotonic()
            self.tick()
            spent = time.monotonic() - started
            self.ticks += 1
            self.tick_seconds += spent
            self.overruns += spent > self.check_interval
            due = max(due + self.check_interval, time.monotonic())  # fixed rate, no backlog
            self._stop.wait(max(0.0, due - time.monotonic()))

    def join(self, timeout=None):
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(10)


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-q * len(ordered) // 100) - 1))]


def kb(n):
    return f"{n / 1024:8.1f} KiB"


def ratio(baseline, ours):
    return f"{baseline / ours:5.1f}x" if ours else "  inf"


# -- 1. S3 requests and bytes for one 20-action run ----------------------------------------

def sleepy_workflow(shape, seconds, lines=3):
    data = generated.chain(20, "sleepy") if shape == "chain" else generated.fan(18, "sleepy")
    data["WorkflowName"] = f"Monitor{shape.capitalize()}20"
    for spec in data["ActionList"].values():
        spec["Arguments"] = {"seconds": seconds, "lines": lines}
    return parse_workflow(data)


def bench_requests(service, store, shape, seconds, interval, lines=3, title=""):
    wf = sleepy_workflow(shape, seconds, lines)
    backend = LocalBackend(FUNCTIONS, service.stores_for(wf))
    try:
        warm = Invocation(parse_workflow(generated.chain(2)))  # start the fork server first
        backend.trigger(warm)
        backend.wait(warm, 60)

        ours_client, base_client = own_client(store), own_client(store)
        ours, base = S3Counter(ours_client), S3Counter(base_client)
        runner = WorkflowRunner(wf, backend, store, timeout=120, check_interval=interval,
                                client=ours_client)
        baseline = BaselineMonitor(base_client, store.bucket, [runner.invocation], interval)
        t = time.monotonic()
        runner.start()
        baseline.start()
        finished = runner.wait(120)
        ours_wall = time.monotonic() - t
        baseline.join(30)
        backend.wait(runner.invocation, 30)
        runner.close()
        baseline.stop()
    finally:
        backend.close()
    assert finished, f"{shape}: our monitor did not finish"
    ours_final = {label: s.status for label, s in runner.get_function_statuses().items()}
    base_final = {label: status for (_inv, label), status in baseline.statuses().items()}
    same = ours_final == base_final
    completed = sum(s is Status.COMPLETED for s in ours_final.values())

    n = len(ours_final)
    desc = "chain of 20" if shape == "chain" else "1 -> 18 -> 1 fan"
    print(f"{title}{desc} ({n} instances, sleepy {seconds:g} s logging {lines + 1} lines, "
          f"check interval {interval:g} s), same run watched by both:")
    ticks = runner.monitor.tick_count
    list_xml = ours.body_bytes - runner.s3_bytes_downloaded
    print(f"  S3 requests     ours {ours.requests:6d}   baseline {base.requests:6d}   "
          f"{ratio(base.requests, ours.requests)} fewer   target >= 10x   (floor for ours: one LIST "
          f"per tick + one GET per log = {ticks + n})")
    print(f"  object bytes    ours {kb(runner.s3_bytes_downloaded)}   baseline {kb(base.body_bytes)}   "
          f"{ratio(base.body_bytes, runner.s3_bytes_downloaded)} fewer   target >= 10x   (GET bodies: "
          f"the log bytes downloaded)")
    print(f"  + LIST XML      ours {kb(ours.body_bytes)}   baseline {kb(base.body_bytes)}   "
          f"{ratio(base.body_bytes, ours.body_bytes)} fewer   (every response body; the LISTs are "
          f"{kb(list_xml).strip()}, {list_xml / max(1, ticks):.0f} B per tick)")
    print(f"  + headers       ours {kb(ours.body_bytes + ours.header_bytes)}   baseline "
          f"{kb(base.body_bytes + base.header_bytes)}   "
          f"{ratio(base.body_bytes + base.header_bytes, ours.body_bytes + ours.header_bytes)} fewer")
    print(f"  ours: {runner.monitor.tick_count} ticks in {ours_wall:.1f} s, calls {_ops(ours.by_op)} "
          f"(poller counted {runner.s3_requests}); baseline: {baseline.ticks} ticks, calls "
          f"{_ops(base.by_op)}")
    print(f"  final statuses: ours {completed}/{n} COMPLETED; baseline "
          f"{'agrees on every instance' if same else 'DIFFERS: ' + repr(_diff(ours_final, base_final))}")


def _ops(by_op):
    short = {"ListObjectsV2": "LIST", "GetObject": "GET", "HeadObject": "HEAD"}
    return " ".join(f"{short.get(k, k)} {v}" for k, v in sorted(by_op.items()))


def _diff(a, b):
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}


# -- 2. detection latency ------------------------------------------------------------------

def bench_latency(store, actions, interval):
    wf = parse_workflow(generated.chain(actions))
    seen = {}
    cond = threading.Condition()

    def on_change(state, previous):
        now = time.monotonic()
        with cond:
            seen.setdefault((state.label, state.status), now)
            cond.notify_all()

    def wait_for(label, status):
        with cond:
            cond.wait_for(lambda: (label, status) in seen, timeout=10)
            return seen.get((label, status))

    writer = make_client(store)
    runner = WorkflowRunner(wf, NoopBackend(), store, timeout=300, check_interval=interval,
                            client=own_client(store), on_status_change=on_change)
    layout = runner.layout
    rng = random.Random(2)
    samples = {"log appears -> RUNNING": [], ".done appears -> COMPLETED": []}
    missed = 0
    runner.start()
    try:
        names = [f"a{i}" for i in range(actions)]
        for i, name in enumerate(names):
            lines = [format_log_line(0.01, "INFO", "bench.py", f"Running action {name}")]
            if i + 1 < actions:
                lines.append(format_log_line(0.02, "INFO", "bench.py",
                                             f"Local: Successfully invoked: {names[i + 1]}"))
            for what, key, body, status in (
                    ("log appears -> RUNNING", layout.log_key(name), "\n".join(lines) + "\n", Status.RUNNING),
                    (".done appears -> COMPLETED", layout.done_key(name), "True", Status.COMPLETED)):
                time.sleep(rng.uniform(0, interval))  # land anywhere within a tick
                writer.put_object(Bucket=store.bucket, Key=key, Body=body.encode())
                put_at = time.monotonic()
                seen_at = wait_for(name, status)
                if seen_at is None:
                    missed += 1
                else:
                    samples[what].append(seen_at - put_at)
        runner.wait(30)
    finally:
        runner.close()
    target = interval + 0.1
    everything = [s for values in samples.values() for s in values]
    print(f"detection latency, S3 object -> on_status_change, check interval {interval:g} s "
          f"({len(everything)} samples{f', {missed} MISSED' if missed else ''}):")
    for what, values in list(samples.items()) + [("all", everything)]:
        if values:
            print(f"  {what:28s} p50 {percentile(values, 50) * 1000:6.1f} ms   "
                  f"p95 {percentile(values, 95) * 1000:6.1f} ms   max {max(values) * 1000:6.1f} ms")
    print(f"  target: p95 <= check interval + 100 ms = {target * 1000:.0f} ms "
          f"({'met' if everything and percentile(everything, 95) <= target else 'NOT met'}); "
          f"final: {runner.get_function_statuses()[f'a{actions - 1}'].status.value} "
          f"for the last action")


# -- 3. CPU for 50 concurrent invocations ---------------------------------------------------

def writer_plan(invocations, per_action, rng):
    """What the writer process does for each invocation (a chain): keys and timing."""
    plan = []
    for inv in invocations:
        names = list(inv.workflow.topological_order())
        plan.append({"offset": rng.uniform(0, 1.0), "per_action": per_action, "actions": [
            {"name": n, "log_key": inv.layout.log_key(n), "done_key": inv.layout.done_key(n),
             "next": names[i + 1] if i + 1 < len(names) else None} for i, n in enumerate(names)]})
    return plan


def writer_main(threads=4):
    """The writer subprocess: plays FaaSr for many invocations on one schedule.

    Invocations are split over a few threads, each putting its invocations' objects in
    time order, so the writer keeps up with its schedule and per-key order is kept.
    """
    config = json.loads(sys.stdin.readline())
    from faasr_easypy.s3.client import DataStore

    bucket = config["store"]["bucket"]
    client = make_client(DataStore(**config["store"]), pool=threads)
    shards = [[] for _ in range(threads)]  # per thread: [(t, seq, key, body)]
    seq = 0
    for n, inv in enumerate(config["plan"]):
        t = inv["offset"]
        for action in inv["actions"]:
            lines, start = [], t
            moments = [(t, [f"Running action {action['name']}"])]
            moments += [(t + s, [f"working, step {s}"]) for s in range(1, int(inv["per_action"]))]
            end = t + inv["per_action"]
            last = ([f"Local: Successfully invoked: {action['next']}"] if action["next"] else [])
            moments.append((end - 0.05, last + [f"Action {action['name']} finished"]))
            for at, messages in moments:  # the log is rewritten whole, as FaaSr flushes it
                lines += [format_log_line(at - start, "INFO", "bench.py", m) for m in messages]
                shards[n % threads].append((at, seq, action["log_key"], ("\n".join(lines) + "\n").encode()))
                seq += 1
            shards[n % threads].append((end, seq, action["done_key"], b"True"))
            seq += 1
            t = end
    for shard in shards:
        shard.sort()
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    t0 = time.monotonic()
    counts = {"puts": 0, "late": 0}
    lock = threading.Lock()

    def play(shard):
        for at, _seq, key, body in shard:
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            client.put_object(Bucket=bucket, Key=key, Body=body)
            with lock:
                counts["puts"] += 1
                counts["late"] += delay < -0.25

    workers = [threading.Thread(target=play, args=(shard,)) for shard in shards]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    counts["seconds"] = time.monotonic() - t0
    print(json.dumps(counts), flush=True)


def start_writer(store, plan):
    proc = subprocess.Popen([sys.executable, __file__, "--writer"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    config = {"store": {k: getattr(store, k) for k in ("name", "bucket", "endpoint", "region",
                                                       "access_key", "secret_key")}, "plan": plan}
    proc.stdin.write(json.dumps(config) + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "ready", "the writer process did not start"
    return proc


def run_window(proc):
    """Send "go", wait for the writer to finish; return (cpu seconds, wall seconds, writer stats)."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    stats = json.loads(proc.stdout.readline())
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    proc.wait(10)
    return cpu, wall, stats


def bench_cpu(store, count, actions, per_action, interval=1.0):
    wf = parse_workflow(generated.chain(actions))
    rng = random.Random(3)

    # Ours: one MultiRunner, one thread, one client.
    client = own_client(store)
    counter = S3Counter(client)
    runners = [WorkflowRunner(wf, NoopBackend(), store, timeout=600, check_interval=interval,
                              client=client) for _ in range(count)]
    multi = MultiRunner(runners)
    proc = start_writer(store, writer_plan([r.invocation for r in runners], per_action, rng))
    try:
        multi.start()
        cpu, wall, stats = run_window(proc)
        requests = counter.requests
        multi.wait(30)
        finals = [s.status for r in runners for s in r.get_function_statuses().values()]
    finally:
        multi.close()
        if proc.poll() is None:
            proc.kill()
    ok = sum(s is Status.COMPLETED for s in finals)

    # Baseline: the per-function monitor, one thread, one client, same workload.
    base_client = own_client(store)
    base_counter = S3Counter(base_client)
    invocations = [Invocation(wf) for _ in range(count)]
    baseline = BaselineMonitor(base_client, store.bucket, invocations, interval)
    proc = start_writer(store, writer_plan(invocations, per_action, rng))
    try:
        baseline.start()
        base_cpu, base_wall, base_stats = run_window(proc)
        base_requests = base_counter.requests
        baseline.join(30)
    finally:
        baseline.stop()
        if proc.poll() is None:
            proc.kill()
    base_ok = sum(s is Status.COMPLETED for s in baseline.statuses().values())

    pct, base_pct = 100 * cpu / wall, 100 * base_cpu / base_wall
    print(f"{count} concurrent invocations ({actions}-action chains, {count * actions} instances), "
          f"check interval {interval:g} s, writer in a separate process:")
    print(f"  CPU of this process   ours {pct:5.1f} % of one core over {wall:.1f} s   "
          f"baseline {base_pct:5.1f} % over {base_wall:.1f} s   target ours < 25 %")
    print(f"  S3 requests/s         ours {requests / wall:7.1f}   baseline {base_requests / base_wall:7.1f}")
    print(f"  ours: all {count} runners in one thread, {ok}/{len(finals)} instances COMPLETED; "
          f"baseline: {base_ok}/{len(baseline.instances)} COMPLETED, mean tick "
          f"{baseline.tick_seconds / max(1, baseline.ticks) * 1000:.0f} ms, {baseline.overruns} of "
          f"{baseline.ticks} ticks longer than the interval")
    print(f"  writer: {stats['puts']} puts in {stats['seconds']:.1f} s for ours ({stats['late']} more than "
          f"250 ms late), {base_stats['puts']} in {base_stats['seconds']:.1f} s for the baseline "
          f"({base_stats['late']} late)")


# -- main ------------------------------------------------------------------------------------

def main():
    quick = "--quick" in sys.argv
    started = time.monotonic()
    service = start_s3()
    try:
        store = service.store("S3", BUCKET)
        service.ensure_bucket(store)
        interval = 0.25
        # Chatty worst case: each function changes its log about once per check.
        for shape, seconds in (("chain", 0.3 if quick else 0.5), ("fan", 0.5 if quick else 1.0)):
            bench_requests(service, store, shape, seconds, interval, title="[chatty] ")
        # Functions that run for seconds and log progress, as real FaaSr functions do:
        # the baseline re-reads every growing log whole on every check.
        bench_requests(service, store, "fan", 3.0 if quick else 5.0, interval, lines=30 if quick else 50,
                       title="[progress logs] ")
        # As FaaSr runs on its platforms: functions busy for many check intervals (a GitHub
        # Actions job takes 30 s and more), at the CLI's default interval.
        bench_requests(service, store, "fan", 5.0 if quick else 10.0, 0.5, lines=25 if quick else 50,
                       title="[FaaSr-like] ")
        bench_latency(store, 20 if quick else 50, interval)
        if quick:
            bench_cpu(store, count=50, actions=4, per_action=2.0)
        else:
            bench_cpu(store, count=50, actions=5, per_action=4.0)
    finally:
        service.close()
    print(f"(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    if "--writer" in sys.argv:
        writer_main()
    else:
        main()
