"""Issue 7 figures: what was tried against real `pyats run job` runs and what held.

Runs the scenarios of tests/reliability_scenarios.py (the same code the
reliability tests assert on) and prints one row per case: verdict for every
workflow, archive, report, nothing left (processes, TMPDIR), no planted secret
in any output, time taken and peak memory.

    .venv/bin/python benchmarks/reliability.py                  # signals, faults, load
    .venv/bin/python benchmarks/reliability.py --cases faults   # signals | faults | load (comma list)
    .venv/bin/python benchmarks/reliability.py --soak [MINUTES] # rounds in one job (default 30 min)

--soak runs rounds of a small workflow mix in one long job and prints the
resident memory of the job process and of everything it started after each
round, so a leak shows as a rising column. It never runs in CI (CI is set).
Figures only, no asserts.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests.reliability_scenarios import (  # noqa: E402
    FAULT_SCENARIOS,
    NoSmallDisk,
    load_scenario,
    run_scenario,
    signal_scenarios,
    soak_rounds,
    soak_scenario,
)

CHECKS = ["ended", "verdicts", "archive", "report", "no leftover", "no secret", "no harness error"]


def scenarios(groups):
    out = []
    if "signals" in groups:
        out += signal_scenarios()
    if "faults" in groups:
        out += [make() for make in FAULT_SCENARIOS.values()]
    if "load" in groups:
        out.append(load_scenario())
    return out


def mb(n):
    return f"{n / 1e6:.0f}"


def verdict_summary(outcome):
    counts = {}
    for verdict in outcome.verdicts.values():
        counts[verdict] = counts.get(verdict, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "-"


def print_table(outcomes):
    head = ["case", *CHECKS, "seconds", "job MB", "total MB", "verdicts", "what was tried / notes"]
    rows = []
    for o in outcomes:
        checks = o.checks
        rows.append([o.scenario.case, *("yes" if checks[c] else "NO" for c in CHECKS), f"{o.seconds:.1f}",
                     mb(o.peak_rss.get("job", 0)), mb(o.peak_rss.get("total", 0)), verdict_summary(o),
                     "; ".join([o.scenario.tried, *o.notes])])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head) - 1)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(head, widths, strict=False)) + "  " + head[-1]
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    held = sum(o.held for o in outcomes)
    print(f"\n{held} of {len(outcomes)} cases held everything; "
          f"{sum(o.seconds for o in outcomes):.0f} s of pyats runs in all")
    for o in outcomes:
        if not o.held:
            print(f"\n--- {o.scenario.case} did not hold:\n{o.explain()[:3000]}")


def soak(minutes, workdir):
    scenario = soak_scenario(minutes)
    root = Path(tempfile.mkdtemp(prefix="soak-", dir=workdir))
    print(f"soak: {scenario.tried}; folder {root}", flush=True)
    outcome = run_scenario(scenario, root)
    rounds = soak_rounds(root)
    print(f"{'round':>5}  {'seconds':>7}  {'job MB':>7}  {'total MB':>8}  {'processes':>9}  "
          "verdicts; MB of the job's other processes")
    for r in rounds:
        counts = {}
        for v in r["verdicts"].values():
            counts[v] = counts.get(v, 0) + 1
        print(f"{r['round']:>5}  {r['seconds']:>7.1f}  {mb(r['job_rss']):>7}  {mb(r['total_rss']):>8}  "
              f"{r['processes']:>9}  {', '.join(f'{n} {v}' for v, n in sorted(counts.items()))}; "
              + ", ".join(f"{k} {mb(v)}" for k, v in sorted(r.get("by_process", {}).items())))
    if len(rounds) >= 6:
        third = len(rounds) // 3
        for key, name in (("job_rss", "job process"), ("total_rss", "job + everything it started")):
            first = statistics.median(r[key] for r in rounds[:third])
            last = statistics.median(r[key] for r in rounds[-third:])
            print(f"{name}: median of the first third {mb(first)} MB, of the last third {mb(last)} MB "
                  f"({(last - first) / first * 100:+.1f} %)")
    checks = outcome.checks
    checks["verdicts"] = bool(outcome.verdicts)
    print(f"after the soak: {', '.join(f'{k}: {v}' for k, v in checks.items())}; "
          f"{len(outcome.verdicts)} workflow verdicts, {outcome.seconds:.0f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="signals,faults,load",
                        help="comma list of signals, faults, load (default: all)")
    parser.add_argument("--soak", nargs="?", type=float, const=30.0, default=None, metavar="MINUTES",
                        help="run rounds in one job for MINUTES (default 30) and print memory per round")
    parser.add_argument("--workdir", default=None, help="where the scenario projects go (default: a temp folder)")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="faasr-reliability-")
    if args.soak is not None:
        if os.environ.get("CI"):
            print("--soak does not run in CI (CI is set): it takes half an hour.")
            return 0
        soak(args.soak, workdir)
        return 0
    groups = {g.strip() for g in args.cases.split(",") if g.strip()}
    outcomes = []
    started = time.monotonic()
    for scenario in scenarios(groups):
        root = Path(tempfile.mkdtemp(prefix=f"{scenario.case}-", dir=workdir))
        print(f"running {scenario.case}: {scenario.tried}", flush=True)
        try:
            outcomes.append(run_scenario(scenario, root))
        except NoSmallDisk as exc:  # the full-disk cases mount a tmpfs: root only
            print(f"  skipped: {exc}", flush=True)
    print()
    print_table(outcomes)
    print(f"wall time {time.monotonic() - started:.0f} s; projects and archives in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
