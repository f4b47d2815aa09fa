"""A fan-in below a failed or skipped predecessor is settled by the graph, not by the deadline,
on real runs of the local and the faasr-py backends (docs/STATUSES.md, "Blocked upstream")."""

import pytest

from faasr_easypy.environment import S3Service
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.tester import WorkflowTester

from .workflow_factory import GRAPHS, blocked_fan_in


def _run(backend_class, s3_server, tmp_path, shape, timeout, **backend_kwargs):
    wf, functions = blocked_fan_in(tmp_path, shape)
    stores = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key).stores_for(wf)
    with backend_class(functions, stores, **backend_kwargs) as backend:
        with WorkflowTester(wf, backend, stores["S3"], timeout=timeout, check_interval=0.2) as tester:
            tester.wait_for("bad", should_fail=True)
            tester.wait_all()
            return tester.statuses, tester.runner.timed_out


@pytest.mark.parametrize("shape", sorted(GRAPHS))
def test_local_fan_in_below_a_blocked_predecessor_is_skipped_at_once(s3_server, tmp_path, shape):
    from faasr_easypy.backends.local import LocalBackend

    statuses, timed_out = _run(LocalBackend, s3_server, tmp_path, shape, timeout=120)
    assert not timed_out
    join = statuses["join"]
    assert join.status is Status.SKIPPED, join.summary()
    blocker = "bad is FAILED" if shape == "failed" else "mid is SKIPPED"
    assert join.reason == f"upstream {blocker}"
    assert statuses["good"].status is Status.COMPLETED


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(GRAPHS))
def test_faasr_py_fan_in_below_a_blocked_predecessor_is_final_before_the_deadline(
        s3_server, faasr_python, tmp_path, shape):
    """faasr-py's election only looks at .done files (written for failed actions too), so the
    runtime may run the fan-in after all: whatever it does, the status is final long before
    the overall deadline and never TIMEOUT."""
    from faasr_easypy.backends.faasr_py import FaaSrPyBackend

    statuses, timed_out = _run(FaaSrPyBackend, s3_server, tmp_path, shape, timeout=600, python=faasr_python)
    assert not timed_out
    assert statuses["join"].status in (Status.SKIPPED, Status.COMPLETED), statuses["join"].summary()
    if shape == "skipped":
        assert statuses["mid"].status is Status.SKIPPED
