"""Testscript for workflows/data_pipeline.json (create-input -> compute-sum -> publish).

Run by jobs/faasr_job.py; the task gives it `tester` (a WorkflowTester bound to
one invocation) and `workflow`. Expected values follow the invocation's real
arguments, so `--faasr-arg create-input.count=[10,50]` (a batch) still checks right.
"""

import logging

from pyats import aetest

log = logging.getLogger(__name__)


def expected_total(tester):
    count = int(tester.runner.invocation.arguments("create-input")["count"])
    return count * (count + 1) // 2


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def invocation(self, tester, workflow):
        assert workflow.name == "DataPipeline", f"this testscript is for DataPipeline, not {workflow.name}"
        log.info("InvocationID %s, S3 folder %s, expected total %d",
                 tester.invocation_id, tester.runner.layout.folder, expected_total(tester))


class CreateInput(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("create-input")

    @aetest.test
    def logged_the_upload(self, tester):
        count = tester.runner.invocation.arguments("create-input")["count"]
        tester.assert_logs_contain("create-input", f"uploaded {count} numbers")


class ComputeSum(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("compute-sum")

    @aetest.test
    def sum_is_right(self, tester):
        tester.assert_content_equals("pipeline/{InvocationID}/sum.txt", str(expected_total(tester)))


class Publish(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("publish")

    @aetest.test
    def report_written(self, tester):
        tester.assert_content_equals("pipeline/{InvocationID}/report.txt", f"total={expected_total(tester)}\n")

    @aetest.test
    def intermediate_csv_deleted(self, tester):
        tester.assert_object_does_not_exist("pipeline/{InvocationID}/numbers.csv")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def every_function_completed(self, tester):
        states = tester.wait_all()
        bad = [s.summary() for s in states.values() if s.status.value != "COMPLETED"]
        assert not bad, "not completed: " + "; ".join(bad)
