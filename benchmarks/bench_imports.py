"""What reading a testbed costs at start-up, with and without pyATS (issue 18).

    .venv/bin/python benchmarks/bench_imports.py [--quick]

Each case runs in a fresh interpreter, several times; printed: modules loaded, of them
pyATS's (pyats, genie, unicon), and the median wall time of the snippet (import + work).
`core` is what WorkflowRunner and the pytest fixture do with a testbed file since the
placement package; `pyATS loader` is the path they took before it (and `pyats run job`
still takes): the same checks, then pyats.topology.loader.
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTBED = ROOT / "testbeds" / "local.yaml"
CASES = {
    "import faasr_easypy.runner": "import faasr_easypy.runner",
    "core: placement.load_file(local.yaml)":
        f"from faasr_easypy.placement import load_file; load_file({str(TESTBED)!r})",
    "pyATS loader: easypy.pyats_testbed.load_file(local.yaml)":
        f"from faasr_easypy.easypy.pyats_testbed import load_file; load_file({str(TESTBED)!r})",
}
PROBE = """
import json, sys, time
started = time.perf_counter()
{code}
elapsed = time.perf_counter() - started
names = list(sys.modules)
print(json.dumps([len(names), sum(n.split(".")[0] in ("pyats", "genie", "unicon") for n in names), elapsed]))
"""


def measure(code, rounds):
    runs = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], cwd=ROOT, check=True,
                             capture_output=True, text=True)
        runs.append(json.loads(out.stdout.splitlines()[-1]))
    return runs[-1][0], runs[-1][1], statistics.median(r[2] for r in runs)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    rounds = 2 if "--quick" in argv else 5
    print(f"{'case':<58} {'modules':>8} {'pyATS':>6} {'ms':>8}")
    for name, code in CASES.items():
        modules, pyats, seconds = measure(code, rounds)
        print(f"{name:<58} {modules:>8} {pyats:>6} {seconds * 1000:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
