"""Issue 17 figures: a module-scoped suite vs one invocation per test, and how soon a fan-in
below a failed predecessor is SKIPPED.

1. The 12 tests of examples/test_integration_tests_workflow.py (without its end-state test)
   over examples/integration_tests.json (14 actions: conditionals both ways, rank(5), two
   fan-ins), run by pytest in a subprocess: once with the module-scoped tester (one invocation
   for the module), once with the fixture made function-scoped (one invocation per test).
2. A fan-in whose predecessor fails, on the local backend: time from the failed action's
   .done (as S3 recorded it) to the monitor publishing the fan-in SKIPPED.

Run: .venv/bin/python benchmarks/bench_tester.py [--rounds N]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faasr_easypy.backends.local import LocalBackend  # noqa: E402
from faasr_easypy.bucket_view import latest_time  # noqa: E402
from faasr_easypy.environment import S3Service  # noqa: E402
from faasr_easypy.s3.server import EmbeddedS3Server  # noqa: E402
from faasr_easypy.tester import WorkflowTester  # noqa: E402
from tests.workflow_factory import blocked_fan_in  # noqa: E402

CHECK_INTERVAL = 0.25


def suite_seconds(scope, folder):
    source = (ROOT / "examples" / "test_integration_tests_workflow.py").read_text()
    source = source.replace('str(Path(__file__).resolve().parent / "integration_tests.json")',
                            repr(str(ROOT / "examples" / "integration_tests.json")))
    source = source.replace('@pytest.fixture(scope="module", autouse=True)', f'@pytest.fixture(scope="{scope}")')
    (folder / f"test_suite_{scope}.py").write_text(source)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not end_state",
                           f"test_suite_{scope}.py", "--faasr-check-interval", str(CHECK_INTERVAL)],
                          cwd=folder, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0 or "12 passed" not in proc.stdout:
        raise SystemExit(f"the {scope}-scoped suite did not pass:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return seconds


def blocked_fan_in_seconds(server, folder):
    wf, functions = blocked_fan_in(folder, "failed")
    stores = S3Service(server.endpoint, server.access_key, server.secret_key).stores_for(wf)
    with LocalBackend(functions, stores) as backend:
        with WorkflowTester(wf, backend, stores["S3"], timeout=120, check_interval=CHECK_INTERVAL) as tester:
            tester.wait_all()
            join = tester.statuses["join"]
            assert join.status.value == "SKIPPED", join.summary()
            failed_ns, _exact = latest_time(tester.client, tester.bucket, tester.runner.layout.done_key("bad"))
            return join.ended_at - failed_ns / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-tester-"))
    try:
        module = [suite_seconds("module", folder) for _ in range(args.rounds)]
        per_test = [suite_seconds("function", folder) for _ in range(args.rounds)]
        with EmbeddedS3Server() as server:
            skipped = []
            for i in range(args.rounds):
                (folder / f"r{i}").mkdir()
                skipped.append(blocked_fan_in_seconds(server, folder / f"r{i}"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"12-test suite over the 14-action IntegrationTests workflow (pytest wall time, median of {args.rounds}, "
          f"check interval {CHECK_INTERVAL} s):")
    print(f"  module-scoped tester, one invocation:   {statistics.median(module):6.2f} s  "
          f"({', '.join(f'{s:.2f}' for s in module)})")
    print(f"  one invocation per test (12 runs):      {statistics.median(per_test):6.2f} s  "
          f"({', '.join(f'{s:.2f}' for s in per_test)})")
    print(f"  speed-up: {statistics.median(per_test) / statistics.median(module):.1f}x")
    print(f"fan-in below a failed predecessor, local backend: failure (.done in S3) to SKIPPED: "
          f"median {statistics.median(skipped):.3f} s, max {max(skipped):.3f} s "
          f"(target <= one check interval, {CHECK_INTERVAL} s; before: TIMEOUT at the overall deadline)")


if __name__ == "__main__":
    main()
