"""WorkflowRunner.from_testbed and WorkflowTester.from_testbed: they place the workflow
as `pyats run job --testbed-file` does and stop what they started."""

import os
from pathlib import Path

import pytest

from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
from faasr_easypy.errors import UserError
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.tester import WorkflowTester
from faasr_easypy.workflow import load_workflow

from .processes import alive, cmdline, descendants

PROJECT = Path(__file__).resolve().parent.parent
LOCAL = PROJECT / "testbeds" / "local.yaml"


@pytest.fixture
def own_s3(monkeypatch):
    # The testbed's embedded S3, not one the environment points at.
    for var in (ENV_ENDPOINT, ENV_ACCESS_KEY, ENV_SECRET_KEY):
        monkeypatch.delenv(var, raising=False)


def weed_processes():
    return [p for p in descendants(os.getpid()) if "weed" in cmdline(p)]


def test_runner_on_the_local_testbed_runs_the_workflow_and_stops_its_s3(own_s3):
    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    before = set(weed_processes())
    with WorkflowRunner.from_testbed(wf, str(LOCAL), timeout=60, check_interval=0.1) as runner:
        assert runner.wait(60)
        statuses = {label: s.status for label, s in runner.get_function_statuses().items()}
        started = set(weed_processes()) - before
        assert started, "the testbed asks for the embedded S3: the runner starts one"
        assert runner.data_store.endpoint.startswith("http://127.0.0.1:")
    assert Status.NOT_INVOKED in statuses.values()
    assert all(s in (Status.COMPLETED, Status.NOT_INVOKED) for s in statuses.values()), statuses
    assert not [p for p in started if alive(p)], "the runner's S3 server outlived the with block"


def test_tester_on_a_testbed_asserts_outputs(own_s3):
    with WorkflowTester.from_testbed(PROJECT / "workflows" / "data_pipeline.json", LOCAL,
                                     timeout=60, check_interval=0.1) as tester:
        tester.wait_for("publish")
        tester.assert_content_equals(f"pipeline/{tester.invocation_id}/sum.txt", "210")


def test_a_testbed_that_cannot_be_read_is_a_user_error(tmp_path):
    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    missing = tmp_path / "nope.yaml"
    with pytest.raises(UserError) as info:
        WorkflowRunner.from_testbed(wf, missing)
    assert str(missing) in str(info.value)


def test_a_functions_folder_that_is_missing_names_the_fix(own_s3, tmp_path):
    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    before = set(weed_processes())
    with pytest.raises(UserError, match="functions=DIR"):
        WorkflowRunner.from_testbed(wf, LOCAL, functions=tmp_path / "absent")
    assert not [p for p in set(weed_processes()) - before if alive(p)], "S3 left behind after the error"


def test_a_backend_needs_its_data_store():
    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    with pytest.raises(TypeError, match="data_store"):
        WorkflowRunner(wf, object())
