"""Issue 5 figures: HTML report render time and size for a big job.

The job: 32 workflows x 20 functions (640 instances) with realistic logs
(20-80 lines each) and every 5th log long (~200 KB, already cut to 64 KiB by
the writer, as faasr_results.json holds it), 10 S3 objects per workflow.

Targets: render <= 1 s, report <= 2 MB. Baselines measured in the same run:
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


if __name__ == "__main__":
    main()
