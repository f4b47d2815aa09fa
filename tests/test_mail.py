"""The FaaSr section of the pyATS report mail, up to a real SMTP server on loopback.

* unit: the text and HTML sections, MailSection's two faces, attach_to_mail_report;
* loopback SMTP: the message built and sent by pyATS' own EmailMsg (what Easypy uses);
* slow: a real `pyats run job --mail-to ... --mail-html` against an aiosmtpd server,
  with a jobfile that only uses faasr_easypy.report (not the Easypy plugin).
"""

import contextlib
import email
import email.policy
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from faasr_easypy.report.mail import (
    MailSection,
    attach_to_mail_report,
    mail_section_html,
    mail_section_text,
)
from faasr_easypy.report.render import write_html

from . import report_fixtures as rf

VENV_BIN = Path(sys.executable).parent
BRACEY = "KeyError: '{runtime.env.user}' in {0} and {}"


def results_with_braces():
    results = rf.job_results()
    step2 = results["workflows"][1]["functions"][1]
    step2["reason"] = BRACEY
    return results


# -- sections -----------------------------------------------------------------------------------

def test_text_section_has_verdicts_failing_functions_reasons_and_the_report_path():
    text = mail_section_text(rf.job_results(), "faasr_report.html in the archive /a/job.zip")
    assert text.splitlines()[0] == \
        "FaaSr job faasr_job: FAILED (1 failed, 1 aborted, 2 passed) in 3.500 s, testbed local"
    assert "PARTIAL RUN: interrupted by Ctrl-C: Conditional-1 did not finish" in text
    assert "HTML report: faasr_report.html in the archive /a/job.zip" in text
    lines = text.splitlines()
    verdict_of = {line.split()[1]: line.split()[0] for line in lines if line[:1].isupper() and
                  line.split()[0] in ("PASSED", "FAILED", "ABORTED", "ERRORED")}
    assert verdict_of == {"DataPipeline-1": "PASSED", "FailingStep-1": "FAILED",
                          "FanOutFanIn-1": "PASSED", "Conditional-1": "ABORTED"}
    assert '    FAILED   step2: ValueError: input <b>bad</b> & "quoted"' in lines
    assert "    SKIPPED  step3: upstream step2 FAILED" in lines
    assert "    TIMEOUT  final: the job was interrupted (Ctrl-C) before final ran" in lines
    assert "    unfinished: left, right" in lines
    assert "    task error: KeyboardInterrupt: the job was interrupted" in lines
    assert any(line.startswith("    testcase check_all_completed: FAILED - step2 is FAILED") for line in lines)
    assert rf.FAKE_SECRET not in text and rf.FAKE_ACCESS_KEY not in text


def test_text_section_caps_long_lists_and_reasons():
    results = rf.big_job(2, 40)
    results["workflows"][0]["functions"] = [
        rf.fn(f"f{i}", "FAILED", 0, 1, reason="x" * 5000) for i in range(25)]
    text = mail_section_text(results)
    assert "... and 15 more failing functions (see the HTML report)" in text
    assert max(len(line) for line in text.splitlines()) < 400


def test_html_section_is_escaped_single_line_and_brace_free():
    fragment = mail_section_html(results_with_braces(), "r.html")
    assert "\n" not in fragment and "{" not in fragment and "}" not in fragment
    assert "&lt;b&gt;bad&lt;/b&gt;" in mail_section_html(rf.job_results()) and "<b>bad</b>" not in fragment
    assert "&#123;runtime.env.user&#125;" in fragment
    assert ">FAILED<" in fragment and ">ABORTED" in fragment and "step2" in fragment
    assert "<style" not in fragment and "<script" not in fragment
    assert rf.FAKE_SECRET not in fragment and rf.FAKE_ACCESS_KEY not in fragment
    assert "FAILED</span> <code>step2</code>" in fragment   # spaces between inline elements survive


def test_mail_section_has_a_face_for_each_mail_part():
    text = mail_section_text(results_with_braces())
    section = MailSection(text, mail_section_html(results_with_braces()))
    # pyATS' text part: value.format(runtime=...) -> our text, braces untouched
    assert section.format(runtime=object()) == text and BRACEY in text
    # pyATS' HTML part: '{custom}'.format(custom=value) -> our HTML fragment
    assert f"{section}".startswith("<div")
    # fallback str value: safe to str.format and to paste into HTML
    assert str.format(str(section)).count("{runtime.env.user}") == 1
    assert "<b>" not in str(section)
    clone = pickle.loads(pickle.dumps(section))
    assert clone.text == section.text and clone.html == section.html and str(clone) == str(section)


def test_mail_section_renders_its_html_only_when_an_html_part_asks_once():
    renders = []

    def render():
        renders.append(1)
        return mail_section_html(results_with_braces())

    section = MailSection(mail_section_text(results_with_braces()), render)
    assert section.format(runtime=object()) == section.text and renders == []  # the text part alone
    assert f"{section}" == f"{section}" == mail_section_html(results_with_braces()) and renders == [1]
    clone = pickle.loads(pickle.dumps(MailSection(section.text, render)))
    assert clone.html == section.html and renders == [1, 1]


class FakeMailReport:
    def __init__(self, attachment=None):
        self.contents = {"Easypy Report": "..."}
        self.attachment = attachment


class FakeRuntime:
    def __init__(self, attachment=None, archive="/arch/job.zip"):
        self.mail_report = FakeMailReport(attachment)
        self.archive = archive


def test_attach_to_mail_report_sets_the_section_and_attaches_the_report(tmp_path):
    report = write_html(rf.job_results(), tmp_path / "faasr_report.html")
    runtime = FakeRuntime(attachment="/other/file.txt")
    value = attach_to_mail_report(runtime, rf.job_results(), report)
    assert list(runtime.mail_report.contents) == ["Easypy Report", "FaaSr"]
    assert runtime.mail_report.contents["FaaSr"] is value
    assert "HTML report: faasr_report.html in the archive /arch/job.zip (attached to this mail)" in value.text
    assert runtime.mail_report.attachment == ["/other/file.txt", str(report)]
    attach_to_mail_report(runtime, rf.job_results(), report)          # twice: attached once
    assert runtime.mail_report.attachment.count(str(report)) == 1


def test_attach_to_mail_report_skips_big_or_missing_files_and_runtimes_without_mail(tmp_path):
    report = write_html(rf.job_results(), tmp_path / "faasr_report.html")
    runtime = FakeRuntime(archive=None)
    value = attach_to_mail_report(runtime, rf.job_results(), report, max_attach_bytes=100)
    assert runtime.mail_report.attachment is None
    assert f"HTML report: {report}" in value.text and "attached" not in value.text
    runtime = FakeRuntime()
    attach_to_mail_report(runtime, rf.job_results(), tmp_path / "missing.html")
    assert runtime.mail_report.attachment is None
    assert attach_to_mail_report(object(), rf.job_results(), report) is None


# -- loopback SMTP ------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server():
    """aiosmtpd on 127.0.0.1; yields (port, list of received envelopes)."""
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    for attempt in range(5):
        port = free_port()
        controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        try:
            controller.start()
            break
        except Exception:
            if attempt == 4:
                raise
    try:
        yield port, received
    finally:
        controller.stop()


def wait_for_mail(received, timeout=10):
    deadline = time.monotonic() + timeout
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)


def parse_message(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = {"text": "", "html": "", "attachments": {}}
    for part in msg.walk():
        filename = part.get_filename()
        if filename:
            payload = part.get_payload(decode=True)
            if payload is None:  # pyATS attaches files as message/rfc822 wrappers
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) else inner
                payload = inner.get_payload(decode=True) if hasattr(inner, "get_payload") else b""
            parts["attachments"][filename] = payload or b""
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and not parts["text"]:
            parts["text"] = part.get_content()
        elif ctype == "text/html" and not parts["html"]:
            parts["html"] = part.get_content()
    return msg, parts


def check_message(raw, parts, report_name="faasr_report.html"):
    """What every mail with the FaaSr section must (not) contain."""
    text, html = parts["text"], parts["html"]
    assert "FaaSr job faasr_job: FAILED" in text
    assert "FailingStep-1" in text and "ABORTED" in text and "PASSED" in text
    assert '    FAILED   step2: ' in text
    assert BRACEY in text                           # no str.format expansion of our data
    assert "PARTIAL RUN" in text
    if html:
        assert "FaaSr job faasr_job" in html and "&#123;runtime.env.user&#125;" in html
        assert "<b>bad</b>" not in html
        assert "upstream step2 FAILED" in html
    if report_name:
        assert report_name in parts["attachments"]
        attached = parts["attachments"][report_name].decode("utf-8", "replace")
        assert "FaaSr report: faasr_job" in attached
    for secret in (rf.FAKE_SECRET, rf.FAKE_ACCESS_KEY):
        assert secret.encode() not in raw
        assert secret not in text and secret not in html
        for payload in parts["attachments"].values():
            assert secret.encode() not in payload


@contextlib.contextmanager
def pyats_smtp(port):
    from pyats.configuration import configuration as cfg

    saved = {k: cfg.get(k) for k in ("email.smtp.host", "email.smtp.port", "email.default_domain")}
    cfg["email.smtp.host"] = "127.0.0.1"
    cfg["email.smtp.port"] = port
    cfg["email.default_domain"] = "example.com"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                try:
                    del cfg[key]
                except KeyError:
                    pass
            else:
                cfg[key] = value


def test_mail_through_pyats_emailmsg_to_a_loopback_smtp_server(tmp_path):
    """The message pyATS' EmailMsg builds from our section and attachment, over real SMTP."""
    from pyats.utils.email import EmailMsg

    results = results_with_braces()
    report = write_html(results, tmp_path / "faasr_report.html")
    runtime = FakeRuntime()
    attach_to_mail_report(runtime, results, report)
    section = runtime.mail_report.contents["FaaSr"]
    # As TextEmailReport formats it: text part through .format(runtime=...), HTML part through
    # '{custom}'.format(custom=...) into pyATS' custom_section.html.
    body = "Easypy Report\n...\n\nFaaSr\n" + section.format(runtime=runtime)
    html = f"<html><body><pre><span>{section}</span></pre></body></html>"
    with smtp_server() as (port, received), pyats_smtp(port):
        msg = EmailMsg(from_email="faasr@example.com", to_email="dev@example.com", subject="pyATS Report",
                       body=body, html_email=True, html_body=html,
                       attachments=list(runtime.mail_report.attachment))
        msg.send()
        wait_for_mail(received)
    assert len(received) == 1
    envelope = received[0]
    assert envelope.rcpt_tos == ["dev@example.com"]
    _message, parts = parse_message(envelope.content)
    check_message(envelope.content, parts)


# -- a real pyATS job ---------------------------------------------------------------------------------

JOBFILE = '''\
"""Trivial job: puts the FaaSr section into the report mail from a hand-made results dict."""
import importlib
import json
import os
import shutil


def main(runtime):
    # Spelled out at run time so the faasr-easypy Easypy plugin does not take this job for a
    # FaaSr job (it looks for the package name in the jobfile's text).
    report = importlib.import_module("faasr" + "_easypy.report.archive")
    with open(os.environ["FAASR_TEST_RESULTS"]) as fh:
        results = json.load(fh)
    shutil.copy(os.environ["FAASR_TEST_RESULTS"], os.path.join(runtime.directory, "faasr_results.json"))
    report.report_hook(results, runtime.directory, runtime)
'''

EASYPY_CONFIG = """\
plugins:
  EnvironmentDebugPlugin: {enabled: False}
  TipsPlugin: {enabled: False}
  KleenexPlugin: {enabled: False}
  LiveviewPlugin: {enabled: False}
  ReplayPlugin: {enabled: False}
  AbstractPlugin: {enabled: False}
  "HealthCheckPlugin:": {enabled: False}
  "MapleCleanPlugin:": {enabled: False}
  FileServerPlugin: {enabled: False}
"""


@pytest.mark.slow
def test_real_pyats_job_mails_the_faasr_section(tmp_path):
    pyats = VENV_BIN / "pyats"
    if not pyats.exists():
        pyats = shutil.which("pyats")
    assert pyats, "the pyats command is not installed"
    results_file = tmp_path / "results.json"
    results_file.write_text(json.dumps(results_with_braces()))
    (tmp_path / "mail_job.py").write_text(JOBFILE)
    (tmp_path / "easypy.yaml").write_text(EASYPY_CONFIG)
    archives = tmp_path / "archives"
    with smtp_server() as (port, received):
        # default_domain: without it (and without --mail-from) pyATS cannot build the From address
        # and silently sends nothing ("Missing SMTP server configuration ...").
        (tmp_path / "pyats.conf").write_text(
            f"[email]\nsmtp.host = 127.0.0.1\nsmtp.port = {port}\ndefault_domain = example.com\n")
        env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                   FAASR_TEST_RESULTS=str(results_file))
        started = time.monotonic()
        proc = subprocess.run(
            [str(pyats), "run", "job", "mail_job.py", "--mail-to", "dev@example.com", "--mail-html",
             "--pyats-configuration", "pyats.conf", "-C", "easypy.yaml", "--archive-dir", str(archives)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
        seconds = time.monotonic() - started
        wait_for_mail(received)
    log = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Sending report email" in proc.stdout, log
    assert "failed to send" not in proc.stdout, log
    assert len(received) == 1, log
    raw = received[0].content
    message, parts = parse_message(raw)
    assert message["To"] == "dev@example.com"
    check_message(raw, parts)
    # the section sits among pyATS' own sections in both parts
    assert "Easypy Report" in parts["text"] and "Task Result Summary" in parts["text"]
    assert "&nbsp;FaaSr" in parts["html"] and "<div style=" in parts["html"]
    # the report is in the archive too, and `faasr-easypy report` regenerates it from there
    zips = list(archives.rglob("*.zip"))
    assert len(zips) == 1, log
    with zipfile.ZipFile(zips[0]) as z:
        names = {Path(n).name for n in z.namelist()}
    assert {"faasr_report.html", "faasr_results.json"} <= names
    from faasr_easypy.report.cli import main

    out = tmp_path / "again.html"
    assert main([str(zips[0]), "-o", str(out)]) == 0
    assert "FaaSr report: faasr_job" in out.read_text()
    print(f"pyats run job with mail: {seconds:.1f} s")
