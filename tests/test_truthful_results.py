"""Red means red (issue 14 item 1): one real `pyats run job` whose testscript has a passing,
a failing, an erroring, a skipped, a blocked, a passx and an aborted section, mailed to a
real SMTP server (aiosmtpd). Its results.json (what pyATS recorded) is the truth; the
archive's faasr_results.json, the report's DOM in headless Chromium and the mail body must
say the same for every section, with the failure's own message, testscript line and duration.
"""

import os
import shutil
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from .easypy_helpers import PROJECT, leftovers, read_json, run_job
from .test_mail import parse_message, smtp_server, wait_for_mail
from .test_report_browser import DomParser, chromium, run_chromium  # noqa: F401 - chromium is a fixture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SCRIPT = Path(__file__).with_name("testscripts") / "every_result.py"
JOBFILE = textwrap.dedent('''\
    from pathlib import Path

    from faasr_easypy.easypy import run_workflow

    ROOT = Path(__file__).resolve().parent.parent


    def main(runtime):
        run_workflow(Path({workflow!r}), ROOT / "testscripts" / "every_result.py",
                     runtime=runtime, taskid="every_result")
    ''')


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The job, run once: (returncode, output, archive, parsed mail parts, project folder)."""
    root = tmp_path_factory.mktemp("truth")
    (root / "jobs").mkdir()
    (root / "testscripts").mkdir()
    shutil.copy(SCRIPT, root / "testscripts" / "every_result.py")
    (root / "jobs" / "truth_job.py").write_text(
        JOBFILE.format(workflow=str(PROJECT / "workflows" / "data_pipeline.json")))
    with smtp_server() as (port, received):
        (root / "pyats.conf").write_text(
            f"[email]\nsmtp.host = 127.0.0.1\nsmtp.port = {port}\ndefault_domain = example.com\n")
        # No --archive-dir: the archive goes to the project's archives/ (the project is `root`,
        # the current folder) and gets a link where `pyats logs view` looks, under HOME.
        rc, out, archive, tag = run_job(
            root / "jobs" / "truth_job.py", "--mail-to", "dev@example.com",
            "--mail-html", "--pyats-configuration", root / "pyats.conf", cwd=root, timeout=300,
            env={"GITHUB_STEP_SUMMARY": str(root / "step_summary.md"), "HOME": str(root / "home")})
        wait_for_mail(received, timeout=20)
    assert archive is not None and archive.is_file(), out[-4000:]
    assert not leftovers(tag)
    assert len(received) == 1, out[-4000:]
    _, mail = parse_message(received[0].content)
    return rc, out, archive, mail, root


def pyats_sections(archive):
    """{dotted name: (result, reason, traceback, runtime)} of every section in results.json."""
    task = read_json(archive, "results.json")["report"]["tasks"][0]
    out = {}

    def walk(section, prefix=""):
        for child in section.get("sections", []):
            name = prefix + child["id"]
            result = child["result"]
            out[name] = (result["value"], result.get("reason"), (result.get("data") or {}).get("traceback"),
                         child.get("runtime"))
            walk(child, name + ".")

    walk(task)
    return out


EXPECTED = {
    "common_setup": "passed", "common_setup.ready": "passed",
    "Passing": "passed", "Passing.completed": "passed",
    "Failing": "failed", "Failing.sum_is_wrong": "failed",
    "Erroring": "errored", "Erroring.explodes": "errored",
    "Skipped": "skipped",
    "Others": "aborted", "Others.blocked_one": "blocked", "Others.passx_one": "passx",
    "Others.aborted_one": "aborted",
    "Looped[n=1]": "passed", "Looped[n=1].check": "passed",
    "Looped[n=2]": "failed", "Looped[n=2].check": "failed",
}
MESSAGES = {
    "Failing.sum_is_wrong": ("AssertionError: sum mismatch: expected 211, found 210",
                             "testscripts/every_result.py:25"),
    "Erroring.explodes": ("RuntimeError: boom from an erroring section", "testscripts/every_result.py:31"),
    "Looped[n=2].check": ("AssertionError: n is 2", "testscripts/every_result.py:59"),
    "Skipped": ("not applicable to this workflow", None),
    "Others.blocked_one": ("blocked on purpose", None),
    "Others.passx_one": ("known issue FAASR-1", None),
    "Others.aborted_one": ("aborted on purpose", None),
}


def test_script_lines_in_the_expectations_are_the_scripts_own():
    lines = SCRIPT.read_text().splitlines()
    assert "assert total == 211" in lines[24]
    assert 'raise RuntimeError("boom from an erroring section")' in lines[30]
    assert "assert n == 1" in lines[58]


def test_results_json_is_what_the_testscript_did(job):
    rc, out, archive, _, _ = job
    assert rc == 1, out[-3000:]  # pyATS's exit code for a job that did not pass
    sections = pyats_sections(archive)
    assert {name: v[0] for name, v in sections.items()} == EXPECTED


def test_faasr_results_record_every_result_by_name_with_its_own_message(job):
    _, _, archive, _, _ = job
    sections = pyats_sections(archive)
    data = read_json(archive, "faasr_results.json")
    [workflow] = data["workflows"]
    assert workflow["verdict"] == "aborted"                      # as pyATS's task result
    assert workflow["error"] is None, workflow["error"]         # an aborted section is no Ctrl-C
    testcases = {t["name"]: t for t in workflow["testcases"]}
    assert list(testcases) == list(sections)                    # same sections, same order
    for name, (result, reason, traceback, runtime) in sections.items():
        t = testcases[name]
        assert t["result"] == result, name
        assert t["reason"] == reason, name
        assert t["traceback"] == traceback, name
        assert t["duration"] == pytest.approx(runtime), name
        assert (t["depth"], t["parent"]) == ((1, name.rsplit(".", 1)[0]) if "." in name else (0, None)), name
    for name, (message, location) in MESSAGES.items():
        assert message in testcases[name]["message"], (name, testcases[name])
        assert testcases[name]["location"] == location, name
    assert testcases["Failing.sum_is_wrong"]["code"].startswith("assert total == 211")
    assert testcases["Looped[n=2].check"]["parent"] == "Looped[n=2]"
    assert all(testcases[n]["message"] is None for n, r in EXPECTED.items() if r == "passed")


def test_the_report_dom_in_chromium_shows_the_same(job, chromium, tmp_path):  # noqa: F811 - fixture
    _, _, archive, _, _ = job
    sections = pyats_sections(archive)
    page = tmp_path / "faasr_report.html"
    with zipfile.ZipFile(archive) as zf:
        page.write_bytes(zf.read("faasr_report.html"))
    proc = run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    dom = DomParser()
    dom.feed(proc.stdout.decode("utf-8"))
    rows = dom.select("tr", "tc")
    shown = {r["attrs"]["data-name"]: r["attrs"]["data-result"] for r in rows}
    assert shown == {name: v[0] for name, v in sections.items()}
    badges = [e["text"] for e in dom.select("span", "badge")]
    for result in ("FAILED", "ERRORED", "SKIPPED", "BLOCKED", "PASSX", "ABORTED"):
        assert result in badges, result
    assert "UNKNOWN" not in badges
    messages = [e["text"] for e in dom.select("pre", "failmsg")]
    for name, (message, _) in MESSAGES.items():
        if name in ("Failing.sum_is_wrong", "Erroring.explodes", "Looped[n=2].check"):
            assert any(message in m for m in messages), (name, messages)
    locations = [e["text"] for e in dom.select("code", "location")]
    assert "testscripts/every_result.py:25" in locations and "testscripts/every_result.py:31" in locations
    durations = [r for r in dom.elements if r["tag"] == "td" and r["text"].endswith(" s")]
    assert durations


def test_the_mail_says_the_same(job):
    _, _, archive, mail, _ = job
    text, html = mail["text"], mail["html"]
    assert "FaaSr job truth_job: ABORTED" in text
    summary = read_json(archive, "results.json")["report"]["tasks"][0]["summary"]
    counts = {k: summary[k] for k in ("errored", "failed", "aborted", "blocked", "skipped", "passx", "passed")
              if summary[k]}
    line = "testcases: " + ", ".join(f"{n} {k}" for k, n in counts.items())
    assert line in text, text
    for name, (message, location) in MESSAGES.items():
        wanted = f"testcase {name}: {EXPECTED[name].upper()} in "
        [row] = [x for x in text.splitlines() if wanted in x]
        assert message in row, row
        if location:
            assert f"(at {location})" in row, row
        assert f"<code>{name}</code>: <b" in html, name
    assert "UNKNOWN" not in text and "UNKNOWN" not in html
    assert "Caught an assertion failure" not in text   # the failure's own words instead


def test_junit_xml_in_the_archive_is_valid_and_says_the_same(job):
    from faasr_easypy.report.junit import JUNIT_FILE, validate

    _, _, archive, _, root = job
    sections = pyats_sections(archive)
    with zipfile.ZipFile(archive) as zf:
        xml = zf.read(JUNIT_FILE).decode("utf-8")
    assert validate(xml) == []
    tree = ET.fromstring(xml)
    [suite] = tree.findall("testsuite")
    assert suite.get("name") == "every_result"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "aborted" and props["workflow"] == "DataPipeline"
    assert {k: v for k, v in props.items() if k.startswith("function:") and k.count(":") == 1} == {
        "function:create-input": "COMPLETED", "function:compute-sum": "COMPLETED", "function:publish": "COMPLETED"}
    cases = {f"{c.get('classname')}.{c.get('name')}": c for c in suite.iter("testcase")}
    leaves = {n for n in sections if not any(o.startswith(n + ".") for o in sections)}
    assert set(cases) == {f"every_result.{n}" for n in leaves}
    passing = cases["every_result.Passing.completed"]
    assert list(passing) == []
    assert float(passing.get("time")) == pytest.approx(sections["Passing.completed"][3], abs=1e-3)
    [failure] = cases["every_result.Failing.sum_is_wrong"]
    assert failure.tag == "failure" and failure.get("type") == "AssertionError"
    assert failure.get("message") == ("AssertionError: sum mismatch: expected 211, found 210 "
                                      "(at testscripts/every_result.py:25)")
    assert failure.text == sections["Failing.sum_is_wrong"][2]          # pyATS's traceback
    [error] = cases["every_result.Erroring.explodes"]
    assert error.tag == "error" and error.get("type") == "RuntimeError"
    assert error.get("message").startswith("RuntimeError: boom from an erroring section")
    [skipped] = cases["every_result.Skipped"]
    assert skipped.tag == "skipped" and "not applicable to this workflow" in skipped.get("message")
    assert [e.get("type") for e in cases["every_result.Others.blocked_one"]] == ["blocked"]
    assert [e.get("type") for e in cases["every_result.Others.aborted_one"]] == ["aborted"]
    assert [e.tag for e in cases["every_result.Others.passx_one"]] == ["system-out"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        (str(len(leaves)), "2", "3", "1")


def test_github_step_summary_is_appended(job):
    _, _, _, _, root = job
    text = (root / "step_summary.md").read_text()
    assert "FaaSr job `truth_job`: ABORTED" in text
    assert "| every_result | DataPipeline | ⛔ ABORTED |" in text
    assert ("`Failing.sum_is_wrong` FAILED: AssertionError: sum mismatch: expected 211, found 210 "
            "(`testscripts/every_result.py:25`)") in text
    assert "`Erroring.explodes` ERRORED: RuntimeError: boom from an erroring section" in text


def test_pyats_logs_view_latest_finds_the_archive(job):
    """`pyats logs view` lists (and --latest opens) the newest **/*.zip under ~/.pyats/archive;
    the plugin keeps archives in the project's archives/ and links each one there."""
    import subprocess
    import sys

    _, _, archive, _, root = job
    assert archive.parent.parent == root / "archives"
    probe = ("from pyats.log.commands.archive_manager import find_all_archives; "
             "print(find_all_archives()[0].resolve())")
    found = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "HOME": str(root / "home")},
                           capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert found == str(archive.resolve())
