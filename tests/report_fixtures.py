"""Realistic faasr_results.json dicts for the report, mail and browser tests.

`job_results()` is a job of 4 workflow tasks, shaped like docs/RESULTS_SCHEMA.md:

* DataPipeline-1  passed   split -> square(1..3) -> gather, outputs written
* FailingStep-1   failed   step2 raised (ERROR line + traceback), step3 SKIPPED, a failed testcase
* FanOutFanIn-1   passed   a long log cut by the writer (log_truncated) and a big S3 listing
* Conditional-1   aborted  partial: Ctrl-C; a RUNNING function with no end, PENDING/TIMEOUT ones

`big_job(32, 20)` builds the benchmark-sized job. `results_from_runner()` turns a
finished WorkflowRunner into a workflow entry (what the Easypy plugin records).
"""

import copy
import random

from botocore.exceptions import BotoCoreError, ClientError

T0 = 1795335700.0
FAKE_SECRET = "FAKE-s3cr3t-do-not-print-8f2b"
FAKE_ACCESS_KEY = "AKIAFAKEACCESSKEY123"
ENDPOINT = "http://127.0.0.1:18333"


def log_lines(action, rank=None, n=5, error=None, t=0.0, extra=""):
    name = f"{action}.py"
    lines = [f"[{t + 0.001:.3f}] [INFO] [{name}] FaaSr: starting {action}" + (f" rank {rank}" if rank else "")]
    for i in range(n):
        lines.append(f"[{t + 0.01 * (i + 2):.3f}] [INFO] [{name}] step {i}: processed {i * 17 % 97} records{extra}")
    if error:
        lines.append(f"[{t + 0.2:.3f}] [ERROR] [{name}] {error}")
        lines.append("Traceback (most recent call last):")
        lines.append(f'  File "functions/{name}", line 12, in {action}')
        lines.append(f"    raise ValueError({error!r})")
        lines.append(f"ValueError: {error}")
    else:
        lines.append(f"[{t + 0.3:.3f}] [INFO] [{name}] Local: Successfully invoked: next")
    return "\n".join(lines) + "\n"


def fn(label, status, start=None, end=None, reason=None, log=None, folder="FaaSrLog/X/ts/id",
       truncated=False, rank=None, action=None):
    if action is None:
        action = label.split("(")[0]
    if rank is None and "(" in label:
        rank = int(label.split("(")[1].rstrip(")"))
    return {
        "label": label, "action": action, "rank": rank, "status": status, "reason": reason,
        "started_at": None if start is None else T0 + start,
        "ended_at": None if end is None else T0 + end,
        "log_key": f"{folder}/{label}.txt" if log is not None else None,
        "log": log, "log_truncated": truncated,
    }


def workflow(task_id, name, verdict, functions, edges, testcases=(), objects=(), start=0.0, end=None,
             invocation_id="0a1b2c3d-0000-4000-8000-000000000001", monitor=None, **extra):
    folder = f"FaaSrLog/{name}/2026-11-22-08-40-00/{invocation_id}"
    for f in functions:
        if f.get("log_key"):
            f["log_key"] = f"{folder}/{f['label']}.txt"
    w = {
        "task_id": task_id, "workflow": name, "source": f"workflows/{name.lower()}.json",
        "testscript": f"testscripts/{name.lower()}.py", "verdict": verdict,
        "invocation_id": invocation_id, "invocation_folder": folder,
        "endpoint": ENDPOINT, "bucket": "faasr", "platform": "local",
        "started": T0 + start, "ended": None if end is None else T0 + end,
        "functions": functions, "edges": [list(e) for e in edges],
        "testcases": list(testcases), "s3_objects": list(objects),
        "monitor": monitor or {"requests": 12, "bytes_downloaded": 3456, "check_interval": 0.5},
    }
    w.update(extra)
    return w


def data_pipeline():
    fns = [
        fn("split", "COMPLETED", 0.10, 0.35, log=log_lines("split", n=4, t=0.1)),
        fn("square(1)", "COMPLETED", 0.40, 0.90, log=log_lines("square", 1, t=0.4)),
        fn("square(2)", "COMPLETED", 0.41, 1.60, log=log_lines("square", 2, t=0.41)),
        fn("square(3)", "COMPLETED", 0.42, 0.80, log=log_lines("square", 3, t=0.42)),
        fn("gather", "COMPLETED", 1.70, 2.05, log=log_lines("gather", t=1.7)),
    ]
    inv = "11111111-aaaa-4bbb-8ccc-000000000001"
    objs = [{"key": f"pipeline/{inv}/part{i}.txt", "size": 10 + i, "bucket": "faasr"} for i in range(1, 4)]
    objs.append({"key": f"pipeline/{inv}/sum.txt", "size": 3, "bucket": "faasr"})
    return workflow("DataPipeline-1", "DataPipeline", "passed", fns,
                    [("split", "square"), ("square", "gather")],
                    testcases=[{"name": "common_setup", "result": "passed", "reason": None},
                               {"name": "check_outputs", "result": "passed", "reason": None},
                               {"name": "common_cleanup", "result": "passed", "reason": None}],
                    objects=objs, start=0.0, end=2.3, invocation_id=inv,
                    arguments={"split": {"n": 3}})


def failing_step():
    inv = "22222222-aaaa-4bbb-8ccc-000000000002"
    fns = [
        fn("step1", "COMPLETED", 0.1, 0.4, log=log_lines("step1", t=0.1)),
        fn("step2", "FAILED", 0.5, 0.9, reason="ValueError: input <b>bad</b> & \"quoted\"",
           log=log_lines("step2", t=0.5, error="ValueError: input <b>bad</b> & \"quoted\"")),
        fn("step3", "SKIPPED", reason="upstream step2 FAILED"),
        fn("report", "NOT_INVOKED"),
    ]
    return workflow("FailingStep-1", "FailingStep", "failed", fns,
                    [("step1", "step2"), ("step2", "step3"), ("step1", "report")],
                    testcases=[{"name": "common_setup", "result": "passed", "reason": None},
                               {"name": "check_all_completed", "result": "failed",
                                "reason": "step2 is FAILED: ValueError: input <b>bad</b>"},
                               {"name": "common_cleanup", "result": "passed", "reason": None}],
                    start=0.0, end=1.2, invocation_id=inv)


def fan_out():
    inv = "33333333-aaaa-4bbb-8ccc-000000000003"
    fns = [fn("start", "COMPLETED", 0.05, 0.2, log=log_lines("start", t=0.05))]
    for r in range(1, 7):
        fns.append(fn(f"work({r})", "COMPLETED", 0.25 + 0.01 * r, 0.6 + 0.15 * r,
                      log=log_lines("work", r, n=8, t=0.25)))
    long_log = log_lines("collect", n=3000, t=1.6) + "[... cut at 64 KiB; the full log is s3://faasr/x]\n"
    fns.append(fn("collect", "COMPLETED", 1.6, 2.4, log=long_log, truncated=True))
    objs = [{"key": f"fan/{inv}/out-{i:04d}.bin", "size": 1000 + i, "bucket": "faasr"} for i in range(250)]
    return workflow("FanOutFanIn-1", "FanOutFanIn", "passed", fns,
                    [("start", "work"), ("work", "collect")],
                    testcases=[{"name": "check_fan_in", "result": "passed", "reason": None}],
                    objects=objs, start=0.0, end=2.6, invocation_id=inv,
                    monitor={"requests": 40, "bytes_downloaded": 70000, "check_interval": 0.5})


def conditional_partial():
    inv = "44444444-aaaa-4bbb-8ccc-000000000004"
    fns = [
        fn("check", "COMPLETED", 0.1, 0.3, log=log_lines("check", t=0.1)),
        fn("left", "RUNNING", 0.4, None, log="[0.401] [INFO] [left.py] still going\n"),
        fn("right", "PENDING"),
        fn("final", "TIMEOUT", reason="the job was interrupted (Ctrl-C) before final ran"),
    ]
    return workflow("Conditional-1", "ConditionalCheck", "aborted", fns,
                    [("check", "left"), ("check", "right"), ("left", "final"), ("right", "final")],
                    testcases=[], start=0.0, end=None, invocation_id=inv,
                    error="KeyboardInterrupt: the job was interrupted",
                    state="interrupted",
                    monitor={"requests": 5, "bytes_downloaded": 800, "check_interval": 0.5, "timed_out": True})


def job_results(with_secret=True):
    """4 workflows: passed, failed, passed with long log, partial/aborted; job incomplete."""
    results = {
        "schema": 1,
        "job": {"name": "faasr_job", "started": T0 - 0.5, "ended": T0 + 3.0, "testbed": "local",
                "archive": "archives/faasr_job.2026Nov22_08:40:00.123456.zip",
                "complete": False, "note": "interrupted by Ctrl-C: Conditional-1 did not finish"},
        "workflows": [data_pipeline(), failing_step(), fan_out(), conditional_partial()],
    }
    if with_secret:
        # The writer redacts credentials; these simulate a writer that missed some.
        results["environment"] = {"AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET}
        wf = results["workflows"][1]
        wf["functions"][0]["log"] += f"[0.390] [INFO] [step1.py] env dump: secret={FAKE_SECRET}\n"
        wf["testcases"][1]["reason"] += f" (creds {FAKE_ACCESS_KEY}:{FAKE_SECRET})"
        wf["endpoint"] = f"http://{FAKE_ACCESS_KEY}:{FAKE_SECRET}@127.0.0.1:18333"
    return results


def complete_job():
    """Every workflow finished (no partial note)."""
    results = job_results(with_secret=False)
    results["workflows"] = results["workflows"][:3]
    results["job"]["complete"] = True
    results["job"]["note"] = None
    return results


def big_job(n_workflows=32, n_functions=20, seed=7, long_every=5, long_size=200_000):
    """n_workflows x n_functions with realistic logs (a few KB), every `long_every`-th log long."""
    rng = random.Random(seed)
    workflows = []
    for w in range(n_workflows):
        fns, edges = [], []
        t = 0.0
        failed_at = n_functions // 2 if w % 7 == 3 else None
        for i in range(n_functions):
            label = f"f{i:02d}"
            start = t + rng.uniform(0.01, 0.05)
            end = start + rng.uniform(0.05, 0.8)
            t = start if i % 4 else end  # some parallelism
            status = "COMPLETED"
            reason = None
            error = None
            if failed_at is not None and i == failed_at:
                status, reason, error = "FAILED", f"RuntimeError: f{i:02d} could not parse row {i}", \
                    f"RuntimeError: f{i:02d} could not parse row {i}"
            elif failed_at is not None and i > failed_at:
                status, reason, start, end = "SKIPPED", f"upstream f{failed_at:02d} FAILED", None, None
            log = None
            if status != "SKIPPED":
                n = rng.randint(20, 80)
                log = log_lines(label, n=n, t=start, error=error, extra=" " + "x" * rng.randint(0, 40))
                if (w * n_functions + i) % long_every == 0:
                    log += log_lines(label, n=long_size // 80, t=start)
            fns.append(fn(label, status, start, end, reason=reason, log=log))
            if i:
                edges.append((f"f{max(0, i - 1 - (i % 3)):02d}", label))
        verdict = "failed" if failed_at is not None else "passed"
        inv = f"{w:08d}-aaaa-4bbb-8ccc-{w:012d}"
        objs = [{"key": f"out/{inv}/o{k}.txt", "size": 100 + k, "bucket": "faasr"} for k in range(10)]
        workflows.append(workflow(f"Big-{w + 1}", f"Big{w % 4}", verdict, fns, edges,
                                  testcases=[{"name": "check", "result": verdict,
                                              "reason": None if verdict == "passed" else "a function failed"}],
                                  objects=objs, start=0.0, end=t + 1, invocation_id=inv))
    return {"schema": 1,
            "job": {"name": "big_job", "started": T0, "ended": T0 + 30, "testbed": "local",
                    "archive": "archives/big_job.zip", "complete": True, "note": None},
            "workflows": workflows}


def results_from_runner(runner, task_id, verdict=None, testcases=(), log_limit=64 * 1024):
    """A workflow entry built from a finished WorkflowRunner, reading logs from S3 like the plugin."""
    wf = runner.workflow
    client = runner.client
    bucket = runner.data_store.bucket
    functions = []
    bad = False
    for label, s in runner.get_function_statuses().items():
        text, truncated = None, False
        if s.log_key:
            try:
                body = client.get_object(Bucket=bucket, Key=s.log_key)["Body"].read()
                truncated = len(body) > log_limit
                text = body[:log_limit].decode("utf-8", "replace")
            except (BotoCoreError, ClientError):
                text = None
        status = s.status.value
        bad = bad or status in ("FAILED", "TIMEOUT", "SKIPPED")
        functions.append({"label": label, "action": s.action, "rank": s.rank, "status": status,
                          "reason": s.reason or None, "started_at": s.started_at, "ended_at": s.ended_at,
                          "log_key": s.log_key, "log": text, "log_truncated": truncated})
    edges = sorted({(e.source, e.target) for a in wf.actions.values() for e in a.edges})
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", ()):
            if runner.invocation_id in obj["Key"] and not obj["Key"].startswith(runner.layout.prefix):
                objects.append({"key": obj["Key"], "size": obj["Size"], "bucket": bucket})
    return {
        "task_id": task_id, "workflow": wf.name, "source": None, "testscript": None,
        "verdict": verdict or ("failed" if bad else "passed"),
        "invocation_id": runner.invocation_id, "invocation_folder": runner.layout.folder,
        "endpoint": runner.data_store.endpoint, "bucket": bucket, "platform": "local",
        "started": min([f["started_at"] for f in functions if f["started_at"]] or [None]),
        "ended": max([f["ended_at"] for f in functions if f["ended_at"]] or [None]),
        "functions": functions, "edges": [list(e) for e in edges], "testcases": list(testcases),
        "s3_objects": objects,
        "monitor": {"requests": runner.s3_requests, "bytes_downloaded": runner.s3_bytes_downloaded,
                    "check_interval": runner.check_interval, "timed_out": runner.timed_out},
    }


def clone(results):
    return copy.deepcopy(results)
