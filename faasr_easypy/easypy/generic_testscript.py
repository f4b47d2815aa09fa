"""Generic testscript for any FaaSr workflow (the fallback of the regression job).

Passes when every invoked function completed and every expected output exists:

* one ``Function`` testcase per function instance (``name`` or ``name(rank)``):
  COMPLETED passes; FAILED, TIMEOUT or SKIPPED (something upstream failed)
  FAIL with the monitor's reason; NOT_INVOKED (a branch not taken) is skipped;
* one ``ExpectedOutput`` testcase per expected S3 key: the ``expected_outputs``
  parameter (e.g. ``run_workflow(..., expected_outputs=["out/{InvocationID}/x.txt"])``),
  else the workflow JSON's optional ``"ExpectedOutputs"`` list.

Parameters (given by faasr_easypy.easypy's workflow task): tester, workflow.
"""

import logging

from pyats import aetest

log = logging.getLogger(__name__)


def _labels(workflow):
    from faasr_easypy.layout import instance_label

    return [instance_label(a, r) for action in workflow.topological_order()
            for a, r in workflow.instances(action)]


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def plan_testcases(self, workflow, expected_outputs=None):
        outputs = list(expected_outputs if expected_outputs is not None
                       else workflow.data.get("ExpectedOutputs") or [])
        labels = _labels(workflow)
        aetest.loop.mark(Function, label=labels, uids=[f"function[{lb}]" for lb in labels])
        if outputs:
            aetest.loop.mark(ExpectedOutput, key=outputs, uids=[f"output[{k}]" for k in outputs])
        else:
            # Nothing to check: a loop over no values would still run the class once.
            aetest.skip.affix(ExpectedOutput, "the workflow names no ExpectedOutputs")
        log.info("Workflow %s: %d function instance(s), %d expected output(s)",
                 workflow.name, len(labels), len(outputs))

    @aetest.subsection
    def wait_for_the_workflow(self, tester):
        from faasr_easypy.errors import S3Error

        try:
            tester.wait_all()
        except AssertionError as exc:  # a timeout: each function's testcase says which
            log.warning("%s", exc)
        except S3Error as exc:  # the S3 server died: each function's testcase errors with why
            log.error("%s", exc)
        for state in tester.statuses.values():
            log.info("  %s", state.summary())


class Function(aetest.Testcase):
    @aetest.test
    def finished_well(self, tester, label):
        state = tester.statuses[label]
        status = state.status.value
        if status == "COMPLETED":
            self.passed(f"{label} completed")
        elif not state.is_final and tester.runner.s3_lost:
            self.errored(f"{label} is {status}: {state.reason}")  # the harness lost S3, not the function
        elif status == "NOT_INVOKED":
            self.skipped(f"{label} was not invoked" + (f": {state.reason}" if state.reason else ""))
        else:
            lines = "\n".join(state.last_lines[-10:])
            self.failed(f"{label} is {status}" + (f": {state.reason}" if state.reason else "")
                        + (f"\nLast log lines:\n{lines}" if lines else ""))


class ExpectedOutput(aetest.Testcase):
    @aetest.test
    def exists(self, tester, key=None):
        try:
            found = tester.assert_object_exists(key)
        except AssertionError as exc:
            self.failed(str(exc))
        else:
            self.passed(f"{found} exists")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def summary(self, tester):
        for state in tester.statuses.values():
            log.info("  %s", state.summary())
