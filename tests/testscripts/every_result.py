"""Every pyATS result at least once, on a real DataPipeline run (tests/test_truthful_results.py).

Passed, failed (a bare assert, also in a loop), errored (an exception), skipped (a
decorator), blocked, passx and aborted: each must reach results.json, faasr_results.json,
the HTML report, the mail and the JUnit XML under its own name and with its own words."""
from pyats import aetest


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def ready(self, tester):
        tester.wait_for("create-input")


class Passing(aetest.Testcase):
    @aetest.test
    def completed(self, tester):
        tester.wait_for("publish")


class Failing(aetest.Testcase):
    @aetest.test
    def sum_is_wrong(self):
        total = 210
        assert total == 211, f"sum mismatch: expected 211, found {total}"


class Erroring(aetest.Testcase):
    @aetest.test
    def explodes(self):
        raise RuntimeError("boom from an erroring section")


@aetest.skip("not applicable to this workflow")
class Skipped(aetest.Testcase):
    @aetest.test
    def never(self):
        pass


class Others(aetest.Testcase):
    @aetest.test
    def blocked_one(self):
        self.blocked("blocked on purpose")

    @aetest.test
    def passx_one(self):
        self.passx("known issue FAASR-1")

    @aetest.test
    def aborted_one(self):
        self.aborted("aborted on purpose")


@aetest.loop(n=[1, 2])
class Looped(aetest.Testcase):
    @aetest.test
    def check(self, n):
        assert n == 1, f"n is {n}"
