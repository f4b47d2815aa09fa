"""The HTML report (issue 5): model, critical path, rendering, archives, `faasr-easypy report`."""

import html.parser
import json
import re
import zipfile

import pytest

from faasr_easypy.errors import UserError
from faasr_easypy.report import archive as archive_mod
from faasr_easypy.report import cli as report_cli
from faasr_easypy.report.model import (
    FunctionView,
    critical_path,
    job_verdict,
    load_results,
    normalise,
)
from faasr_easypy.report.render import (
    MAX_LOG_BYTES,
    cut_log,
    fair_cap,
    fmt_bytes,
    fmt_seconds,
    render_html,
    segments,
    write_html,
)

from . import report_fixtures as rf

# -- helpers ---------------------------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """Collects tags with their attributes (and text) from a rendered report."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []          # (tag, attrs dict)
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, cls=None, **attrs):
        out = []
        for t, a in self.tags:
            if tag and t != tag:
                continue
            if cls and cls not in (a.get("class") or "").split():
                continue
            if any(a.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(a)
        return out


def parse(text):
    page = Page()
    page.feed(text)
    page.close()
    return page


URL_ATTRS = ("src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background")


def network_references(page, text):
    """Every attribute or CSS url() that would make the browser fetch something remote."""
    bad = []
    for tag, attrs in page.tags:
        for name in URL_ATTRS:
            value = (attrs.get(name) or "").strip().lower()
            if value.startswith(("http:", "https:", "//", "ftp:", "ws:", "wss:")):
                bad.append((tag, name, value))
    for m in re.finditer(r"url\(\s*['\"]?\s*([^)'\"]+)", text, re.IGNORECASE):
        if not m.group(1).lower().startswith("data:"):
            bad.append(("css", "url", m.group(1)))
    for m in re.finditer(r"@import", text, re.IGNORECASE):
        bad.append(("css", "@import", m.group(0)))
    return bad


@pytest.fixture(scope="module")
def results():
    return rf.job_results()


@pytest.fixture(scope="module")
def page_html(results):
    return render_html(rf.clone(results))


@pytest.fixture(scope="module")
def page(page_html):
    return parse(page_html)


# -- model -----------------------------------------------------------------------------------

def test_normalise_counts_verdicts_statuses_and_partial(results):
    report = normalise(rf.clone(results))
    job = report.job
    assert job.verdict == "failed"
    assert job.verdict_counts == {"failed": 1, "aborted": 1, "passed": 2}
    assert job.function_count == 5 + 4 + 8 + 4
    assert job.status_counts["FAILED"] == 1 and job.status_counts["RUNNING"] == 1
    assert not job.complete and report.partial
    assert job.duration == pytest.approx(3.5)
    partial = report.workflows[3]
    assert partial.partial and partial.duration is None
    assert any("never reached a final status" in r for r in partial.partial_reasons)
    assert not report.workflows[0].partial
    assert [f.label for f in report.workflows[1].failing_functions] == ["step2", "step3"]


def test_job_verdict_is_the_worst_workflow_verdict():
    assert job_verdict({"passed": 3}) == "passed"
    assert job_verdict({"passed": 3, "passx": 1}) == "passed"
    assert job_verdict({"passed": 1, "failed": 1, "errored": 1}) == "errored"
    assert job_verdict({"passed": 1, "skipped": 1}) == "skipped"
    assert job_verdict({"passed": 1, "weird": 1}) == "errored"
    assert job_verdict({}, complete=False) == "errored"


def test_open_ended_function_runs_until_the_last_known_time(results):
    w = normalise(rf.clone(results)).workflows[3]
    left = next(f for f in w.functions if f.label == "left")
    assert left.open_ended and left.duration is None
    # the workflow never ended: the bar runs to the job's end (T0 + 3.0), from +0.4 - 0.1 origin
    assert left.end_offset == pytest.approx(3.0 - 0.1)
    assert w.critical_path == ["check", "left"]


def _fv(label, start, end, action=None):
    f = FunctionView(label=label, action=action or label.split("(")[0], rank=None, status="COMPLETED",
                     reason=None, started_at=start, ended_at=end, log_key=None, log=None, log_truncated=False)
    if start is not None:
        f.start_offset, f.end_offset = start, end
    return f


def test_critical_path_is_the_longest_duration_weighted_path():
    fns = [_fv("split", 0, 1), _fv("square(1)", 1, 2), _fv("square(2)", 1, 5), _fv("square(3)", 1, 3),
           _fv("gather", 5, 6), _fv("side", 1, 4)]
    edges = [("split", "square"), ("square", "gather"), ("split", "side")]
    path, seconds = critical_path(fns, edges)
    assert path == ["split", "square(2)", "gather"]
    assert seconds == pytest.approx(1 + 4 + 1)


def test_critical_path_prefers_a_long_branch_over_a_long_node():
    # a -> b -> c weighs 1 + 1 + 1 = 3; a -> d weighs 1 + 2.5 = 3.5, so d's branch wins;
    # with d shortened to 1.5 s (total 2.5) the chain wins.
    fns = [_fv("a", 0, 1), _fv("b", 1, 2), _fv("c", 2, 3), _fv("d", 1, 3.5)]
    path, seconds = critical_path(fns, [("a", "b"), ("b", "c"), ("a", "d")])
    assert path == ["a", "d"] and seconds == pytest.approx(3.5)
    fns[3] = _fv("d", 1, 2.5)
    path, seconds = critical_path(fns, [("a", "b"), ("b", "c"), ("a", "d")])
    assert path == ["a", "b", "c"] and seconds == pytest.approx(3)


def test_critical_path_ignores_functions_that_never_ran_and_survives_cycles():
    fns = [_fv("a", 0, 1), _fv("b", None, None), _fv("c", 1, 4)]
    assert critical_path(fns, [("a", "b"), ("b", "c")]) == (["c"], pytest.approx(3))
    assert critical_path([_fv("x", None, None)], []) == ([], 0.0)
    cyc = [_fv("a", 0, 1), _fv("b", 1, 2)]
    path, _ = critical_path(cyc, [("a", "b"), ("b", "a")])
    assert path == ["a", "b"]


def test_bad_content_never_raises():
    for junk in [{}, {"workflows": None}, {"workflows": [None, 3, "x", {}]}, {"job": "x", "schema": 99},
                 {"workflows": [{"functions": [{"label": None}, {"label": "a", "started_at": "soon",
                                                                   "ended_at": float("nan")},
                                               {"label": "b", "started_at": 5, "ended_at": 2}],
                                 "edges": [["a"], ["a", "b"], {"source": "a", "target": "b"}, 7],
                                 "testcases": [None, {"name": 3}], "s3_objects": [{"key": None}],
                                 "monitor": [1, 2]}]}]:
        text = render_html(junk)
        assert "<html" in text
    report = normalise({"schema": 99})
    assert report.warnings and "schema 99" in report.warnings[0]


def test_load_results_reads_paths_bytes_and_text(tmp_path, results):
    path = tmp_path / "faasr_results.json"
    path.write_text(json.dumps(results))
    assert load_results(path)["job"]["name"] == "faasr_job"
    assert load_results(path.read_bytes())["schema"] == 1
    assert load_results(path.read_text())["schema"] == 1
    with pytest.raises(ValueError):
        load_results(b"[1, 2]")


# -- rendering -------------------------------------------------------------------------------

def test_report_shows_the_job_summary(page, page_html):
    text = " ".join(page.text)
    assert "FaaSr report: faasr_job" in text
    assert "Partial run." in text and "interrupted by Ctrl-C" in text
    assert page.find("body")[0]["data-verdict"] == "failed"
    assert page.find("body")[0]["data-partial"] == "1"
    assert "3.500 s" in text and "local" in text
    assert "archives/faasr_job.2026Nov22_08:40:00.123456.zip" in text


def test_report_has_one_row_and_section_per_workflow_with_verdicts_and_folders(page, page_html):
    rows = page.find("tr", cls="wf-row")
    assert [r["data-task"] for r in rows] == ["DataPipeline-1", "FailingStep-1", "FanOutFanIn-1", "Conditional-1"]
    assert [r["data-verdict"] for r in rows] == ["passed", "failed", "passed", "aborted"]
    sections = page.find("section", cls="workflow")
    assert [s["data-bad"] for s in sections] == ["0", "1", "0", "1"]
    assert [s["data-partial"] for s in sections] == ["0", "0", "0", "1"]
    assert "FaaSrLog/FailingStep/2026-11-22-08-40-00/22222222-aaaa-4bbb-8ccc-000000000002" in page_html


def test_function_table_has_statuses_times_ranks_and_critical_marks(page, page_html):
    rows = page.find("tr", cls="fn")
    assert len(rows) == 21
    by_label = {r["data-label"]: r for r in rows[:5]}
    assert set(by_label) == {"split", "square(1)", "square(2)", "square(3)", "gather"}
    assert [r["data-label"] for r in rows if r["data-critical"] == "true"][:3] == ["split", "square(2)", "gather"]
    statuses = {r["data-status"] for r in rows}
    assert statuses == {"COMPLETED", "FAILED", "SKIPPED", "NOT_INVOKED", "RUNNING", "PENDING", "TIMEOUT"}
    assert "row-FAILED" in next(r for r in rows if r["data-label"] == "step2")["class"]
    assert "+1.500 s" in page_html and "1.190 s" in page_html   # square(2): end offset, duration
    assert "never ended" in page_html                            # the RUNNING one


def test_timeline_has_one_rect_per_function_and_marks_the_critical_path(page):
    svgs = page.find("svg", cls="timeline")
    assert len(svgs) == 4
    bars = page.find("rect", cls="bar")
    assert len(bars) == sum(int(s["data-functions"]) for s in svgs) == 21
    for svg in svgs:
        index = svg["id"].split("-")[1]
        mine = [b for b in bars if b["id"].startswith(f"bar-{index}-")]
        assert len(mine) == int(svg["data-functions"])
        assert sum(b["data-critical"] == "true" for b in mine) == int(svg["data-critical"])
    crit = [b["data-label"] for b in bars if "crit" in b["class"].split()]
    assert crit[:3] == ["split", "square(2)", "gather"]
    assert all(b["data-critical"] == "true" for b in bars if "crit" in b["class"].split())
    assert len(page.find("line", cls="crit-link")) >= 2
    notrun = [b for b in bars if "notrun" in b["class"].split()]
    assert {b["data-label"] for b in notrun} == {"step3", "report", "right", "final"}
    assert all(b["width"] == "0" for b in notrun)
    assert [b["data-label"] for b in bars if "open" in b["class"].split()] == ["left"]


def test_testcases_with_failure_reasons(page, page_html):
    cases = page.find("tr", cls="tc")
    assert len(cases) == 3 + 3 + 1
    assert [c["data-result"] for c in cases].count("failed") == 1
    assert "step2 is FAILED: ValueError: input &lt;b&gt;bad&lt;/b&gt;" in page_html
    assert "No testcase results recorded (the testscript did not run to the end)" in page_html


def test_logs_are_folded_and_error_lines_highlighted(page, page_html):
    logs = page.find("details", cls="log")
    assert logs and all("open" not in d for d in logs)
    failing = [d for d in logs if d["data-label"] == "step2"]
    assert failing and "has-errors" in failing[0]["class"]
    marks = re.findall(r'<mark class="err">(.*?)</mark>', page_html, re.DOTALL)
    assert len(marks) == 1
    assert "[ERROR] [step2.py] ValueError" in marks[0]
    assert "Traceback (most recent call last):" in marks[0] and "raise ValueError" in marks[0]
    assert "5 ERROR lines" in page_html


def test_everything_is_escaped(page_html):
    assert "<b>bad</b>" not in page_html
    assert "input &lt;b&gt;bad&lt;/b&gt; &amp; &#34;quoted&#34;" in page_html
    nasty = rf.job_results(with_secret=False)
    wf = nasty["workflows"][0]
    wf["task_id"] = '"><script>alert(1)</script>'
    wf["functions"][0]["label"] = "<img src=x onerror=alert(1)>"
    wf["functions"][0]["log"] = "</pre><script>alert(2)</script>\n[1.0] [ERROR] [x.py] <svg onload=alert(3)>\n"
    wf["functions"][0]["reason"] = "</td><iframe src=javascript:alert(4)>"
    wf["testcases"][0]["reason"] = "{{ 7*7 }} {% raw %}"
    text = render_html(nasty)
    for needle in ("<script>alert", "<img src=x", "<svg onload", "<iframe", "</pre><script>"):
        assert needle not in text
    assert text.count("<script>") == 1    # ours
    assert "{{ 7*7 }} {% raw %}" in text  # data is never evaluated as a template


def test_page_is_self_contained(page, page_html):
    assert network_references(page, page_html) == []
    csp = page.find("meta", http_equiv="Content-Security-Policy")
    assert csp and "default-src 'none'" in csp[0]["content"]
    assert not page.find("link") and not page.find("img") and not page.find("iframe")
    assert all("src" not in attrs for tag, attrs in page.tags if tag == "script")
    # S3 endpoints appear as text only, never as links
    assert "http://" in page_html and not [a for a in page.find("a") if not a["href"].startswith("#")]


def test_internal_links_point_at_existing_ids(page):
    ids = {a.get("id") for _, a in page.tags if a.get("id")}
    for link in page.find("a"):
        assert link["href"].startswith("#") and link["href"][1:] in ids
    for row in page.find("tr", cls="fn"):
        assert row["data-bar"] in ids


def test_no_secrets_anywhere(page_html):
    assert rf.FAKE_SECRET not in page_html
    assert rf.FAKE_ACCESS_KEY not in page_html
    assert "http://***@127.0.0.1:18333" in page_html


def test_secrets_under_credential_keys_are_scrubbed_everywhere_but_plain_words_are_not():
    from faasr_easypy.redact import secrets_in_data
    from faasr_easypy.report.model import report_redactor

    data = {"environment": {"AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "GITHUB_TOKEN": ["ghp_abc123"],
                            "auth_mode": "local", "api_key": "***"},
            "workflows": [{"arguments": {"db": {"password": "hunter2!"}}, "log_key": "FaaSrLog/x.txt",
                           "s3_objects": [{"key": "out/ab12cd34.txt"}]}]}
    assert set(secrets_in_data(data)) == {"s3cr3t-value", "ghp_abc123", "hunter2!"}
    scrub = report_redactor(data)
    # hunter2! has 8 characters, ghp_abc123 10: masked inside text; "local" is a word, not a secret
    assert scrub.redact("a s3cr3t-value b ghp_abc123 hunter2! local") == "a *** b *** *** local"
    assert scrub.redact("https://user:pw@host:9000/x and s3://bucket/key") == \
        "https://***@host:9000/x and s3://bucket/key"
    text = render_html({"schema": 1, "environment": data["environment"], "job": {"testbed": "local"},
                        "workflows": [{"task_id": "T", "verdict": "failed",
                                       "functions": [{"label": "a", "status": "FAILED",
                                                      "reason": "boom with s3cr3t-value",
                                                      "log": "[1.0] [ERROR] [a.py] token ghp_abc123\n"}]}]})
    assert "s3cr3t-value" not in text and "ghp_abc123" not in text and "boom with ***" in text


def test_partial_run_without_times_or_testcases_renders():
    results = {"schema": 1,
               "job": {"name": "j", "started": rf.T0, "ended": None, "complete": False, "note": None},
               "workflows": [{"task_id": "W-1", "workflow": "W", "verdict": "errored",
                              "functions": [{"label": "a", "status": "PENDING"},
                                            {"label": "b", "status": "INVOKED"}],
                              "edges": [["a", "b"]]},
                             {"task_id": "W-2", "workflow": "W", "verdict": "blocked"}]}
    text = render_html(results)
    page = parse(text)
    assert len(page.find("rect", cls="bar")) == 2
    assert "The job did not finish" in text
    assert "No function statuses were recorded for this task" in text
    assert "none (nothing ran)" in text


def test_no_workflows_at_all():
    text = render_html({"schema": 1, "job": {"name": "j", "complete": False, "note": "killed"}, "workflows": []})
    assert 'id="no-workflows"' in text and "killed" in text


# -- logs: per-log cap, budget, cut notes ----------------------------------------------------------

def test_segments_mark_error_entries_with_their_continuation_lines():
    log = ("[0.1] [INFO] [f.py] ok\n[0.2] [ERROR] [f.py] boom\nTraceback (most recent call last):\n"
           "  File x\nValueError: boom\n\n[0.3] [INFO] [f.py] after\n")
    segs, errors = segments(log)
    assert [(s.error, s.text.count("\n")) for s in segs] == [(False, 1), (True, 4), (False, 2)]
    assert errors == 4
    assert segments("plain\n")[0][0].error is False
    assert segments("") == ([], 0)


def test_cut_log_keeps_head_tail_error_lines_and_says_where_the_full_log_is():
    lines = [f"[{i}.0] [INFO] [f.py] line {i} " + "x" * 60 for i in range(5000)]
    lines[2500] = "[2500.0] [ERROR] [f.py] the middle failed"
    text = "\n".join(lines) + "\n"
    out, note = cut_log(text, 8192, "s3://faasr/FaaSrLog/W/f.txt")
    assert len(out) <= 8192 + 200
    assert out.startswith("[0.0] [INFO]") and out.rstrip().endswith("line 4999 " + "x" * 60)
    assert "the full log is s3://faasr/FaaSrLog/W/f.txt" in note and note in out
    assert "[ERROR lines from the cut part:]" in out and "the middle failed" in out
    assert cut_log("short", 100) == ("short", None)


def test_fair_cap_keeps_short_logs_whole():
    assert fair_cap([100, 200], 10_000) == MAX_LOG_BYTES
    cap = fair_cap([1000] * 10 + [100_000] * 10, 200_000, floor=512)
    assert 18_000 <= cap <= 19_100
    assert fair_cap([100_000] * 100, 1000, floor=2048) == 2048


def test_long_log_is_cut_with_a_note_and_writer_truncation_is_shown():
    results = rf.job_results(with_secret=False)
    long_text = "".join(f"[{i}.0] [INFO] [c.py] row {i:06d} " + "y" * 80 + "\n" for i in range(3000))
    results["workflows"][0]["functions"][0]["log"] = long_text
    text = render_html(results, max_log_bytes=16 * 1024)
    assert "cut from the middle of this log by the report; the full log is s3://faasr/FaaSrLog/" in text
    assert "The harness kept only the first 64 KiB of this log" in text   # FanOutFanIn collect
    pre = re.findall(r"<pre>(.*?)</pre>", text, re.DOTALL)
    assert max(len(p) for p in pre) < 16 * 1024 + 2048


def test_write_html_is_atomic_and_returns_the_path(tmp_path, results):
    out = write_html(rf.clone(results), tmp_path / "sub" / "faasr_report.html")
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["faasr_report.html"]


@pytest.mark.slow
def test_big_job_stays_under_2_mb_and_renders_in_time():
    import time

    results = rf.big_job(32, 20)
    for w in results["workflows"]:
        for f in w["functions"]:
            if f["log"] and len(f["log"]) > 64 * 1024:
                f["log"] = f["log"][:64 * 1024]
                f["log_truncated"] = True
    render_html(rf.big_job(1, 2))  # compile templates
    t = time.perf_counter()
    text = render_html(results)
    seconds = time.perf_counter() - t
    size = len(text.encode("utf-8"))
    assert size <= 2_000_000, size
    assert seconds < 3.0, seconds  # target 1 s (benchmarks/bench_report.py); slack for slow CI
    page = parse(text)
    assert len(page.find("rect", cls="bar")) == 640
    # logs that grow when escaped and encoded (quotes, <, &, non-ASCII) get fewer characters
    for w in results["workflows"]:
        for f in w["functions"]:
            if f["log"]:
                f["log"] = f["log"].replace("x", "\"<é>&")
    assert len(render_html(results).encode("utf-8")) <= 2_000_000
    assert len(page.find("details", cls="log")) == len([f for w in results["workflows"]
                                                        for f in w["functions"] if f["log"]])


def test_formatters():
    assert fmt_seconds(None) == "-" and fmt_seconds(1.5) == "1.500 s" and fmt_seconds(75) == "1 min 15.0 s"
    assert fmt_bytes(3) == "3 B" and fmt_bytes(2048) == "2.0 KiB" and fmt_bytes(None) == "-"


# -- archives and the command --------------------------------------------------------------------

def _archive(tmp_path, results, name="faasr_job.2026Nov22_08_40_00.zip", member="faasr_results.json"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("results.json", "{}")
        if results is not None:
            z.writestr(member, json.dumps(results))
    return path


def test_read_results_from_zip_dir_and_json(tmp_path, results):
    zpath = _archive(tmp_path, results)
    assert archive_mod.read_results(zpath)["job"]["name"] == "faasr_job"
    nested = _archive(tmp_path, results, "nested.zip", "job_dir/faasr_results.json")
    assert archive_mod.read_results(nested)["schema"] == 1
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "faasr_results.json").write_text(json.dumps(results))
    assert archive_mod.read_results(tmp_path / "run")["schema"] == 1
    assert archive_mod.read_results(tmp_path / "run" / "faasr_results.json")["schema"] == 1


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.zip", "does not exist"),
    (lambda p: _archive(p, None), "has no faasr_results.json"),
    (lambda p: _write(p / "bad.zip", b"PK\x03\x04garbage"), "not a readable zip"),
    (lambda p: _write(p / "r.json", b"{oops"), "not valid JSON"),
    (lambda p: _write(p / "r.json", b"[1]"), "does not hold a JSON object"),
])
def test_read_results_errors_are_user_errors(tmp_path, make, message):
    with pytest.raises(UserError, match=message):
        archive_mod.read_results(make(tmp_path))


def test_cli_writes_the_report_next_to_the_archive(tmp_path, results, capsys):
    zpath = _archive(tmp_path, results)
    assert report_cli.main([str(zpath)]) == 0
    out = tmp_path / "faasr_job.2026Nov22_08_40_00.faasr_report.html"
    assert out.is_file() and "FaaSr report: faasr_job" in out.read_text()
    printed = capsys.readouterr().out
    assert str(out) in printed and "4 workflow(s)" in printed and "FAILED (partial)" in printed


def test_cli_output_option_and_errors(tmp_path, results, capsys):
    zpath = _archive(tmp_path, results)
    target = tmp_path / "out" / "r.html"
    assert report_cli.main([str(zpath), "-o", str(target)]) == 0
    assert target.is_file()
    assert report_cli.main([str(tmp_path / "nope.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("faasr-easypy: ") and "Traceback" not in err
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        code = report_cli.main([str(zpath), "-o", str(tmp_path / "ro" / "x" / "r.html")])
    finally:
        (tmp_path / "ro").chmod(0o700)
    import os
    if os.geteuid() != 0:   # root writes anywhere
        assert code == 2


def test_cli_subcommand_wiring(tmp_path, results):
    import argparse

    parser = argparse.ArgumentParser(prog="faasr-easypy")
    sub = parser.add_subparsers(dest="command")
    report_cli.add_subcommand(sub)
    zpath = _archive(tmp_path, results)
    args = parser.parse_args(["report", str(zpath), "-o", str(tmp_path / "r.html")])
    assert args.func(args) == 0 and (tmp_path / "r.html").is_file()


def test_report_hook_writes_into_the_run_directory_and_fills_the_mail(tmp_path, results):
    class MailReport:
        def __init__(self):
            self.contents = {}
            self.attachment = None

    class Runtime:
        mail_report = MailReport()
        archive = "/archives/job.zip"

    path = archive_mod.report_hook(rf.clone(results), tmp_path, Runtime())
    assert path == tmp_path / "faasr_report.html" and path.is_file()
    section = Runtime.mail_report.contents["FaaSr"]
    assert "faasr_report.html in the archive /archives/job.zip (attached to this mail)" in section.text
    assert Runtime.mail_report.attachment == [str(path)]
    # no runtime (e.g. called from a script): just the file
    assert archive_mod.report_hook(rf.clone(results), tmp_path / "x").is_file()
