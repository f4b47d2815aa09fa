"""What reading a testbed costs at start-up, with and without pyATS (issue 18).

    .venv/bin/python benchmarks/bench_imports.py [--quick] [--tree DIR]

--tree DIR measures another checkout of the project (e.g. a `git worktree` of an
older commit) with this virtualenv: its modules come first on PYTHONPATH. Cases
that checkout cannot run print "n/a".

Each case runs in a fresh interpreter, several times; printed: modules loaded, of them
pyATS's (pyats, genie, unicon), and the median wall time of the snippet (import + work).
`core` is what WorkflowRunner and the pytest fixture do with a testbed file since the
placement package; `pyATS loader` is the path they took before it (and `pyats run job`
still takes): the same checks, then pyats.topology.loader. `pytest fixture, first use`
is a fresh pytest run whose one test enters `faasr_workflow(data_pipeline.json)` (embedded
S3 started, workflow placed and triggered): modules loaded by then and the ms of that
first `with` (the run's own wait is not counted).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTBED = ROOT / "testbeds" / "local.yaml"
FIXTURE = "pytest fixture, first use"
CASES = {
    "import faasr_easypy": "import faasr_easypy",
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
# Only the measured tree's modules (the editable install would fill in what an old tree lacks).
if [n for n in names if n.startswith("faasr_easypy") and
        not (getattr(sys.modules[n], "__file__", None) or {tree!r}).startswith({tree!r})]:
    sys.exit(3)
print(json.dumps([len(names), sum(n.split(".")[0] in ("pyats", "genie", "unicon") for n in names), elapsed]))
"""
FIXTURE_TEST = """
import json, sys, time

def test_first_use(faasr_workflow):
    started = time.perf_counter()
    with faasr_workflow({workflow!r}) as tester:
        elapsed = time.perf_counter() - started
        names = list(sys.modules)
        tester.wait_for("publish")
    with open({out!r}, "w") as fh:
        json.dump([len(names), sum(n.split(".")[0] in ("pyats", "genie", "unicon") for n in names), elapsed], fh)
"""


def _env(tree):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH")) if p)
    return env


def measure(code, rounds, tree=ROOT):
    runs = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", PROBE.format(code=code, tree=str(tree))], cwd=tree,
                             capture_output=True,
                             text=True, env=_env(tree))
        if out.returncode:
            return None
        runs.append(json.loads(out.stdout.splitlines()[-1]))
    return runs[-1][0], runs[-1][1], statistics.median(r[2] for r in runs)


def measure_fixture(rounds, tree=ROOT):
    runs = []
    with tempfile.TemporaryDirectory(prefix="faasr-bench-fixture-") as tmp:
        out = Path(tmp) / "out.json"
        test = Path(tmp) / "test_first_use.py"
        test.write_text(FIXTURE_TEST.format(workflow=str(Path(tree) / "workflows" / "data_pipeline.json"),
                                            out=str(out)))
        for _ in range(rounds):
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
                                   "--rootdir", tmp], cwd=tmp, capture_output=True, text=True, env=_env(tree))
            if done.returncode or not out.exists():
                return None
            runs.append(json.loads(out.read_text()))
    return runs[-1][0], runs[-1][1], statistics.median(r[2] for r in runs)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    rounds = 2 if "--quick" in argv else 5
    tree = Path(argv[argv.index("--tree") + 1]).resolve() if "--tree" in argv else ROOT
    print(f"tree: {tree}")
    print(f"{'case':<58} {'modules':>8} {'pyATS':>6} {'ms':>8}")
    results = {name: measure(code.replace(str(ROOT), str(tree)), rounds, tree) for name, code in CASES.items()}
    results[FIXTURE] = measure_fixture(max(1, rounds // 2), tree)
    for name, result in results.items():
        if result is None:
            print(f"{name:<58} {'n/a':>8}")
            continue
        modules, pyats, seconds = result
        print(f"{name:<58} {modules:>8} {pyats:>6} {seconds * 1000:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
