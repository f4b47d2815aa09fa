"""pytest plugin (entry point `pytest11`): the `faasr_workflow` fixture.

    def test_pipeline(faasr_workflow):
        with faasr_workflow("workflows/data_pipeline.json") as tester:
            tester.wait_for("publish")
            tester.assert_content_equals(f"pipeline/{tester.invocation_id}/sum.txt", "210")

One S3 server serves the whole pytest session (started on first use); each
`with` block gets its own local backend and InvocationID.
"""

from contextlib import contextmanager

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("faasr", "faasr-easypy")
    group.addoption("--faasr-testbed", default=None, metavar="YAML",
                    help="pyATS testbed saying where functions run and where S3 is "
                         "(default: the embedded S3 server and the local backend)")
    group.addoption("--faasr-functions", default=None, metavar="DIR",
                    help="functions folder (default: functions/<WorkflowName> beside the workflow)")
    group.addoption("--faasr-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="overall deadline of one workflow run (default 120)")
    group.addoption("--faasr-check-interval", type=float, default=0.25, metavar="SECONDS",
                    help="S3 polling interval (default 0.25)")


@pytest.fixture(scope="session")
def faasr_s3(request):
    """The S3 service of this pytest session (embedded SeaweedFS, or FAASR_EASYPY_S3_ENDPOINT)."""
    from faasr_easypy.environment import start_s3

    service = start_s3()
    yield service
    service.close()


@pytest.fixture
def faasr_workflow(request):
    """Returns `open(path, functions=None, timeout=None, argument_overrides=None)`,
    a context manager that triggers the workflow and yields a WorkflowTester."""
    from faasr_easypy.cli import default_functions_dir
    from faasr_easypy.environment import LocalEnvironment
    from faasr_easypy.errors import UserError
    from faasr_easypy.tester import WorkflowTester
    from faasr_easypy.workflow import load_workflow

    config = request.config
    if config.getoption("faasr_testbed"):
        raise UserError("--faasr-testbed: the pytest plugin runs on the embedded default for now; "
                        "use `pyats run job ... --testbed-file` for other testbeds")
    s3 = request.getfixturevalue("faasr_s3")

    @contextmanager
    def open_workflow(path, functions=None, timeout=None, argument_overrides=None, **runner_kwargs):
        workflow = load_workflow(path)
        folder = functions or config.getoption("faasr_functions") or default_functions_dir(path, workflow)
        with LocalEnvironment(workflow, folder, s3=s3) as env:
            tester = WorkflowTester(workflow, env.backend, env.logging_store,
                                    timeout=timeout or config.getoption("faasr_timeout"),
                                    check_interval=config.getoption("faasr_check_interval"),
                                    argument_overrides=argument_overrides, **runner_kwargs)
            with tester:
                yield tester

    return open_workflow
