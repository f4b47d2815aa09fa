"""Testscript for workflows/fan_out_fan_in.json: split -> square(N) -> gather.

The Square testcase is looped over the ranks of `square` (aetest.loop, marked
in CommonSetup from the workflow graph), so each rank passes or fails alone.
"""

import logging

from pyats import aetest

log = logging.getLogger(__name__)


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def loop_over_ranks(self, tester, workflow):
        assert workflow.name == "FanOutFanIn", f"this testscript is for FanOutFanIn, not {workflow.name}"
        ranks = list(range(1, workflow.rank_count("square") + 1))
        aetest.loop.mark(Square, rank=ranks, uids=[f"square_{r}" for r in ranks])
        log.info("InvocationID %s; square runs with ranks %s", tester.invocation_id, ranks)


class Split(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("split")

    @aetest.test
    def inputs_written(self, tester, workflow):
        parts = workflow.rank_count("square")
        tester.assert_content_equals("fan/{InvocationID}/inputs.json", str(list(range(1, parts + 1))))


class Square(aetest.Testcase):
    @aetest.test
    def completed(self, tester, rank):
        tester.wait_for(f"square({rank})")

    @aetest.test
    def part_written(self, tester, rank):
        tester.assert_content_equals(f"fan/{{InvocationID}}/parts/part-{rank}.txt", str(rank * rank))

    @aetest.test
    def logged(self, tester, rank):
        tester.assert_logs_contain(f"square({rank})", f"{rank}^2 = {rank * rank}")


class Gather(aetest.Testcase):
    @aetest.test
    def completed_once(self, tester):
        tester.wait_for("gather")

    @aetest.test
    def total_is_sum_of_squares(self, tester, workflow):
        parts = workflow.rank_count("square")
        tester.assert_content_equals("fan/{InvocationID}/total.txt", str(sum(r * r for r in range(1, parts + 1))))


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def statuses(self, tester):
        for state in tester.wait_all().values():
            log.info("  %s", state.summary())
