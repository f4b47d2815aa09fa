"""Testscript for workflows/mixed_r_python.json: R and Python actions in one workflow.

    create-data (R) -> sum-v1, sum-v2, sum-v3 (R) + count-rows (Python) -> report (R, fan-in)

The R functions are FaaSr 2.x R code, unmodified (the local backend's warm R
server runs them; the real faasr-py runtime runs them too); the Python action
reads the CSV an R action wrote, and the R fan-in reads what both wrote. The
fan-out is by argument, not by rank: faasr-py 2.1.0's R faasr_rank() is broken
(docs/FIDELITY.md). The ColumnSum testcase loops over the sum-v<n> actions.
"""

import logging

from pyats import aetest

log = logging.getLogger(__name__)

ROWS = range(1, 11)
# df1 + df2 of create_sample_data.R: v1 = 2e, v2 = e^2 + 2e, v3 = e^3 + 3e, for e in 1..10
COLUMN_SUMS = {"v1": sum(2 * e for e in ROWS), "v2": sum(e * e + 2 * e for e in ROWS),
               "v3": sum(e ** 3 + 3 * e for e in ROWS)}


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def loop_over_columns(self, tester, workflow):
        assert workflow.name == "MixedRPython", f"this testscript is for MixedRPython, not {workflow.name}"
        columns = tester.runner.invocation.arguments("report")["columns"]
        aetest.loop.mark(ColumnSum, column=columns, uids=[f"sum_{c}" for c in columns])
        log.info("InvocationID %s; columns %s", tester.invocation_id, columns)


class CreateData(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("create-data")

    @aetest.test
    def tables_written(self, tester):
        tester.assert_object_exists("mixed/{InvocationID}/df1.csv")
        tester.assert_object_exists("mixed/{InvocationID}/df2.csv")

    @aetest.test
    def logged(self, tester):
        tester.assert_logs_contain("create-data", "create_sample_data: wrote df1.csv and df2.csv")


class ColumnSum(aetest.Testcase):
    @aetest.test
    def completed(self, tester, column):
        tester.wait_for(f"sum-{column}")

    @aetest.test
    def sum_is_right(self, tester, column):
        tester.assert_content_equals(f"mixed/{{InvocationID}}/sums/{column}.txt", f"{COLUMN_SUMS[column]}\n")
        tester.assert_logs_contain(f"sum-{column}", f"compute_column_sum: sum of {column} = {COLUMN_SUMS[column]}")


class CountRows(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("count-rows")

    @aetest.test
    def python_read_the_r_table(self, tester):
        tester.assert_content_equals("mixed/{InvocationID}/rows.txt", str(len(ROWS)))
        tester.assert_logs_contain("count-rows", "count_rows: df1.csv has 10 rows and columns v1, v2, v3")


class Report(aetest.Testcase):
    @aetest.test
    def completed_once(self, tester):
        tester.wait_for("report")

    @aetest.test
    def report_joins_both_runtimes(self, tester):
        lines = ["column,sum,rows"] + [f"{c},{s},{len(ROWS)}" for c, s in COLUMN_SUMS.items()]
        tester.assert_content_equals("mixed/{InvocationID}/report.csv", "\n".join(lines) + "\n")
        tester.assert_logs_contain("report", f"report: 3 columns, 10 rows, total {sum(COLUMN_SUMS.values())}")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def statuses(self, tester):
        for state in tester.wait_all().values():
            log.info("  %s", state.summary())
