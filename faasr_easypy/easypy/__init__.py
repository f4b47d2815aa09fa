"""faasr-easypy's pyATS side: the Easypy plugin, the jobfile API and the testbed loader.

Jobfiles use:

    from faasr_easypy.easypy import run_workflow, WorkflowPool, run_workflows, workflow_statuses

Names are imported lazily: the plugin module is loaded by every `pyats run
job`, and must not pull in boto3 or the runner when a job does not use FaaSr.
"""

_API = {
    "run_workflow": "jobs_api", "run_workflows": "jobs_api", "WorkflowPool": "jobs_api",
    "WorkflowTask": "jobs_api", "workflow_statuses": "jobs_api", "expand_batch": "jobs_api",
    "parse_faasr_arg": "jobs_api", "find_testscript": "jobs_api", "GENERIC_TESTSCRIPT": "jobs_api",
    "get_context": "context", "JobContext": "context",
    "FaasrTestbed": "..placement.model", "load_file": "pyats_testbed", "load_builtin": "pyats_testbed",
    "register_report_hook": "plugin", "CONFIG_FILE": "plugin",
}

__all__ = ["CONFIG_FILE", "GENERIC_TESTSCRIPT", "FaasrTestbed", "JobContext", "WorkflowPool", "WorkflowTask",
           "expand_batch", "find_testscript", "get_context", "load_builtin", "load_file", "parse_faasr_arg",
           "register_report_hook", "run_workflow", "run_workflows", "workflow_statuses"]


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'faasr_easypy.easypy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
