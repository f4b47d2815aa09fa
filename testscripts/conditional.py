"""Testscript for workflows/conditional.json: check-threshold returns value > threshold;
True runs `above`, False runs `below`; the branch not taken must stay NOT_INVOKED.

The expected branch follows the invocation's arguments, so
`--faasr-arg check-threshold.value=[5,42]` checks both branches in one batch.
"""

import logging

from pyats import aetest

log = logging.getLogger(__name__)


def expected_branch(tester):
    args = tester.runner.invocation.arguments("check-threshold")
    return "above" if float(args["value"]) > float(args["threshold"]) else "below"


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def invocation(self, tester, workflow):
        assert workflow.name == "ConditionalCheck", f"this testscript is for ConditionalCheck, not {workflow.name}"
        log.info("InvocationID %s; expecting the %r branch", tester.invocation_id, expected_branch(tester))


class CheckThreshold(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("check-threshold")

    @aetest.test
    def decision_written(self, tester):
        args = tester.runner.invocation.arguments("check-threshold")
        above = float(args["value"]) > float(args["threshold"])
        tester.assert_content_equals("conditional/{InvocationID}/decision.txt",
                                     f"{args['value']} > {args['threshold']}: {above}\n")


class BranchTaken(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for(expected_branch(tester))

    @aetest.test
    def branch_file_written(self, tester):
        branch = expected_branch(tester)
        tester.assert_content_equals(f"conditional/{{InvocationID}}/{branch}.txt", branch)


class BranchNotTaken(aetest.Testcase):
    @aetest.test
    def not_invoked(self, tester):
        other = "below" if expected_branch(tester) == "above" else "above"
        tester.assert_function_not_invoked(other)

    @aetest.test
    def no_branch_file(self, tester):
        other = "below" if expected_branch(tester) == "above" else "above"
        tester.assert_object_does_not_exist(f"conditional/{{InvocationID}}/{other}.txt")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def statuses(self, tester):
        for state in tester.wait_all().values():
            log.info("  %s", state.summary())
