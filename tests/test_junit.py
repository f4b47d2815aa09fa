"""JUnit XML and the GitHub step summary (issue 16 item 3), on hand-made results; the real
pyATS job's file is checked in tests/test_truthful_results.py. The shipped schema
(faasr_easypy/report/schemas/junit.xsd) must accept what a common writer (pytest's own
--junitxml) produces and refuse what CI readers would choke on."""

import copy
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from faasr_easypy.report.junit import to_string, validate, write_junit
from faasr_easypy.report.step_summary import append_step_summary, markdown

from . import report_fixtures as rf

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


def suites(xml):
    return {s.get("name"): s for s in ET.fromstring(xml).findall("testsuite")}


def test_fixture_job_is_valid_and_counts_add_up():
    xml = to_string(rf.job_results())
    assert validate(xml) == []
    root = ET.fromstring(xml)
    by_name = suites(xml)
    assert list(by_name) == ["DataPipeline-1", "FailingStep-1", "FanOutFanIn-1", "Conditional-1"]
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == sum(int(s.get(key)) for s in by_name.values()), key
    failing = by_name["FailingStep-1"]
    [failure] = [c for c in failing.iter("failure")]
    assert failure.get("message").startswith("step2 is FAILED: ValueError: input <b>bad</b>")
    props = {p.get("name"): p.get("value") for p in failing.iter("property")}
    assert props["function:step2"] == "FAILED" and props["function:step3"] == "SKIPPED"
    assert props["function:step3:reason"] == "upstream step2 FAILED"
    assert rf.FAKE_SECRET not in xml and rf.FAKE_ACCESS_KEY not in xml


def test_a_bad_task_without_a_failing_section_is_never_green():
    """Conditional-1 was aborted by Ctrl-C before its testscript recorded anything."""
    aborted = suites(to_string(rf.job_results()))["Conditional-1"]
    [case] = aborted.findall("testcase")
    assert case.get("name") == "workflow"
    [error] = list(case)
    assert error.tag == "error" and error.get("type") == "aborted"
    assert "KeyboardInterrupt" in error.get("message")
    assert aborted.get("errors") == "1"


def test_control_characters_from_logs_keep_the_file_readable(tmp_path):
    results = copy.deepcopy(rf.job_results())
    results["workflows"][1]["testcases"][1]["reason"] = "bad \x1b[31mred\x1b[0m \x00 byte"
    path = write_junit(results, tmp_path / "j.xml")
    assert validate(path) == []
    assert "\x1b" not in path.read_text()


def test_the_schema_refuses_what_ci_readers_refuse():
    good = ('<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="t"/>'
            '</testsuite></testsuites>')
    assert validate(good) == []
    assert validate(good.replace(' name="t"', ""))                      # a testcase needs a name
    assert validate(good.replace('tests="1"', 'tests="one"'))           # counts are numbers
    assert validate(good.replace('<testcase name="t"/>', '<testcase name="t"><properties/></testcase>'))
    assert validate(good.replace("<testsuites>", '<testsuites time="3 s">'))


@pytest.mark.slow
def test_pytest_fixture_failures_read_well_in_pytests_own_junitxml(pytester):
    """pytest's --junitxml of a failing faasr_workflow test: valid against the same schema, and
    the failure message starts with what went wrong and why (the function's exception)."""
    pytester.makepyfile(f"""
        def test_explodes(faasr_workflow):
            with faasr_workflow({str(ROOT / 'workflows/failing_function.json')!r}) as tester:
                tester.wait_for("explode")

        def test_prepares(faasr_workflow):
            with faasr_workflow({str(ROOT / 'workflows/failing_function.json')!r}) as tester:
                tester.wait_for("prepare")
    """)
    out = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={out}",
                                           "--faasr-check-interval", "0.2")
    result.assert_outcomes(passed=1, failed=1)
    assert validate(out) == []
    cases = {c.get("name"): c for c in ET.parse(out).iter("testcase")}
    assert list(cases["test_prepares"]) == []
    [failure] = [e for e in cases["test_explodes"] if e.tag == "failure"]
    first = failure.get("message").splitlines()[0]
    assert first == ("AssertionError: Expected explode to be COMPLETED, but explode is FAILED: "
                     "The function raised ZeroDivisionError: division by zero."), first
    assert "Last log lines of explode" in failure.get("message")


def test_step_summary_markdown_escapes_and_lists_what_did_not_pass(tmp_path):
    text = markdown(rf.job_results(), "faasr_report.html in the archive")
    assert text.startswith("## ❌ FaaSr job `faasr_job`: FAILED")
    assert "| FailingStep-1 | FailingStep | ❌ FAILED |" in text
    assert "`check_all_completed` FAILED: step2 is FAILED: ValueError: input &lt;b&gt;bad&lt;/b&gt;" in text
    assert "<b>" not in text
    assert rf.FAKE_SECRET not in text
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    assert append_step_summary(rf.job_results(), environ={"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert target.read_text().startswith("earlier step\n## ❌ FaaSr job")
    assert append_step_summary(rf.job_results(), environ={}) is None
