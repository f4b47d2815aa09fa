"""faasr-easypy: a pyATS/Easypy-style test harness for FaaSr workflows.

The public API, one page: docs/API.md.

    from faasr_easypy import WorkflowRunner, WorkflowTester, load_workflow

    with WorkflowTester.from_testbed("workflows/data_pipeline.json", "testbeds/local.yaml") as t:
        t.wait_for("publish")

Names are imported on first use: `import faasr_easypy` loads nothing else, and only
the jobfile API (run_workflow, run_workflows, WorkflowPool, workflow_statuses) loads pyATS.
"""

__version__ = "0.1.0"

# name -> module that defines it (relative to this package)
_API = {
    "load_workflow": ".workflow", "Workflow": ".workflow",
    "WorkflowRunner": ".runner", "MultiRunner": ".runner",
    "WorkflowTester": ".tester",
    "DEFAULTS": ".defaults",
    "UserError": ".errors", "ValidationError": ".errors", "BackendError": ".errors", "S3Error": ".errors",
    "load_testbed": ".placement.testbed_file",
    # the jobfile API (inside `pyats run job`: these import pyATS)
    "run_workflow": ".easypy.jobs_api", "run_workflows": ".easypy.jobs_api",
    "WorkflowPool": ".easypy.jobs_api", "workflow_statuses": ".easypy.jobs_api",
}
_ALIASES = {"load_testbed": "load_file"}

__all__ = ["DEFAULTS", "BackendError", "MultiRunner", "S3Error", "UserError", "ValidationError", "Workflow",
           "WorkflowPool", "WorkflowRunner", "WorkflowTester", "__version__", "load_testbed", "load_workflow",
           "run_workflow", "run_workflows", "workflow_statuses"]


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'faasr_easypy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), _ALIASES.get(name, name))
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
