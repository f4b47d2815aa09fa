"""docs/MIGRATION.md's example suite passes in a fresh pytest run, and the old fixture name
works through the one-line conftest the page gives."""

import pathlib
import shutil

import pytest

pytest_plugins = ["pytester"]
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_example_suite_passes_unchanged(pytester):
    shutil.copy(ROOT / "examples" / "test_integration_tests_workflow.py", pytester.path / "examples_suite.py")
    text = (pytester.path / "examples_suite.py").read_text()
    (pytester.path / "examples_suite.py").write_text(
        text.replace('str(Path(__file__).resolve().parent / "integration_tests.json")',
                     repr(str(ROOT / "examples" / "integration_tests.json"))))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "examples_suite.py",
                                           "--faasr-check-interval", "0.2")
    result.assert_outcomes(passed=13)


@pytest.mark.slow
def test_the_old_fixture_name(pytester):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def workflow_file(faasr_workflow):
            return faasr_workflow
    """)
    pytester.makepyfile(test_secret_style=f"""
        import pytest

        @pytest.fixture(scope="module", autouse=True)
        def tester(workflow_file):
            with workflow_file({str(ROOT / 'examples/integration_tests.json')!r}) as base_tester:
                yield base_tester

        def test_create_input(tester):
            assert tester.wait_for("create-input") == "COMPLETED"
            tester.assert_object_exists("input1.txt")
            assert tester.get_s3_key("input1.txt") == f"integration-tests/{{tester.invocation_id}}/input1.txt"

        def test_not_taken(tester):
            assert tester.wait_for("test-dontrun-true") == "NOT_INVOKED"

        def test_given_invocation_id(workflow_file):
            with workflow_file({str(ROOT / 'examples/integration_tests.json')!r}, test_invocation_id="run-42") as t:
                assert t.invocation_id == "run-42"
                t.wait_for("create-input")
                t.assert_object_exists("integration-tests/run-42/input2.txt")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-check-interval", "0.2")
    result.assert_outcomes(passed=3)
