"""Red means red (issue 14 item 1): one real `pyats run job` whose testscript has a passing,
a failing, an erroring, a skipped, a blocked, a passx and an aborted section, mailed to a
real SMTP server (aiosmtpd). Its results.json (what pyATS recorded) is the truth; the
archive's faasr_results.json, the report's DOM in headless Chromium and the mail body must
say the same for every section, with the failure's own message, testscript line and duration.
"""

import json
import os
import re
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

    from faasr_easypy.easypy import WorkflowPool

    ROOT = Path(__file__).resolve().parent.parent
    PROJECT = Path({project!r})


    def main(runtime):
        pool = WorkflowPool(runtime)
        pool.submit(workflow=PROJECT / "workflows" / "data_pipeline.json",
                    testscript=ROOT / "testscripts" / "every_result.py", taskid="every_result")
        # a passing one beside it, whose sections name functions by rank and output objects
        pool.submit(workflow=PROJECT / "workflows" / "fan_out_fan_in.json",
                    testscript=PROJECT / "testscripts" / "fan_out_fan_in.py", taskid="fan")
        pool.run()
    ''')


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The job, run once: (returncode, output, archive, parsed mail parts, project folder)."""
    root = tmp_path_factory.mktemp("truth")
    (root / "jobs").mkdir()
    (root / "testscripts").mkdir()
    shutil.copy(SCRIPT, root / "testscripts" / "every_result.py")
    (root / "jobs" / "truth_job.py").write_text(
        JOBFILE.format(project=str(PROJECT)))
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


def pyats_sections(archive, task_id="every_result"):
    """{dotted name: (result, reason, traceback, runtime)} of every section in results.json."""
    [task] = [t for t in read_json(archive, "results.json")["report"]["tasks"] if t["id"] == task_id]
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
    [workflow] = [w for w in data["workflows"] if w["task_id"] == "every_result"]
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
    section = next(e for e in dom.elements if e["tag"] == "section" and e["attrs"].get("data-task") == "every_result")
    rows = [r for r in dom.select("tr", "tc") if dom.elements.index(r) > dom.elements.index(section)]
    rows = rows[:len(sections)]
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
    [task] = [t for t in read_json(archive, "results.json")["report"]["tasks"] if t["id"] == "every_result"]
    summary = task["summary"]
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
    [suite] = [x for x in tree.findall("testsuite") if x.get("name") == "every_result"]
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
    assert "| fan | FanOutFanIn | ✅ PASSED |" in text
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


# -- the report's search, filters, sorting and links, driven in Chromium --------------------------

DRIVER = """<script>
(function () {
  "use strict";
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
  function shown(sel, attr) {
    return all(sel).filter(function (e) { return e.offsetParent !== null; })
                   .map(function (e) { return e.getAttribute(attr); });
  }
  function set(id, value) {
    var el = document.getElementById(id);
    el.value = value;
    el.dispatchEvent(new Event(el.tagName === "INPUT" ? "input" : "change"));
  }
  var out = {};
  set("search", "boom from an erroring");
  out.search = {workflows: shown("section.workflow", "data-task"), testcases: shown("tr.tc", "data-name"),
                count: document.getElementById("shown-count").textContent};
  set("search", "2^2 = 4");   // text of square(2)'s log only
  out.logSearch = {workflows: shown("section.workflow", "data-task"),
                   opened: all("details.log.hit").map(function (d) { return d.getAttribute("data-label"); })};
  set("search", "no workflow has this text");
  out.nothing = {workflows: shown("section.workflow", "data-task"),
                 message: document.getElementById("no-match").offsetParent !== null};
  set("search", "");
  set("verdict-filter", "bad");
  out.bad = shown("section.workflow", "data-task");
  set("verdict-filter", "");
  set("workflow-filter", "FanOutFanIn");
  out.workflow = {workflows: shown("section.workflow", "data-task"), overview: shown("tr.wf-row", "data-task")};
  set("workflow-filter", "");
  var fan = document.querySelector('section[data-task="fan"] table.functions');
  var duration = Array.prototype.slice.call(fan.tHead.rows[0].cells).findIndex(function (th) {
    return th.textContent.trim() === "Duration"; });
  function order() {
    return Array.prototype.slice.call(fan.tBodies[0].rows).map(function (r) {
      return [r.getAttribute("data-label"), parseFloat(r.cells[duration].getAttribute("data-sort"))]; });
  }
  fan.tHead.rows[0].cells[duration].click();
  out.ascending = order();
  fan.tHead.rows[0].cells[duration].click();
  out.descending = order();
  document.body.setAttribute("data-test", JSON.stringify(out));
}());
</script>
"""


def report_page(archive, folder):
    page = folder / "faasr_report.html"
    with zipfile.ZipFile(archive) as zf:
        page.write_bytes(zf.read("faasr_report.html"))
    return page


def dom_of(chromium, folder, url):  # noqa: F811 - chromium is the fixture's value
    proc = run_chromium(chromium, folder, "--dump-dom", url)
    dom = DomParser()
    dom.feed(proc.stdout.decode("utf-8"))
    return dom


def test_search_filters_and_sorting_in_chromium(job, chromium, tmp_path):  # noqa: F811 - fixture
    _, _, archive, _, _ = job
    page = report_page(archive, tmp_path)
    driven = tmp_path / "driven.html"
    driven.write_text(page.read_text().replace("</body>", DRIVER + "</body>"))
    dom = dom_of(chromium, tmp_path, driven.as_uri())
    [body] = dom.select("body")
    assert body["attrs"]["data-js"] == "ready"
    out = json.loads(body["attrs"]["data-test"])
    assert out["search"]["workflows"] == ["every_result"]
    assert out["search"]["testcases"] == ["Erroring.explodes"]      # the matching row, not its siblings
    assert out["search"]["count"] == "1 of 2 workflows shown"
    assert out["logSearch"] == {"workflows": ["fan"], "opened": ["square(2)"]}
    assert out["nothing"] == {"workflows": [], "message": True}
    assert out["bad"] == ["every_result"]
    assert out["workflow"] == {"workflows": ["fan"], "overview": ["fan"]}
    durations = [d for _, d in out["ascending"]]
    assert durations == sorted(durations) and len(durations) == 7
    assert [d for _, d in out["descending"]] == sorted(durations, reverse=True)


def test_filters_come_from_the_address_and_the_page_reads_without_javascript(job, chromium, tmp_path):  # noqa: F811
    _, _, archive, _, _ = job
    page = report_page(archive, tmp_path)
    dom = dom_of(chromium, tmp_path, page.as_uri() + "?q=boom&verdict=bad")
    hidden = {e["attrs"]["data-task"]: "hidden" in e["attrs"] for e in dom.select("section", "workflow")}
    assert hidden == {"every_result": False, "fan": True}
    # without JavaScript: no control, nothing hidden, every section there
    raw = page.read_text()
    assert '<div class="controls" id="controls" hidden>' in raw
    assert not re.search(r"<section [^>]*\bhidden\b", raw) and not re.search(r"<tr [^>]*\bhidden\b", raw)


def test_testcases_link_to_the_logs_and_objects_they_name(job, chromium, tmp_path):  # noqa: F811
    _, _, archive, _, _ = job
    page = report_page(archive, tmp_path)
    dom = dom_of(chromium, tmp_path, page.as_uri())
    by_id = {e["attrs"]["id"]: e for e in dom.elements if e["attrs"].get("id")}
    links = {}
    current = None
    for e in dom.elements:
        if e["tag"] == "tr" and "tc" in (e["attrs"].get("class") or "").split():
            current = (e["attrs"]["data-name"], dom.elements.index(e))
        elif e["tag"] == "a" and (e["attrs"].get("class") or "") in ("tc-fn", "tc-obj") and current:
            links.setdefault(current, []).append((e["attrs"]["class"], e["text"], e["attrs"]["href"]))
    assert links, "no testcase links"
    for (name, _), items in links.items():
        for kind, text, href in items:
            target = by_id.get(href[1:])
            assert target is not None, (name, href)                      # every link lands
            if kind == "tc-fn":
                assert target["attrs"].get("data-label") == text, (name, text, target)
            else:
                assert target["attrs"]["data-key"].endswith(text), (name, text, target)
    named = {name: sorted(t for _, t, _ in items) for (name, _), items in links.items()}
    assert named["square_2.completed"] == ["square(2)"]
    assert named["square_2.part_written"] == ["part-2.txt"]
    assert named["Gather.total_is_sum_of_squares"] == ["total.txt"]
    assert named["Passing.completed"] == ["publish"]                # the every_result workflow
    # a small output object's text is previewed beside its size
    total = next(e for e in dom.elements if e["tag"] == "tr" and e["attrs"].get("data-key", "").endswith("/total.txt"))
    row = dom.elements[dom.elements.index(total):dom.elements.index(total) + 12]
    assert any(e["tag"] == "code" and "preview" in e["attrs"].get("class", "") and e["text"] == "55" for e in row)


# -- history over archives made by real jobs ----------------------------------------------------

@pytest.fixture(scope="module")
def second_job(job):
    """The same job again in the same project, same code, but compute-sum reads a file that is
    not there: compute-sum FAILED, publish SKIPPED, Passing.completed a new failure."""
    _, _, first, _, root = job
    rc, out, archive, tag = run_job(root / "jobs" / "truth_job.py", "--no-mail", "--faasr-arg",
                                    "compute-sum.input=missing.csv", cwd=root, timeout=300,
                                    env={"HOME": str(root / "home")})
    assert archive is not None and archive.is_file() and archive != first, out[-4000:]
    assert not leftovers(tag)
    return first, archive, root


def test_each_report_has_the_history_of_the_runs_before_it(second_job):
    first, second, _ = second_job
    summary = read_json(second, "faasr_summary.json")
    assert summary["workflows"]["every_result"]["functions"] == {
        "create-input": "COMPLETED", "compute-sum": "FAILED", "publish": "SKIPPED"}
    assert summary["workflows"]["every_result"]["code_hash"] == \
        read_json(first, "faasr_summary.json")["workflows"]["every_result"]["code_hash"]
    with zipfile.ZipFile(second) as zf:
        html = zf.read("faasr_report.html").decode()
    page = DomParser()
    page.feed(html)
    rows = {(r["attrs"]["data-task"], r["attrs"]["data-name"]): r for r in page.select("tr")
            if r["attrs"].get("class", "").startswith("h-")}
    cells = [c for c in page.select("td", "hcell")]
    assert len(cells) == 2 * len(rows)                                  # two runs, one cell each
    assert ("every_result", "Passing.completed") in rows and ("fan", "") in rows
    new = {(li["attrs"]["data-task"], li["attrs"]["data-name"]) for li in page.elements
           if li["tag"] == "li" and li["attrs"].get("data-name") is not None
           and "new-failures" in _list_class(page, li)}
    assert ("every_result", "Passing.completed") in new, new
    flaky = {(li["attrs"]["data-task"], li["attrs"]["data-label"]) for li in page.elements
             if li["tag"] == "li" and li["attrs"].get("data-label")}
    assert flaky == {("every_result", "compute-sum")}                   # same code, COMPLETED then FAILED


def _list_class(page, li):
    """Class of the <ul> an <li> belongs to."""
    index = page.elements.index(li)
    for e in reversed(page.elements[:index]):
        if e["tag"] == "ul":
            return e["attrs"].get("class", "")
    return ""


def test_report_history_command_over_the_archives_folder(second_job):
    import subprocess
    import sys

    first, second, root = second_job
    out = root / "history.html"
    cli = Path(sys.executable).parent / "faasr-easypy"
    proc = subprocess.run([str(cli), "report", "--history", str(root / "archives"), "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "2 run(s)" in proc.stdout and "1 flaky function(s)" in proc.stdout, proc.stdout
    html = out.read_text()
    assert f"Runs: 1 <code>{first.name}</code>, 2 <code>{second.name}</code>." in html   # oldest first
    assert "every_result" in html and "compute-sum" in html
    bad = subprocess.run([str(cli), "report", "--history", str(root / "nowhere")], capture_output=True, text=True,
                         timeout=60, check=False)
    assert bad.returncode == 2 and "no such folder" in bad.stderr and "Traceback" not in bad.stderr
