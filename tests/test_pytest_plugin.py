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


def _scoped_suites(pytester, root):
    """Test modules written as FaaSr's existing harnesses write them: a module-scoped
    (or class-, session-scoped) tester, then one test per function, in file order."""
    pipeline = str(root / "workflows/data_pipeline.json")
    fan = str(root / "workflows/fan_out_fan_in.json")
    pytester.makepyfile(
        test_module_scope=f"""
            import pytest

            @pytest.fixture(scope="module")
            def tester(faasr_workflow):
                with faasr_workflow({pipeline!r}) as t:
                    yield t

            IDS = []

            def test_create_input(tester):
                IDS.append(tester.invocation_id)
                tester.wait_for("create-input")
                tester.assert_logs_contain("create-input", "uploaded 20 numbers")

            def test_publish(tester):
                IDS.append(tester.invocation_id)
                tester.wait_for("publish")
                tester.assert_content_equals(f"pipeline/{{tester.invocation_id}}/sum.txt", "210")

            def test_same_invocation(tester):
                assert IDS == [tester.invocation_id] * 2  # one invocation for the whole module
        """,
        test_class_scope=f"""
            import pytest

            @pytest.fixture(scope="class")
            def tester(faasr_workflow):
                with faasr_workflow({fan!r}) as t:
                    yield t

            class TestFan:
                def test_gather(self, tester):
                    tester.wait_for("gather")
                    tester.assert_content_equals(f"fan/{{tester.invocation_id}}/total.txt", "55")
        """,
        test_session_scope=f"""
            import pytest

            @pytest.fixture(scope="session")
            def session_tester(faasr_workflow):
                with faasr_workflow({pipeline!r}) as t:
                    yield t

            def test_session(session_tester):
                session_tester.wait_for("compute-sum")

            def test_function_scope(faasr_workflow):
                with faasr_workflow({fan!r}) as t:
                    t.wait_for("gather")
        """)


@pytest.mark.slow
@pytest.mark.parametrize("xdist", [(), ("-n", "2", "--dist", "loadfile")], ids=["plain", "xdist-n2"])
def test_fixture_at_every_scope(pytester, xdist):
    """Session-, module-, class- and function-scoped use; under pytest -n 2 each worker is a
    session of its own, with its own S3 server."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    _scoped_suites(pytester, root)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist, "--faasr-check-interval", "0.2")
    result.assert_outcomes(passed=6)
    assert "ScopeMismatch" not in result.stdout.str()
    if xdist:
        result.stdout.fnmatch_lines(["*2 workers*"])


@pytest.mark.slow
def test_timeout_and_check_interval_come_from_the_testbed(pytester, monkeypatch):
    """--faasr-testbed's Timeout/CheckInterval apply unless the command line says otherwise."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    testbed = (root / "testbeds/local.yaml").read_text().replace("Timeout: 300", "Timeout: 77").replace(
        "CheckInterval: 0.5", "CheckInterval: 0.3")
    (pytester.path / "tb.yaml").write_text(testbed)
    pytester.makepyfile(f"""
        import os

        def test_settings(faasr_workflow):
            with faasr_workflow({str(root / 'workflows/data_pipeline.json')!r}) as tester:
                tester.wait_for("publish")
                got = (tester.runner.timeout, tester.runner.check_interval)
                assert got == tuple(float(x) for x in os.environ["EXPECT"].split(",")), got
    """)
    for extra, expect in (((), "77,0.3"), (("--faasr-check-interval", "0.2"), "77,0.2")):
        monkeypatch.setenv("EXPECT", expect)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-testbed", "tb.yaml", *extra)
        result.assert_outcomes(passed=1)


def test_runner_takes_the_testbeds_settings():
    from faasr_easypy.runner import WorkflowRunner
    from faasr_easypy.workflow import load_workflow

    runner = WorkflowRunner.from_testbed(load_workflow("workflows/data_pipeline.json"), "testbeds/local.yaml")
    try:
        assert (runner.timeout, runner.check_interval) == (300.0, 0.5)
    finally:
        runner.close()
    runner = WorkflowRunner.from_testbed(load_workflow("workflows/data_pipeline.json"), "testbeds/local.yaml",
                                         check_interval=2)
    try:
        assert (runner.timeout, runner.check_interval) == (300.0, 2.0)
    finally:
        runner.close()


def _clone_like(tmp_path, remote):
    """A git checkout with `remote` as origin, holding DataPipeline where its FunctionGitRepo says
    (functions/DataPipeline) and the workflow in workflows/, with no workflows/functions/."""
    import pathlib
    import shutil
    import subprocess

    root = pathlib.Path(__file__).resolve().parents[1]
    clone = tmp_path / "FaaSr-workflow"
    (clone / "workflows").mkdir(parents=True)
    shutil.copy(root / "workflows/data_pipeline.json", clone / "workflows/data_pipeline.json")
    shutil.copytree(root / "workflows/functions/DataPipeline", clone / "functions/DataPipeline")
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "remote", "add", "origin", remote], check=True)
    return clone


def test_function_git_repo_resolves_inside_a_clone_of_that_repository(faasr_workflow, tmp_path):
    clone = _clone_like(tmp_path, "https://github.com/faasr-user/FaaSr-workflow.git")
    with faasr_workflow(str(clone / "workflows/data_pipeline.json")) as tester:
        tester.wait_for("publish")
        tester.assert_content_equals("pipeline/{InvocationID}/sum.txt", "210")


def test_function_git_repo_of_another_repository_says_what_was_tried(faasr_workflow, tmp_path):
    from faasr_easypy.errors import UserError

    clone = _clone_like(tmp_path, "git@github.com:someone-else/other.git")
    with pytest.raises(UserError) as exc:
        with faasr_workflow(str(clone / "workflows/data_pipeline.json")):
            pass
    message = " ".join(str(exc.value).split())  # the message may be wrapped
    assert "FunctionGitRepo names faasr-user/faasr-workflow/functions/DataPipeline" in message
    assert "this checkout is not a clone of faasr-user/faasr-workflow (GitHub remotes: someone-else/other)" in message
    assert f"{clone / 'workflows/functions/DataPipeline'}" in message
    assert "so functions/DataPipeline/ beside the workflow file; put the files there, or pass --faasr-functions DIR" \
        in message
