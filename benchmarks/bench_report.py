"""Issue 5 figures: HTML report render time and size for a big job.

The job: 32 workflows x 20 functions (640 instances) with realistic logs
(20-80 lines each) and every 5th log long (~200 KB, already cut to 64 KiB by
the writer, as faasr_results.json holds it), 10 S3 objects per workflow.

Targets: render <= 1 s, report <= 2 MB. Issue 16 adds the same job with a history of 20
runs (each an archive made from a variant of the job: some verdicts and function statuses
flipped), read from the archives folder as the report hook does, and the history page alone.
Baselines measured in the same run:
- "naive": the same template with no log budget (every log up to its 64 KiB),
  which is what rendering the results as-is would give;
- "json": json.dumps of the same results (the size of the raw data, and the
  cheapest possible serialisation).

Prints, never asserts. Run: .venv/bin/python benchmarks/bench_report.py [--quick]
"""

import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import report_fixtures  # noqa: E402

from faasr_easypy.report.model import normalise  # noqa: E402
from faasr_easypy.report.render import (  # noqa: E402
    MAX_LOG_BYTES,
    log_budget_for,
    prepare_logs,
    render_html,
)

WRITER_CAP = 64 * 1024


def writer_cut(results):
    """Cut logs to 64 KiB as the plugin does before writing faasr_results.json."""
    for w in results["workflows"]:
        for f in w["functions"]:
            if f.get("log") and len(f["log"]) > WRITER_CAP:
                f["log"] = f["log"][:WRITER_CAP] + f"\n[... cut at 64 KiB; the full log is s3://faasr/{f['log_key']}]\n"
                f["log_truncated"] = True
    return results


def timed(fn, rounds):
    times, out = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    quick = "--quick" in sys.argv
    rounds = 3 if quick else 7
    results = writer_cut(report_fixtures.big_job(32, 20))
    n_fn = sum(len(w["functions"]) for w in results["workflows"])
    raw_logs = sum(len(f["log"] or "") for w in results["workflows"] for f in w["functions"])
    long_logs = sum(1 for w in results["workflows"] for f in w["functions"] if f.get("log_truncated"))
    print(f"job: {len(results['workflows'])} workflows x {n_fn // len(results['workflows'])} functions, "
          f"{raw_logs / 1e6:.2f} MB of logs in faasr_results.json ({long_logs} logs cut at 64 KiB by the writer)")

    render_html(results)  # warm the template cache (compiled once per process)
    t_norm, _ = timed(lambda: normalise(results), rounds)
    t_report, html = timed(lambda: render_html(results), rounds)
    t_naive, naive = timed(lambda: render_html(results, log_budget=10 ** 12, max_log_bytes=MAX_LOG_BYTES),
                           rounds)
    t_json, dumped = timed(lambda: json.dumps(results), rounds)
    size = len(html.encode("utf-8"))
    naive_size = len(naive.encode("utf-8"))
    json_size = len(dumped.encode("utf-8"))

    print(f"{'':32} {'time':>9} {'size':>10}")
    print(f"{'report (budgeted logs)':32} {t_report * 1000:7.0f} ms {size / 1e6:8.2f} MB"
          f"   targets: <= 1000 ms, <= 2.00 MB -> {'OK' if t_report <= 1 and size <= 2e6 else 'MISSED'}")
    print(f"{'  of which normalise()':32} {t_norm * 1000:7.0f} ms")
    print(f"{'baseline: naive (no log budget)':32} {t_naive * 1000:7.0f} ms {naive_size / 1e6:8.2f} MB")
    print(f"{'baseline: json.dumps(results)':32} {t_json * 1000:7.0f} ms {json_size / 1e6:8.2f} MB")
    print(f"(median of {rounds} rounds; one first render compiles the templates, not counted)")
    report = normalise(results)
    budget = log_budget_for(report)
    cap = prepare_logs(report, log_budget=budget)
    shown = sum(1 for w in report.workflows for f in w.functions if f.log)
    print(f"log budget {budget / 1e6:.2f} MB for {shown} logs -> each log shown up to "
          f"{cap / 1024:.1f} KiB (head + tail, ERROR lines kept, a note naming the full log)")
    import faasr_easypy.report.render as render_mod

    render_mod._env = None  # drop the compiled templates
    t = time.perf_counter()
    render_html(results)
    print(f"cold render (template compile included): {(time.perf_counter() - t) * 1000:.0f} ms")
    bench_history(results, rounds)


def bench_history(results, rounds, runs=20):
    """32 x 20 with 20 runs of history: archives written, read back, analysed and rendered."""
    import copy
    import random
    import tempfile
    import zipfile

    from faasr_easypy.report.history import SUMMARY_FILE, analyse, load_runs, summary_of
    from faasr_easypy.report.render import render_history_html

    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="faasr-bench-history-") as folder:
        for i in range(runs - 1):
            variant = copy.deepcopy(results)
            variant["job"]["started"] = results["job"]["started"] - (runs - i) * 3600
            for w in variant["workflows"]:
                w["code_hash"] = "same-code"
                for f in w["functions"]:
                    if rng.random() < 0.02:
                        f["status"] = "FAILED" if f["status"] == "COMPLETED" else "COMPLETED"
                if rng.random() < 0.1:
                    w["verdict"] = "failed" if w["verdict"] == "passed" else "passed"
            path = Path(folder) / f"job_{i:02d}.zip"
            with zipfile.ZipFile(path, "w") as zf:
                zf.writestr(SUMMARY_FILE, json.dumps(summary_of(variant, archive=str(path))))
                zf.writestr("faasr_results.json", json.dumps({"schema": 1}))
        for w in results["workflows"]:
            w["code_hash"] = "same-code"
        t_load, earlier = timed(lambda: load_runs(folder, limit=runs - 1), rounds)
        t_analyse, view = timed(lambda: analyse(earlier + [summary_of(results)]), rounds)
        t_render, html = timed(lambda: render_html(results, history=view), rounds)
        t_page, page = timed(lambda: render_history_html(view, folder), rounds)
    size = len(html.encode("utf-8"))
    print(f"\nwith a history of {len(view.runs)} runs ({len(view.rows)} rows: workflows and testcases; "
          f"{len(view.flaky)} flaky functions, {len(view.new_failures)} new failures, {len(view.fixed)} fixed):")
    print(f"{'  read 19 archives (summaries)':32} {t_load * 1000:7.0f} ms")
    print(f"{'  analyse':32} {t_analyse * 1000:7.0f} ms")
    print(f"{'report + history section':32} {t_render * 1000:7.0f} ms {size / 1e6:8.2f} MB"
          f"   targets: <= 1000 ms, <= 2.00 MB -> {'OK' if t_render <= 1 and size <= 2e6 else 'MISSED'}")
    print(f"{'history page alone':32} {t_page * 1000:7.0f} ms {len(page.encode()) / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
