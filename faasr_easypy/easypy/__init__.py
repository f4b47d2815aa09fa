"""faasr-easypy's pyATS side: the Easypy plugin, the jobfile API and the testbed loader.

Jobfiles use (the same names are exported by the top-level package):

    from faasr_easypy import run_workflow, WorkflowPool, run_workflows, workflow_statuses

Names are imported lazily: the plugin module is loaded by every `pyats run
job`, and must not pull in boto3 or the runner when a job does not use FaaSr.
Internal names once exported here still resolve, with a DeprecationWarning naming
their module.
"""

_API = {
    "run_workflow": "jobs_api", "run_workflows": "jobs_api", "WorkflowPool": "jobs_api",
    "WorkflowTask": "task", "workflow_statuses": "jobs_api", "register_report_hook": "plugin",
}
_INTERNAL = {
    "expand_batch": "..overrides", "parse_faasr_arg": "..overrides", "find_testscript": ".task",
    "GENERIC_TESTSCRIPT": ".task", "get_context": ".context", "JobContext": ".context",
    "FaasrTestbed": "..placement.model", "load_file": ".pyats_testbed", "load_builtin": ".pyats_testbed",
    "CONFIG_FILE": ".plugin",
}

__all__ = ["WorkflowPool", "WorkflowTask", "register_report_hook", "run_workflow", "run_workflows",
           "workflow_statuses"]


def __getattr__(name):
    import importlib

    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    if name in _INTERNAL:
        from .._deprecation import warn_deprecated

        module = importlib.import_module(_INTERNAL[name], __name__)
        warn_deprecated(f"faasr_easypy.easypy.{name} is deprecated: import it from {module.__name__}")
        return getattr(module, name)
    raise AttributeError(f"module 'faasr_easypy.easypy' has no attribute {name!r}")
