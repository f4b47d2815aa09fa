"""Object assertions as of the action waited for, on real runs (local and faasr-py backends).

The race is made certain: the test waits for the whole run to end before asserting
what the bucket held when an earlier action finished, so the later actions have
deleted or overwritten those outputs for sure."""

import re

import pytest

from faasr_easypy.environment import S3Service
from faasr_easypy.tester import WorkflowTester
from faasr_easypy.workflow import load_workflow

AS_OF = r"as of {}'s \.done at \d+\.\d\d s"


def _service(server):
    return S3Service(server.endpoint, server.access_key, server.secret_key)


def _local_tester(s3_server, path, functions, **kwargs):
    from faasr_easypy.backends.local import LocalBackend

    workflow = load_workflow(path)
    stores = _service(s3_server).stores_for(workflow)
    backend = LocalBackend(functions, stores)
    tester = WorkflowTester(workflow, backend, stores[workflow.logging_data_store],
                            timeout=120, check_interval=0.2, **kwargs)
    return backend, tester


def test_as_of_an_action_and_live_on_the_local_backend(s3_server):
    backend, tester = _local_tester(s3_server, "examples/integration_tests.json",
                                    "examples/functions/IntegrationTests")
    with backend, tester:
        tester.wait_for("create-input")
        assert tester.runner.wait(120)  # every later action has run: the race is certain
        assert re.fullmatch(AS_OF.format("create-input"), tester.view.description)
        tester.assert_object_exists("input1.txt")          # test-py-api deleted it since
        tester.assert_content_equals("input1.txt", "input 1")
        tester.assert_object_does_not_exist("output1-py.txt")
        assert tester.get_object("input2.txt") == b"input 2"
        with pytest.raises(AssertionError, match=AS_OF.format("create-input")):
            tester.assert_object_exists("output2-py.txt")
        with pytest.raises(AssertionError, match="in the live bucket, but it does not"):
            tester.live.assert_object_exists("input1.txt")
        tester.live.assert_content_equals("output1-py.txt", "overwritten")

        tester.wait_for("test-py-api")
        tester.assert_object_does_not_exist("input1.txt")
        tester.assert_content_equals("output1-py.txt", "INPUT 2")  # before overwrite-output
        with pytest.raises(AssertionError, match=AS_OF.format("test-py-api") + " to hold 11 bytes b'overwritten', "
                                                                            "but it holds 7 bytes b'INPUT 2'"):
            tester.assert_content_equals("output1-py.txt", "overwritten")

        tester.wait_for("test-rank")  # every rank: as of the last of their .done files
        tester.assert_content_equals("rank_files/rank1.txt", "rank 1 of 5")
        tester.wait_for("test-dontrun-true")  # never ran: as of its predecessor's end
        assert "as of check-false's .done" in tester.view.description

        tester.wait_all()
        assert tester.view.description == "at the end of the run (after wait_all)"
        tester.assert_object_does_not_exist("rank_files/rank1.txt")
        with pytest.raises(AssertionError, match=r"not to exist at the end of the run \(after wait_all\), "
                                                 r"but 'integration-tests/.*/input2.txt' exists \(7 bytes\)"):
            tester.assert_object_does_not_exist("input2.txt")


def test_without_versions_the_message_says_the_view_is_live(s3_server):
    backend, tester = _local_tester(s3_server, "workflows/data_pipeline.json",
                                    "workflows/functions/DataPipeline", versioning=False)
    with backend, tester:
        tester.wait_for("create-input")
        assert tester.runner.wait(120)
        with pytest.raises(AssertionError, match=r"to exist in the live bucket \(versioning=False, so this "
                                                 r"is not as of create-input's end\), but it does not"):
            tester.assert_object_exists("pipeline/{InvocationID}/numbers.csv")


@pytest.mark.slow
def test_as_of_an_action_on_the_faasr_py_backend(s3_server, faasr_python):
    from faasr_easypy.backends.faasr_py import FaaSrPyBackend

    workflow = load_workflow("workflows/data_pipeline.json")
    stores = _service(s3_server).stores_for(workflow)
    with FaaSrPyBackend("workflows/functions/DataPipeline", stores, python=faasr_python) as backend:
        with WorkflowTester(workflow, backend, stores[workflow.logging_data_store],
                            timeout=300, check_interval=0.25) as tester:
            tester.wait_for("create-input")
            assert tester.runner.wait(300)
            tester.assert_object_exists("pipeline/{InvocationID}/numbers.csv")  # publish deleted it
            tester.live.assert_object_does_not_exist("pipeline/{InvocationID}/numbers.csv")
            tester.assert_object_does_not_exist("pipeline/{InvocationID}/sum.txt")
            tester.wait_for("publish")
            tester.assert_content_equals("pipeline/{InvocationID}/sum.txt", "210")
            tester.assert_object_does_not_exist("pipeline/{InvocationID}/numbers.csv")
