"""A module-scoped suite in the style of FaaSr-Integration-Tests, over
examples/integration_tests.json: one invocation for the module, one test per
function, in file order (docs/MIGRATION.md).

Run it:  pytest examples/test_integration_tests_workflow.py

test-py-api deletes input1.txt milliseconds after create-input wrote it, and
overwrite-output / delete-rank1 change outputs that earlier tests check. Every
assertion below holds anyway: after wait_for("x") the tester reads the bucket
as of x's .done.
"""

from pathlib import Path

import pytest

WORKFLOW = str(Path(__file__).resolve().parent / "integration_tests.json")


@pytest.fixture(scope="module", autouse=True)
def tester(faasr_workflow):
    with faasr_workflow(WORKFLOW) as tester:
        yield tester


def test_create_input(tester):
    tester.wait_for("create-input")
    tester.assert_function_completed("create-input")
    for n in range(1, 5):
        tester.assert_object_exists(f"input{n}.txt")
        tester.assert_content_equals(f"input{n}.txt", f"input {n}")
    tester.assert_object_does_not_exist("does_not_exist.txt")


def test_py_api(tester):
    tester.wait_for("test-py-api")
    tester.assert_function_completed("test-py-api")
    tester.assert_object_does_not_exist("input1.txt")
    tester.assert_object_exists("input2.txt")
    tester.assert_content_equals("output1-py.txt", "INPUT 2")  # before overwrite-output
    tester.assert_content_equals("output2-py.txt", "py api")


def test_run_true(tester):
    tester.wait_for("test-run-true")
    tester.assert_content_equals("run_true_output.txt", "run_true_output")


def test_dontrun_false(tester):
    tester.wait_for("test-dontrun-false")  # passes: a branch not taken is NOT_INVOKED
    tester.assert_function_not_invoked("test-dontrun-false")


def test_run_false(tester):
    tester.wait_for("test-run-false")
    tester.assert_content_equals("run_false_output.txt", "run_false_output")


def test_dontrun_true(tester):
    tester.wait_for("test-dontrun-true")
    tester.assert_function_not_invoked("test-dontrun-true")


@pytest.mark.parametrize("rank", range(1, 6))
def test_rank(tester, rank):
    tester.wait_for(f"test-rank({rank})")
    tester.assert_function_completed(f"test-rank({rank})")
    tester.assert_content_equals(f"rank_files/rank{rank}.txt", f"rank {rank} of 5")


def test_sync2(tester):
    tester.wait_for("sync2")
    tester.assert_object_exists("rank_files/rank1.txt")  # delete-rank1 comes after sync2


def test_end_state(tester):
    tester.wait_all()
    tester.assert_object_does_not_exist("rank_files/rank1.txt")
    tester.assert_content_equals("output1-py.txt", "overwritten")
