"""The report in a real browser: headless Chromium, DOM after JavaScript, a screenshot, no network.

Installs Debian's chromium with scripts/install-browser when /usr/bin/chromium is
missing (CI runs as root); skips only where apt-get does not exist. The rendered
page, the DOM Chromium dumps and a screenshot are kept under test-artifacts/.

The report covers the 4 hand-made workflows of tests/report_fixtures.py (passed,
failed, passed with a long log, partial) plus two workflows really run on the
local backend through WorkflowRunner (DataPipeline and FailingStep).
"""

import html.parser
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from faasr_easypy.report.render import write_html

from . import report_fixtures as rf
from .test_report import network_references, parse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
INSTALLER = ROOT / "scripts" / "install-browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        if shutil.which("apt-get") is None:
            pytest.skip(f"{CHROMIUM} is missing and apt-get is not available to install it "
                        f"(run scripts/install-browser on a Debian/Ubuntu machine, or set CHROMIUM)")
        proc = subprocess.run([str(INSTALLER)], capture_output=True, text=True, timeout=1200, check=False)
        assert proc.returncode == 0, f"scripts/install-browser failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is still missing after scripts/install-browser"
    return CHROMIUM


def run_chromium(binary, tmp_path, *args, timeout=90):
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=tmp_path, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n" \
                                 f"{proc.stderr.decode('utf-8', 'replace')[-3000:]}"
    return proc


def page_requests(netlog_path):
    """URLs the page itself asked for (not Chromium's own background requests), from a net-log."""
    data = json.loads(Path(netlog_path).read_text())
    names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    urls = []
    for event in data["events"]:
        if names.get(event["type"]) != "URL_REQUEST_START_JOB":
            continue
        params = event.get("params") or {}
        url = params.get("url")
        if not url or url.startswith(("file:", "data:", "chrome:", "about:")):
            continue
        # Requests made on behalf of a file:// document carry its (opaque) origin; Chromium's
        # own update/time/account pings say "not an origin".
        if params.get("initiator") != "not an origin" or "file://" in params.get("network_isolation_key", ""):
            urls.append(url)
    return urls


# -- the data --------------------------------------------------------------------------------

def real_local_runs(s3_server):
    """DataPipeline and FailingStep really run on the local backend, watched by WorkflowRunner."""
    try:
        from faasr_easypy.environment import LocalEnvironment, S3Service
        from faasr_easypy.runner import WorkflowRunner
        from faasr_easypy.workflow import load_workflow
    except ImportError as exc:  # pragma: no cover - the runner is part of the package today
        pytest.skip(f"no WorkflowRunner to produce a real run: {exc}")
    service = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    entries = []
    for name, folder, task in [("data_pipeline.json", "DataPipeline", "DataPipeline-real"),
                               ("failing_function.json", "FailingStep", "FailingStep-real")]:
        wf = load_workflow(ROOT / "workflows" / name)
        with LocalEnvironment(wf, ROOT / "workflows" / "functions" / folder, s3=service) as env:
            runner = WorkflowRunner(wf, env.backend, env.logging_store, timeout=60, check_interval=0.2)
            with runner:
                assert runner.wait(timeout=90), f"{name} did not finish"
            entry = rf.results_from_runner(runner, task)
            entry["source"] = f"workflows/{name}"
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def report_file(s3_server, tmp_path_factory):
    results = rf.job_results()
    results["workflows"] += real_local_runs(s3_server)
    results["environment"]["S3_SECRET_KEY"] = s3_server.secret_key
    ARTIFACTS.mkdir(exist_ok=True)
    redacted = json.loads(json.dumps(results).replace(s3_server.secret_key, "***"))
    (ARTIFACTS / "report_browser.results.json").write_text(json.dumps(redacted, indent=1))
    path = write_html(results, ARTIFACTS / "report_browser.html")
    return path, results


# -- the tests -------------------------------------------------------------------------------

class DomParser(html.parser.HTMLParser):
    """Elements (tag, attrs, own text) of Chromium's --dump-dom output."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self._stack = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in ("meta", "input", "line", "br", "link"):
            self._stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": ""})

    def handle_endtag(self, tag):
        while self._stack:
            if self._stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        if self._stack:
            self._stack[-1]["text"] += data

    def select(self, tag, cls=None):
        return [e for e in self.elements if e["tag"] == tag and
                (cls is None or cls in (e["attrs"].get("class") or "").split())]


def test_dom_after_javascript(chromium, report_file, tmp_path):
    path, results = report_file
    proc = run_chromium(chromium, tmp_path, "--dump-dom", path.as_uri())
    dom_text = proc.stdout.decode("utf-8")
    (ARTIFACTS / "report_browser.dom.html").write_text(dom_text)
    dom = DomParser()
    dom.feed(dom_text)

    body = dom.select("body")[0]["attrs"]
    assert body["data-js"] == "ready", "the page's script did not run"
    by_id = {e["attrs"]["id"]: e for e in dom.elements if e["attrs"].get("id")}
    assert "hidden" not in by_id["controls"]["attrs"], "the script did not reveal the controls"
    shown = by_id["shown-count"]
    assert shown["text"] == "6 of 6 workflows shown"

    rows = dom.select("tr", "wf-row")
    assert [r["attrs"]["data-task"] for r in rows] == [w["task_id"] for w in results["workflows"]]
    assert [r["attrs"]["data-verdict"] for r in rows] == \
        ["passed", "failed", "passed", "aborted", "passed", "failed"]

    fn_rows = dom.select("tr", "fn")
    assert len(fn_rows) == sum(len(w["functions"]) for w in results["workflows"])
    statuses = {r["attrs"]["data-status"] for r in fn_rows}
    assert {"COMPLETED", "FAILED", "RUNNING", "PENDING", "TIMEOUT", "SKIPPED"} <= statuses

    svgs = dom.select("svg", "timeline")
    bars = dom.select("rect", "bar")
    assert len(svgs) == len(results["workflows"])
    assert len(bars) == len(fn_rows)
    for index, (svg, w) in enumerate(zip(svgs, results["workflows"], strict=True)):
        mine = [b for b in bars if b["attrs"]["id"].startswith(f"bar-{index}-")]
        assert len(mine) == len(w["functions"]) == int(svg["attrs"]["data-functions"])
        crit = [b["attrs"]["data-label"] for b in mine if b["attrs"]["data-critical"] == "true"]
        assert len(crit) == int(svg["attrs"]["data-critical"])
        ran = [f for f in w["functions"] if f.get("started_at")]
        assert (len(crit) > 0) == (len(ran) > 0), w["task_id"]
        assert all("crit" in b["attrs"]["class"].split() for b in mine if b["attrs"]["data-critical"] == "true")
    # the hand-made pipeline's critical path, and the real pipeline's path is a chain through the DAG
    assert [b["attrs"]["data-label"] for b in bars
            if b["attrs"]["id"].startswith("bar-0-") and b["attrs"]["data-critical"] == "true"] == \
        ["split", "square(2)", "gather"]
    real = [b for b in bars if b["attrs"]["id"].startswith("bar-4-")]
    assert any(b["attrs"]["data-critical"] == "true" for b in real)

    # the real failing workflow: a FAILED function with a reason, and its log has ERROR marks
    failing = results["workflows"][5]
    assert any(f["status"] == "FAILED" and f["reason"] for f in failing["functions"]), failing["functions"]
    assert dom.select("mark", "err")
    logs = dom.select("details", "log")
    assert logs and not any("open" in d["attrs"] for d in logs)


def test_screenshot_is_kept_as_an_artifact(chromium, report_file, tmp_path):
    path, _ = report_file
    shot = ARTIFACTS / "report_browser.png"
    if shot.exists():
        shot.unlink()
    run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1400,2000", path.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_the_page_makes_no_network_requests(chromium, report_file, tmp_path):
    path, results = report_file
    text = path.read_text()
    assert network_references(parse(text), text) == []
    assert rf.FAKE_SECRET not in text and results["environment"]["S3_SECRET_KEY"] not in text
    netlog = tmp_path / "netlog.json"
    run_chromium(chromium, tmp_path, f"--log-net-log={netlog}", "--dump-dom", path.as_uri())
    assert page_requests(netlog) == []


def test_the_network_check_would_catch_a_remote_asset(chromium, tmp_path):
    """Negative control for page_requests(): a page with a remote image (a closed loopback port)."""
    page = tmp_path / "remote.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    netlog = tmp_path / "netlog.json"
    run_chromium(chromium, tmp_path, f"--log-net-log={netlog}", "--dump-dom", page.as_uri())
    assert page_requests(netlog) == ["http://127.0.0.1:9/x.png"]
    text = page.read_text()
    assert network_references(parse(text), text) == [("img", "src", "http://127.0.0.1:9/x.png")]
