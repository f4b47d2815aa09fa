"""pytest plugin (entry point `pytest11`): the `faasr_workflow` fixture.

    def test_pipeline(faasr_workflow):
        with faasr_workflow("workflows/data_pipeline.json") as tester:
            tester.wait_for("publish")
            tester.assert_content_equals(f"pipeline/{tester.invocation_id}/sum.txt", "210")

`faasr_workflow` is session-scoped, so fixtures of every scope can use it; the
tester lives as long as its `with` block. The pattern of FaaSr's existing
harnesses (one invocation per test module, one test per function):

    @pytest.fixture(scope="module")
    def tester(faasr_workflow):
        with faasr_workflow("workflows/data_pipeline.json") as t:
            yield t

One S3 server serves the whole pytest session (started on first use; one per
worker under pytest-xdist, whose workers are separate sessions); each `with`
block gets its own local backend and InvocationID. `--faasr-testbed YAML`
places workflows as `pyats run job --testbed-file` does: real S3, GitHub
Actions, Lambda or OpenWhisk, or the embedded default spelled out.
"""

import warnings
from contextlib import contextmanager

import pytest

from faasr_easypy.defaults import DEFAULTS


def pytest_addoption(parser):
    group = parser.getgroup("faasr", "faasr-easypy")
    group.addoption("--faasr-testbed", default=None, metavar="YAML",
                    help="pyATS testbed saying where functions run and where S3 is, as for "
                         "`pyats run job --testbed-file` (default: the embedded S3 server and the "
                         "local backend)")
    group.addoption("--faasr-functions", default=None, metavar="DIR",
                    help="functions folder (default: functions/<WorkflowName> beside the workflow)")
    group.addoption("--faasr-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"overall deadline of one workflow run (default: testbed Timeout, else "
                         f"{DEFAULTS['timeout']:g})")
    group.addoption("--faasr-check-interval", type=float, default=None, metavar="SECONDS",
                    help=f"S3 polling interval (default: testbed CheckInterval, else {DEFAULTS['check_interval']:g})")
    group.addoption("--faasr-arg", action="append", default=[], metavar="ACTION.KEY=VALUE",
                    help="override an action argument in every run (VALUE is JSON when it parses); "
                         "overrides= given to faasr_workflow() win")


def pytest_configure(config):
    # A bad testbed is a usage error of this run: one message, before any test starts.
    from faasr_easypy.errors import UserError
    from faasr_easypy.overrides import overrides_from

    try:
        config._faasr_overrides = overrides_from(config.getoption("faasr_arg", None))
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    path = config.getoption("faasr_testbed", None)
    if path:
        from faasr_easypy.errors import UserError
        from faasr_easypy.placement.testbed_file import load_file

        try:
            config._faasr_testbed = load_file(path)
            config._faasr_testbed.check_available()
        except UserError as exc:
            raise pytest.UsageError(f"--faasr-testbed: {exc}") from None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """SIGTERM inside `with WorkflowTester(...)` stops the run cleanly and raises SystemExit(143),
    which pytest records as one failed test before it goes on with the next: the session
    went on running after the SIGTERM. It now stops after that test (fixtures torn down)."""
    yield
    from faasr_easypy.runner import TERMINATED

    if TERMINATED and not item.session.shouldstop:
        item.session.shouldstop = (f"{TERMINATED[0]} during a faasr-easypy workflow run "
                                   "(the run was stopped; no further test runs)")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """...and pytest exits 128 + the signal (143), as the terminated program it is."""
    import signal

    from faasr_easypy.runner import TERMINATED

    if TERMINATED:
        session.exitstatus = 128 + signal.Signals[TERMINATED[0]].value


@pytest.fixture(scope="session")
def faasr_s3(request):
    """The S3 service of this pytest session (embedded SeaweedFS, or FAASR_EASYPY_S3_ENDPOINT)."""
    from faasr_easypy.environment import start_s3

    service = start_s3()
    yield service
    service.close()


@pytest.fixture(scope="session")
def faasr_workflow(request):
    """Returns `open(workflow, functions=None, timeout=None, overrides=None, test_invocation_id=None,
    **runner_options)`, a context manager that triggers the workflow (a Workflow or the path of
    its JSON file) and yields a WorkflowTester. Unset options come from --faasr-* (--faasr-arg
    merged under `overrides`), the testbed, then faasr_easypy/defaults.py.

    Session-scoped (it only hands out the opener), so session-, module-, class- and
    function-scoped fixtures can all use it; what a `with` block starts it stops."""
    from faasr_easypy import function_source
    from faasr_easypy._deprecation import renamed_keyword
    from faasr_easypy.backends.local.packages import container_note
    from faasr_easypy.defaults import setting
    from faasr_easypy.environment import LocalEnvironment
    from faasr_easypy.function_check import check_before_run
    from faasr_easypy.overrides import check_actions
    from faasr_easypy.tester import WorkflowTester
    from faasr_easypy.workflow import Workflow, load_workflow

    config = request.config
    testbed = getattr(config, "_faasr_testbed", None)

    @contextmanager
    def on_testbed(workflow, folder):
        """(backend, logging store) of `workflow` placed by the --faasr-testbed file."""
        from faasr_easypy.placement.place import placed

        embedded = request.getfixturevalue("faasr_s3") if testbed.needs_embedded_s3 else None
        with placed(workflow, testbed, folder, embedded_s3=embedded,
                    fix="put the workflow's Python files there, or pass --faasr-functions DIR "
                        "(or functions=DIR).") as placement:
            yield placement

    @contextmanager
    def embedded_default(workflow, folder):
        with LocalEnvironment(workflow, folder, s3=request.getfixturevalue("faasr_s3")) as env:
            yield env.backend, env.logging_store

    @contextmanager
    def open_workflow(workflow, functions=None, timeout=None, overrides=None, test_invocation_id=None,
                      **runner_kwargs):
        """test_invocation_id: the InvocationID to use (FaaSr-Integration-Tests' workflow_file
        takes it too); default a new UUID."""
        given = {k: runner_kwargs.pop(k) for k in ("argument_overrides",) if k in runner_kwargs}
        overrides = renamed_keyword(given, "argument_overrides", "overrides", overrides, "faasr_workflow()")
        path = workflow.source if isinstance(workflow, Workflow) else workflow
        if not isinstance(workflow, Workflow):
            workflow = load_workflow(workflow)
        merged = {a: dict(args) for a, args in getattr(config, "_faasr_overrides", {}).items()}
        for action, args in (overrides or {}).items():
            merged.setdefault(action, {}).update(args)
        check_actions(merged, workflow)
        if test_invocation_id:
            from faasr_easypy.invocation import Invocation

            runner_kwargs["invocation"] = Invocation(workflow, invocation_id=str(test_invocation_id),
                                                     argument_overrides=merged)
        note = container_note(workflow)
        if note and (testbed is None or testbed.is_local):
            warnings.warn(note, stacklevel=3)
        folder = functions or config.getoption("faasr_functions")
        fix_folder = None
        if not folder:
            folder = function_source.functions_dir(workflow, path)
            fix_folder = (f"{function_source.explain(workflow, path)}; put the files there, "
                          "or pass --faasr-functions DIR")
        # a missing folder or function fails before the trigger
        check_before_run(workflow, folder, testbed=testbed, fix_folder=fix_folder)
        place = on_testbed if testbed is not None else embedded_default
        with place(workflow, folder) as (backend, logging_store):
            runner_kwargs.setdefault("check_interval", setting(
                "check_interval", config.getoption("faasr_check_interval"), testbed))
            tester = WorkflowTester(workflow, backend, logging_store,
                                    timeout=setting("timeout", timeout or config.getoption("faasr_timeout"), testbed),
                                    overrides=merged, **runner_kwargs)
            with tester:
                yield tester

    return open_workflow
