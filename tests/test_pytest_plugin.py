"""The pytest plugin, used as a workflow author would: inline tests and a pytester run."""

import pytest

from .helpers import REPO

pytest_plugins = ["pytester"]


def test_fixture_runs_a_workflow(faasr_workflow):
    with faasr_workflow(REPO / "workflows/data_pipeline.json") as tester:
        tester.wait_for("publish")
        tester.assert_function_completed("create-input")
        tester.assert_content_equals(f"pipeline/{tester.invocation_id}/sum.txt", "210")
        tester.assert_object_does_not_exist(f"pipeline/{tester.invocation_id}/numbers.csv")


def test_fixture_sees_failures_and_overrides(faasr_workflow):
    with faasr_workflow(REPO / "workflows/conditional.json",
                        overrides={"check-threshold": {"value": 3}}) as tester:
        tester.wait_for("below")
        tester.assert_function_not_invoked("above")
    with faasr_workflow(REPO / "workflows/failing_function.json") as tester:
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


def _author_tests(pytester, root):
    pytester.makepyfile(f"""
        def test_pipeline(faasr_workflow):
            with faasr_workflow({str(root / 'workflows/data_pipeline.json')!r}) as tester:
                tester.wait_for("publish")
                tester.assert_content_equals(f"pipeline/{{tester.invocation_id}}/sum.txt", "210")
    """)


@pytest.mark.slow
def test_testbed_option_runs_the_same_tests_on_github_actions(pytester, monkeypatch, tmp_path):
    """--faasr-testbed points the fixture at GitHub Actions (a loopback stand-in of its API)
    and a separate S3 server: the same test passes, and the tester only triggered and watched."""
    import pathlib

    from faasr_easypy.s3.client import make_client
    from faasr_easypy.s3.server import EmbeddedS3Server

    from .fake_github import FakeGitHub, github_env, github_testbed

    root = pathlib.Path(__file__).resolve().parents[1]
    _author_tests(pytester, root)
    with EmbeddedS3Server() as s3:
        github = FakeGitHub(s3)
        try:
            testbed = github_testbed(tmp_path / "github.yaml", s3, github)
            for name, value in github_env(s3).items():
                monkeypatch.setenv(name, value)
            result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-testbed", str(testbed),
                                                   "--faasr-check-interval", "0.2")
            keys = [o["Key"] for o in make_client(s3.data_store("My_S3_Bucket")).list_objects_v2(
                Bucket="faasr", Prefix="pipeline/").get("Contents", [])]
        finally:
            github.close()
    result.assert_outcomes(passed=1)
    assert not github.errors
    assert [d["path"] for d in github.dispatches] == [
        "/repos/faasr-user/FaaSr-workflow/actions/workflows/DataPipeline-create-input.yml/dispatches"]
    assert any(k.endswith("/sum.txt") for k in keys), keys  # written to the testbed's S3, not ours


@pytest.mark.slow
def test_testbed_option_with_the_local_testbed(pytester):
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    _author_tests(pytester, root)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--faasr-testbed", str(root / "testbeds/local.yaml"))
    result.assert_outcomes(passed=1)


def test_a_bad_testbed_is_one_usage_error(pytester):
    bad = pytester.path / "bad.yaml"
    bad.write_text("testbed:\n  name: x\ndevices:\n  s3:\n    os: linux\n    type: s3\n    connections: {}\n"
                   "    custom:\n      faasr:\n        Embedded: maybe\n")
    pytester.makepyfile("def test_never(faasr_workflow):\n    raise AssertionError('must not run')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-testbed", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--faasr-testbed" in err and "bad.yaml" in err and "Fix" in err, err
    assert "Traceback" not in err + result.stdout.str()
