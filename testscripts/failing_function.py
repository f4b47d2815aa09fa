"""Testscript for workflows/failing_function.json: a workflow that fails on purpose.

prepare completes, explode raises ZeroDivisionError, after-explode never runs.
This script EXPECTS that, so it passes; run the generic testscript against the
same workflow to see a failing workflow give FAILED testcases.
"""

import logging

from pyats import aetest

log = logging.getLogger(__name__)


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def invocation(self, tester, workflow):
        assert workflow.name == "FailingStep", f"this testscript is for FailingStep, not {workflow.name}"
        log.info("InvocationID %s", tester.invocation_id)


class Prepare(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("prepare")

    @aetest.test
    def output_written(self, tester):
        tester.assert_content_equals("failing/{InvocationID}/ready.txt", "ready")


class Explode(aetest.Testcase):
    @aetest.test
    def failed_as_expected(self, tester):
        state = tester.wait_for("explode", should_fail=True)
        assert "ZeroDivisionError" in (state.reason + " ".join(state.error_lines)), \
            f"explode failed, but not with ZeroDivisionError: {state.reason}"

    @aetest.test
    def traceback_in_log(self, tester):
        tester.assert_logs_contain("explode", "ZeroDivisionError")


class AfterExplode(aetest.Testcase):
    @aetest.test
    def never_ran(self, tester):
        tester.assert_function_skipped("after-explode")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def statuses(self, tester):
        for state in tester.wait_all().values():
            log.info("  %s", state.summary())
