"""The pytest plugin, used as a workflow author would: inline tests and a pytester run."""

import pytest

pytest_plugins = ["pytester"]


def test_fixture_runs_a_workflow(faasr_workflow):
    with faasr_workflow("workflows/data_pipeline.json") as tester:
        tester.wait_for("publish")
        tester.assert_function_completed("create-input")
        tester.assert_content_equals(f"pipeline/{tester.invocation_id}/sum.txt", "210")
        tester.assert_object_does_not_exist(f"pipeline/{tester.invocation_id}/numbers.csv")


def test_fixture_sees_failures_and_overrides(faasr_workflow):
    with faasr_workflow("workflows/conditional.json",
                        argument_overrides={"check-threshold": {"value": 3}}) as tester:
        tester.wait_for("below")
        tester.assert_function_not_invoked("above")
    with faasr_workflow("workflows/failing_function.json") as tester:
        tester.wait_for("explode", should_fail=True)
        tester.assert_function_skipped("after-explode")
        with pytest.raises(AssertionError, match="explode"):
            tester.assert_function_completed("explode")


@pytest.mark.slow
def test_plugin_is_active_in_a_fresh_pytest_run(pytester):
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    pytester.makepyfile(f"""
        def test_fan(faasr_workflow):
            with faasr_workflow({str(root / 'workflows/fan_out_fan_in.json')!r}) as tester:
                tester.wait_for("gather")
                tester.assert_content_equals(f"fan/{{tester.invocation_id}}/total.txt", "55")

        def test_fails_with_reason(faasr_workflow):
            with faasr_workflow({str(root / 'workflows/failing_function.json')!r}) as tester:
                tester.wait_for("explode")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-check-interval", "0.2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ZeroDivisionError*"])
