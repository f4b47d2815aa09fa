"""Issue 16 item 4 figures: `faasr-easypy run workflows/fan_out_fan_in.json` and a
one-workflow `pyats run job`, this checkout next to a base commit measured in the same run.

The base commit (default: the merge base with main) is exported with `git archive` into
a temporary folder and run with this .venv's interpreter, its own code first on
PYTHONPATH (no git worktree, no stash). Runs alternate base/ours so load drifts hit both.

For each: the wall time of the real command (a child process, as a user runs it), and a
breakdown measured in another child that runs the same `cli.main(["run", ...])` with timers
around the S3 server's start and stop:

    imports   importing what `run` needs (faasr_easypy.cli, environment, runner, ...)
    S3 start  start_s3(): weed mini up and answering a put/get round trip
    workflow  the rest of `run`: fork server, trigger, every function, monitor until settled
    S3 stop   stopping the embedded server (its data folder is deleted right after)

Figures only, no asserts. Run: .venv/bin/python benchmarks/bench_cli.py [--quick] [--base COMMIT]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKFLOW = "workflows/fan_out_fan_in.json"

PHASES = textwrap.dedent('''
    import json, sys, time
    t0 = time.monotonic()
    import faasr_easypy.cli as cli
    import faasr_easypy.environment as environment
    import faasr_easypy.runner, faasr_easypy.status_table, faasr_easypy.workflow  # what cmd_run imports
    t1 = time.monotonic()
    phases = {"imports": t1 - t0, "S3 start": 0.0, "S3 stop": 0.0}
    real_start, real_close = environment.start_s3, environment.S3Service.close

    def start_s3(*a, **k):
        t = time.monotonic()
        try:
            return real_start(*a, **k)
        finally:
            phases["S3 start"] += time.monotonic() - t

    def close(self):
        t = time.monotonic()
        try:
            return real_close(self)
        finally:
            phases["S3 stop"] += time.monotonic() - t

    environment.start_s3, environment.S3Service.close = start_s3, close
    t2 = time.monotonic()
    code = cli.main(["run", sys.argv[1]])
    run = time.monotonic() - t2
    phases["workflow"] = run - phases["S3 start"] - phases["S3 stop"]
    phases["exit code"] = code
    print("PHASES " + json.dumps(phases))
''')

JOBFILE = textwrap.dedent('''
    from pathlib import Path

    from faasr_easypy.easypy import run_workflow

    ROOT = Path({root!r})


    def main(runtime):
        run_workflow(ROOT / "workflows" / "fan_out_fan_in.json", ROOT / "testscripts" / "fan_out_fan_in.py",
                     runtime=runtime)
''')


def env_for(code_root):
    out = dict(os.environ)
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"
    out["PYTHONPATH"] = str(code_root)
    for var in ("FAASR_EASYPY_S3_ENDPOINT", "FAASR_EASYPY_S3_ACCESS_KEY", "FAASR_EASYPY_S3_SECRET_KEY"):
        out.pop(var, None)
    return out


def export(commit, folder):
    """The tree of `commit` in `folder` (git archive | tar), without touching this checkout."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=PROJECT, capture_output=True,
                             check=True).stdout
    tar_path = Path(folder) / "base.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    tar_path.unlink()
    return Path(folder)


def wall_of_run(root):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "faasr_easypy.cli", "run", WORKFLOW], cwd=root,
                          env=env_for(root), capture_output=True, text=True, timeout=300, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        print(f"  ! run in {root} exited {proc.returncode}: {proc.stderr[-500:]}")
    return seconds


def phases_of_run(root):
    proc = subprocess.run([sys.executable, "-c", PHASES, WORKFLOW], cwd=root, env=env_for(root),
                          capture_output=True, text=True, timeout=300, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("PHASES "):
            return json.loads(line[len("PHASES "):])
    print(f"  ! phases in {root}: {proc.stderr[-500:]}")
    return None


def wall_of_job(root, scratch):
    """The jobfile and its archive live in `scratch`, not in the checkout."""
    jobs = Path(tempfile.mkdtemp(dir=scratch))
    (jobs / "jobs").mkdir()
    job = jobs / "jobs" / "one_workflow_job.py"
    job.write_text(JOBFILE.format(root=str(root)))
    archives = jobs / "archives"
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "pyats"), "run", "job", str(job), "--no-mail", "--archive-dir", str(archives),
                           "-C", str(Path(root) / "faasr_easypy" / "easypy" / "easypy_config.yaml")],
                          cwd=jobs, env=env_for(root), capture_output=True, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        print(f"  ! pyats job in {root} exited {proc.returncode}: {proc.stdout[-800:]}")
    return seconds


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 5")
    parser.add_argument("--base", default=None, help="commit to compare with (default: merge base with main)")
    args = parser.parse_args(argv)
    rounds = 2 if args.quick else 5
    base = args.base or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=PROJECT, capture_output=True,
                                       text=True, check=True).stdout.strip()
    load = os.getloadavg()[0]
    print(f"bench_cli: {rounds} rounds, base {base[:10]} vs this checkout; load average {load:.1f} on "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="faasr-bench-base-") as folder, \
            tempfile.TemporaryDirectory(prefix="faasr-bench-jobs-") as scratch:
        roots = {"base": export(base, folder), "ours": PROJECT}
        walls = {k: [] for k in roots}
        phases = {k: [] for k in roots}
        jobs = {k: [] for k in roots}
        for _ in range(rounds):
            for name, root in roots.items():
                walls[name].append(wall_of_run(root))
                phases[name].append(phases_of_run(root))
        for _ in range(max(1, rounds // 2)):
            for name, root in roots.items():
                jobs[name].append(wall_of_job(root, scratch))
    print(f"\n`faasr-easypy run {WORKFLOW}` (medians of {rounds}; wall = the real command, end to end)")
    print(f"  {'':10} {'wall':>7} {'imports':>8} {'S3 start':>9} {'workflow':>9} {'S3 stop':>8}")
    for name in roots:
        rows = [p for p in phases[name] if p]
        cells = [median([p[k] for p in rows]) for k in ("imports", "S3 start", "workflow", "S3 stop")]
        print(f"  {name:10} {median(walls[name]):6.2f}s " + " ".join(f"{c:8.2f}s" for c in cells))
    print(f"\none-workflow `pyats run job` (fan_out_fan_in + its testscript; medians of {len(jobs['ours'])})")
    for name in roots:
        print(f"  {name:10} {median(jobs[name]):6.2f}s  (runs: {', '.join(f'{v:.2f}' for v in jobs[name])})")
    print(f"\nload average now {os.getloadavg()[0]:.1f} (was {load:.1f}): a loaded machine inflates both alike")
    return 0


if __name__ == "__main__":
    sys.exit(main())
