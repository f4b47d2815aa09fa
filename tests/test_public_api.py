"""The public API of docs/API.md: one table of defaults for every entry point, a testbed's
settings winning where a testbed is given, one name per idea, old names deprecated."""

import argparse
import warnings

import pytest

import faasr_easypy
from faasr_easypy import DEFAULTS, MultiRunner, WorkflowRunner, WorkflowTester, load_workflow
from faasr_easypy.defaults import setting
from faasr_easypy.errors import UserError
from faasr_easypy.monitor.statuses import Status
from faasr_easypy.overrides import check_actions, overrides_from
from faasr_easypy.placement.testbed_file import load_file
from faasr_easypy.s3.client import DataStore

from .helpers import REPO

LOCAL = REPO / "testbeds" / "local.yaml"
CONDITIONAL = REPO / "workflows" / "conditional.json"


def _store():
    # Never contacted: these runners are built and closed, not started.
    return DataStore(name="S3", bucket="faasr", endpoint="http://127.0.0.1:9", access_key="k", secret_key="s")


def _testbed(tmp_path, **settings):
    text = LOCAL.read_text()
    for key, value in settings.items():
        text = text.replace(f"      {key}: ", f"      {key}: {value}  # was ", 1)
    path = tmp_path / "testbed.yaml"
    path.write_text(text)
    return path


# -- the package -------------------------------------------------------------------------

def test_the_package_exports_the_user_facing_names():
    for name in faasr_easypy.__all__:
        assert getattr(faasr_easypy, name) is not None, name
    assert faasr_easypy.load_workflow is load_workflow
    with pytest.raises(AttributeError):
        faasr_easypy.no_such_name  # noqa: B018 -- the lookup is the test


def test_the_version_is_written_once():
    setup = (REPO / "setup.py").read_text()
    assert faasr_easypy.__version__ not in setup  # setup.py reads it from the package


# -- one table of defaults ---------------------------------------------------------------

def test_every_entry_point_defaults_from_the_one_table():
    from faasr_easypy.cli import build_parser
    from faasr_easypy.easypy.options import DEFAULTS as JOB_DEFAULTS

    runner = WorkflowRunner(load_workflow(CONDITIONAL), object(), _store())
    try:
        assert (runner.timeout, runner.check_interval) == (DEFAULTS["timeout"], DEFAULTS["check_interval"])
    finally:
        runner.close()
    args = build_parser().parse_args(["run", str(CONDITIONAL)])
    assert (args.timeout, args.check_interval, args.action_timeout) == (None, None, None)  # -> the table
    assert JOB_DEFAULTS["timeout"] == DEFAULTS["timeout"]
    assert JOB_DEFAULTS["check_interval"] == DEFAULTS["check_interval"]
    assert JOB_DEFAULTS["action_timeout"] == DEFAULTS["action_timeout"]
    assert JOB_DEFAULTS["parallel"] == DEFAULTS["max_parallel_tasks"]


def test_a_testbed_setting_wins_over_the_table_and_a_given_value_over_both(tmp_path):
    testbed = load_file(_testbed(tmp_path, Timeout=42, CheckInterval=0.25))
    assert setting("timeout", None, testbed) == 42
    assert setting("timeout", 7, testbed) == 7
    assert setting("check_interval", None, testbed) == 0.25
    assert setting("timeout", None, None) == DEFAULTS["timeout"]
    from faasr_easypy.easypy.options import job_options, option

    assert option(job_options({}), testbed, "timeout") == 42
    assert option(job_options({"cli_timeout": 9}), testbed, "timeout", 7) == 9


def test_from_testbed_takes_the_testbed_settings(tmp_path, monkeypatch):
    from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY

    for var in (ENV_ENDPOINT, ENV_ACCESS_KEY, ENV_SECRET_KEY):
        monkeypatch.delenv(var, raising=False)
    path = _testbed(tmp_path, Timeout=42, CheckInterval=0.25, ActionTimeout=33)
    runner = WorkflowRunner.from_testbed(CONDITIONAL, path, check_interval=0.2)
    try:
        assert runner.timeout == 42 and runner.check_interval == 0.2
        assert runner.backend.action_timeout == 33
    finally:
        runner.close()
    with pytest.raises(Exception):  # noqa: B017 -- closed: its S3 server is gone
        runner.client.list_buckets()


# -- one name per idea, old names deprecated -------------------------------------------------

def test_overrides_and_its_deprecated_name():
    wf = load_workflow(CONDITIONAL)
    runner = WorkflowRunner(CONDITIONAL, object(), _store(), overrides={"check-threshold": {"value": 3}})
    assert runner.invocation.arguments("check-threshold")["value"] == 3
    assert runner.workflow.name == wf.name  # a path is loaded
    runner.close()
    with pytest.warns(DeprecationWarning, match="argument_overrides= is deprecated, use overrides="):
        old = WorkflowRunner(wf, object(), _store(), argument_overrides={"check-threshold": {"value": 4}})
    assert old.invocation.arguments("check-threshold")["value"] == 4
    old.close()
    with pytest.raises(TypeError, match="unexpected keyword argument 'argument_overide'"):
        WorkflowRunner(wf, object(), _store(), argument_overide={})
    with pytest.raises(TypeError):
        WorkflowRunner(wf, object(), _store(), 60)  # options are keyword-only


def test_teardown_is_close_and_the_old_verbs_warn():
    wf = load_workflow(CONDITIONAL)
    for verb in ("shutdown", "force_shutdown"):
        runner = WorkflowRunner(wf, object(), _store())
        with pytest.warns(DeprecationWarning, match=f"{verb}\\(\\) is deprecated"):
            getattr(runner, verb)()
        assert runner.stopped
        runner.close()  # and again: safe
    tester = WorkflowTester(wf, object(), _store())
    with pytest.warns(DeprecationWarning, match="WorkflowTester.shutdown"):
        tester.shutdown()
    assert tester.runner.stopped
    multi = MultiRunner([WorkflowRunner(wf, object(), _store())])
    with pytest.warns(DeprecationWarning, match="MultiRunner.shutdown"):
        multi.shutdown(timeout=1)
    assert multi.runners[0].stopped


def test_a_testbed_in_place_of_the_backend_is_deprecated(tmp_path):
    with pytest.warns(DeprecationWarning, match="from_testbed"), pytest.raises(UserError):
        WorkflowRunner(load_workflow(CONDITIONAL), tmp_path / "absent.yaml")


def test_the_old_easypy_exports_warn():
    import faasr_easypy.easypy as easypy

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert easypy.run_workflow is faasr_easypy.run_workflow
    with pytest.warns(DeprecationWarning, match="faasr_easypy.overrides"):
        assert easypy.parse_faasr_arg is faasr_easypy.overrides.parse_faasr_arg


@pytest.mark.parametrize("path", sorted((REPO / "jobs").glob("*.py")) + sorted((REPO / "testscripts").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_jobs_and_testscripts_use_no_deprecated_name(path):
    """What we ship is what users copy: it must use the public names, not the deprecated ones."""
    import subprocess
    import sys

    code = ("import importlib.util, sys, warnings; warnings.simplefilter('error', DeprecationWarning); "
            "spec = importlib.util.spec_from_file_location('shipped', sys.argv[1]); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_pool_names_task_parallelism_apart_from_action_parallelism():
    from faasr_easypy.easypy.pool import WorkflowPool

    runtime = argparse.Namespace(directory=None)
    assert WorkflowPool(runtime, max_parallel_tasks=3).max_parallel == 3
    with pytest.warns(DeprecationWarning, match="max_parallel= is deprecated, use max_parallel_tasks="):
        assert WorkflowPool(runtime, max_parallel=2).max_parallel == 2


# -- overrides from every entry point ----------------------------------------------------

def test_one_parser_for_overrides():
    assert overrides_from(["a.n=3", "a.s=x", "b.v=[[1,2]]"]) == {"a": {"n": 3, "s": "x"}, "b": {"v": [1, 2]}}
    with pytest.raises(UserError, match="batch of 2 runs"):
        overrides_from(["a.n=[1,2]"], option="--arg")
    with pytest.raises(UserError, match="ACTION.KEY=VALUE"):
        overrides_from(["a=1"])
    with pytest.raises(UserError, match="'nope'.*check-threshold"):
        check_actions({"nope": {"x": 1}}, load_workflow(CONDITIONAL))


def test_cli_run_takes_a_testbed_and_overrides():
    from .test_cli import cli

    res = cli("run", str(CONDITIONAL), "--testbed", str(LOCAL), "--arg", "check-threshold.value=3",
              "--check-interval", "0.2", cwd=REPO)
    assert res.returncode == 0, res.stderr
    lines = [line.split() for line in res.stdout.splitlines()]
    assert ["below", Status.COMPLETED.value] in [line[:2] for line in lines], res.stdout
    assert ["above", Status.NOT_INVOKED.value] in [line[:2] for line in lines], res.stdout
    bad = cli("run", str(CONDITIONAL), "--arg", "nope.value=3", cwd=REPO)
    assert bad.returncode == 2 and "'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_pytest_takes_faasr_arg(pytester):
    pytester.makepyfile(f"""
        def test_below(faasr_workflow):
            with faasr_workflow({str(CONDITIONAL)!r}) as tester:
                tester.wait_for("below")
                tester.assert_function_not_invoked("above")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--faasr-check-interval", "0.2",
                                           "--faasr-arg", "check-threshold.value=3")
    result.assert_outcomes(passed=1)


pytest_plugins = ["pytester"]


def test_the_report_counts_every_status_the_monitor_has():
    from faasr_easypy.report import model

    assert set(model.STATUSES) == {s.value for s in Status}
    assert model.FINAL_STATUSES == {s.value for s in Status if s.is_final}
