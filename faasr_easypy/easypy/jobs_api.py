"""The jobfile API: workflow tasks, a bounded pool, and run_workflow().

    from faasr_easypy.easypy import run_workflow, WorkflowPool

    def main(runtime):
        # one workflow, like easypy.run(): blocks, returns the task's result
        run_workflow(workflow="workflows/data_pipeline.json", runtime=runtime)

        # many, at most N at a time
        pool = WorkflowPool(runtime, max_parallel_tasks=8)
        for path in sorted(Path("workflows").glob("*.json")):
            pool.submit(workflow=path)
        pool.run()

Each task is a pyATS Task (a forked process). In the task, before its aetest
testscript runs, it loads the workflow, maps its DataStores and
ComputeServers through the testbed, triggers one invocation and starts
monitoring it; the testscript gets a ``tester`` parameter (a
:class:`~faasr_easypy.tester.WorkflowTester`), plus ``workflow`` and
``invocation_id``. Live statuses of every task sit in
``runtime.faasr.statuses`` (a ``runtime.synchro`` dict; see
:func:`workflow_statuses`).

The pieces: ``task.py`` (WorkflowTask, WorkflowSession), ``pool.py``
(WorkflowPool), ``records.py`` (logs and outputs in a task's record),
``..overrides`` (parse_faasr_arg, expand_batch).
"""

from ..overrides import expand_batch, parse_faasr_arg
from .context import get_context
from .pool import NOT_RERUN, WorkflowPool
from .records import fill_outputs
from .task import GENERIC_TESTSCRIPT, WorkflowTask, find_testscript, safe_taskid

__all__ = ["GENERIC_TESTSCRIPT", "NOT_RERUN", "WorkflowPool", "WorkflowTask", "expand_batch", "fill_outputs",
           "find_testscript", "parse_faasr_arg", "run_workflow", "run_workflows", "safe_taskid", "workflow_statuses"]


def run_workflow(workflow, testscript=None, runtime=None, taskid=None, **params):
    """Run one workflow task and wait for it, like easypy.run(); return its result.

    `workflow` is a Workflow or the path of its JSON file. A list value in `overrides`
    (or --faasr-arg) runs a batch, at most `max_parallel_tasks` at a time, and returns the
    rolled-up result of its tasks.
    """
    if runtime is None:
        raise TypeError("run_workflow needs the jobfile's runtime: run_workflow(..., runtime=runtime)")
    pool = WorkflowPool(runtime, max_parallel_tasks=params.pop("max_parallel_tasks", None),
                        **{k: params.pop(k) for k in ("max_parallel",) if k in params})
    pool.submit(workflow, testscript=testscript, taskid=taskid, **params)
    pool.run()
    return pool.result


def run_workflows(workflows, runtime, max_parallel_tasks=None, testscripts_dir=None, **params):
    """Run every workflow (Workflows or paths) with its paired testscript (or the generic one),
    at most `max_parallel_tasks` at a time. Returns the WorkflowPool (its .results and
    .result say how it went)."""
    pool = WorkflowPool(runtime, max_parallel_tasks=max_parallel_tasks,
                        **{k: params.pop(k) for k in ("max_parallel",) if k in params})
    for path in workflows:
        script = find_testscript(getattr(path, "source", path), testscripts_dir) if testscripts_dir else None
        pool.submit(path, testscript=script, **params)
    pool.run()
    return pool


def workflow_statuses(runtime):
    """{taskid: {workflow, state, invocation_id, functions: {label: STATUS}, reasons, result, ...}}:
    a copy of the live statuses every task publishes."""
    return get_context(runtime).snapshot()
