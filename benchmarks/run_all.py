"""Run every benchmarks/bench_*.py in turn and print its output (`make bench`).

    .venv/bin/python benchmarks/run_all.py [ARGS...]     # ARGS (e.g. --quick) go to every benchmark

One after the other, never in parallel: the figures are timings. A benchmark
that fails is reported with its exit code and the others still run; the
exit code is non-zero if any failed. benchmarks/reliability.py is not a
bench_*.py file (it takes minutes); run it on its own.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"===== {script.name} {' '.join(args)}".rstrip(), flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script), *args], cwd=str(HERE.parent))
        print(f"===== {script.name}: exit {code}, {time.monotonic() - started:.0f} s\n", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
