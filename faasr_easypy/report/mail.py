"""The FaaSr section of the pyATS report mail.

    mail_section_text(results, report_path)   -> plain text
    mail_section_html(results, report_path)   -> an HTML fragment (inline styles only)
    attach_to_mail_report(runtime, results, report_path)

Easypy sends ``runtime.mail_report`` after the job (``--mail-to``; ``--mail-html``
for an HTML mail). Each ``contents`` entry goes out twice: in the text part
through ``str.format(runtime=...)`` (so a literal ``{`` breaks it or, worse,
expands runtime attributes) and in the HTML part pasted raw inside
``<pre>`` (so ``<`` in a failure reason would be markup). attach_to_mail_report
therefore stores a :class:`MailSection`: a ``str`` whose ``format()`` returns
the plain text untouched and whose ``__format__`` (what ``'{custom}'.format``
calls for the HTML part) returns the escaped HTML fragment. Its plain ``str``
value is a safe fallback for both (braces doubled, ``<&>`` escaped) should a
later pyATS use it directly. tests/test_mail.py checks all this against a
real ``pyats run job`` and SMTP server.

pyATS's EmailMsg attaches a file as a ``message/rfc822`` part holding it
unencoded ("7bit"), so one log line over 998 characters in the attached
report makes an SMTP server refuse the whole mail ("500 Line too long"), and
Easypy then blames "Missing SMTP server configuration". :func:`encoded_message`
rebuilds such a message with every part encoded for SMTP (quoted-printable or
base64 bodies, base64 attachments, lines of at most 78 characters) and
redacted; :func:`smtp_failure` words the server's own answer. The Easypy side
(faasr_easypy/easypy/pyats_mail.py) has EmailMsg use both.
"""

import email.policy
import html
import mimetypes
import re
from email.message import EmailMessage
from pathlib import Path

from .model import Report, normalise
from .render import STATUS_COLOURS, VERDICT_COLOURS, environment, fmt_seconds

SECTION = "FaaSr"
MAX_FAILING_LISTED = 10       # failing functions listed per workflow
MAX_REASON = 300              # characters of one reason in the mail
MAX_ATTACH_BYTES = 5 * 1024 * 1024


def _report(results):
    return results if isinstance(results, Report) else normalise(results)


def one_line(text, limit=MAX_REASON):
    """A reason as one line: whitespace collapsed, cut at `limit` characters."""
    if not text:
        return ""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _counts(mapping):
    return ", ".join(f"{n} {k}" for k, n in mapping.items())


def summary(results, report_path=None):
    """What the mail says, as plain data (shared by the text and the HTML section)."""
    report = _report(results)
    job = report.job
    rows = []
    for w in report.workflows:
        failing = [{"label": f.label, "status": f.status, "reason": one_line(f.reason)}
                   for f in w.failing_functions]
        unfinished = [f.label for f in w.functions if not f.final]
        rows.append({
            "task_id": w.task_id, "workflow": w.workflow, "verdict": w.verdict, "bad": w.bad,
            "functions": _counts(w.status_counts) or "no function statuses",
            "duration": fmt_seconds(w.duration) if w.duration is not None else
            ("unfinished" if w.started is not None else "-"),
            "failing": failing[:MAX_FAILING_LISTED],
            "failing_more": max(0, len(failing) - MAX_FAILING_LISTED),
            "unfinished": unfinished,
            "testcase_counts": _counts(w.testcase_counts),
            "testcases": [{"name": t.name, "result": t.result, "reason": one_line(t.explanation),
                           "location": t.location,
                           "duration": fmt_seconds(t.duration) if t.duration is not None else None}
                          for t in w.notable_testcases][:MAX_FAILING_LISTED],
            "error": one_line(w.error),
            "invocation_folder": w.invocation_folder,
            "partial": w.partial,
        })
    return {
        "job": job.name, "verdict": job.verdict, "counts": _counts(job.verdict_counts) or "no workflows",
        "duration": fmt_seconds(job.duration), "testbed": job.testbed or "-", "complete": job.complete,
        "note": one_line(job.note, 1000), "archive": job.archive,
        "report_path": str(report_path) if report_path else None,
        "workflows": rows,
    }


def mail_section_text(results, report_path=None):
    """Plain-text FaaSr section: job verdict, per-workflow verdicts, failing functions and reasons."""
    s = summary(results, report_path)
    out = [(f"FaaSr job {s['job']}: {s['verdict'].upper()} ({s['counts']}) in {s['duration']}, "
            f"testbed {s['testbed']}")]
    if not s["complete"]:
        out.append(f"PARTIAL RUN: {s['note'] or 'the job did not finish; some results are missing'}")
    if s["report_path"]:
        out.append(f"HTML report: {s['report_path']}")
    elif s["archive"]:
        out.append(f"Archive: {s['archive']}")
    out.append("")
    if not s["workflows"]:
        out.append("No workflow task recorded a result.")
    width = max([len(w["task_id"]) for w in s["workflows"]] + [10])
    wf_width = max([len(w["workflow"]) for w in s["workflows"]] + [8])
    for w in s["workflows"]:
        out.append(f"{w['verdict'].upper():<8} {w['task_id']:<{width}}  {w['workflow']:<{wf_width}}  "
                   f"[{w['functions']}]  {w['duration']}" + ("  (partial)" if w["partial"] else ""))
        if w["error"]:
            out.append(f"    task error: {w['error']}")
        for f in w["failing"]:
            out.append(f"    {f['status']:<8} {f['label']}" + (f": {f['reason']}" if f["reason"] else ""))
        if w["failing_more"]:
            out.append(f"    ... and {w['failing_more']} more failing functions (see the HTML report)")
        if w["unfinished"]:
            names = ", ".join(w["unfinished"][:MAX_FAILING_LISTED])
            more = f" and {len(w['unfinished']) - MAX_FAILING_LISTED} more" \
                if len(w["unfinished"]) > MAX_FAILING_LISTED else ""
            out.append(f"    unfinished: {names}{more}")
        if w["testcases"]:  # something other than a pass to explain
            out.append(f"    testcases: {w['testcase_counts']}")
        for t in w["testcases"]:
            reason = f" - {t['reason']}" if t["reason"] else ""
            where = f" (at {t['location']})" if t["location"] else ""
            took = f" in {t['duration']}" if t["duration"] else ""
            out.append(f"    testcase {t['name']}: {t['result'].upper()}{took}{reason}{where}")
        if w["bad"] and w["invocation_folder"]:
            out.append(f"    logs: {w['invocation_folder']}")
    return "\n".join(out)


def mail_section_html(results, report_path=None):
    """HTML fragment for an HTML mail: inline styles, escaped, no newlines and no braces.

    No literal ``{``/``}`` (they are written as character references) so neither
    str.format nor a Jinja2 mail template can interpret any of it."""
    s = summary(results, report_path)
    fragment = environment().get_template("mail_section.html.j2").render(
        s=s, verdict_colours=VERDICT_COLOURS, status_colours=STATUS_COLOURS)
    fragment = re.sub(r">[ \t]*\n\s*<", "><", fragment.strip())
    fragment = fragment.replace("\r", " ").replace("\n", " ")
    return fragment.replace("{", "&#123;").replace("}", "&#125;")


class MailSection(str):
    """A contents value for pyATS' mail report that renders right in both mail parts.

    ``str(section)``: text with ``{}`` doubled and ``<&>`` escaped (safe everywhere);
    ``section.format(...)``: the plain text (pyATS' text part);
    ``format(section)`` / ``'{custom}'.format(custom=section)``: the HTML fragment (HTML part).

    `html_fragment` may be a callable that makes it: it runs once, when an HTML part asks
    for it (a job without --mail-html or with --no-mail never renders the mail template).
    """

    def __new__(cls, text, html_fragment):
        safe = html.escape(text, quote=False).replace("{", "{{").replace("}", "}}")
        obj = super().__new__(cls, safe)
        obj.text = text
        obj._html = html_fragment
        return obj

    @property
    def html(self):
        if callable(self._html):
            self._html = self._html()
        return self._html

    def format(self, *args, **kwargs):
        return self.text

    def format_map(self, mapping):
        return self.text

    def __format__(self, spec):
        return self.html

    def __reduce__(self):
        return (MailSection, (self.text, self.html))


def report_location(runtime, report_path):
    """How the mail names the report: inside the archive when there is one (the runinfo
    folder it was written to is deleted once the archive is made)."""
    if not report_path:
        return None
    try:
        archive = getattr(runtime, "archive", None)
    except Exception:  # a pyATS runtime property; the mail must go out regardless
        archive = None
    if archive and not getattr(getattr(runtime, "args", None), "no_archive", False):
        return f"{Path(report_path).name} in the archive {archive}"
    return str(report_path)


def attach_to_mail_report(runtime, results, report_path=None, section=SECTION, attach=True,
                          max_attach_bytes=MAX_ATTACH_BYTES, location=None):
    """Put the FaaSr section into ``runtime.mail_report`` and attach the HTML report.

    Call it from the Easypy plugin's post_job (the main process), after the report
    is written. The report file is attached when it exists and is at most
    `max_attach_bytes`; the section names where it is (`location`, by default
    "faasr_report.html in the archive <zip>"). Returns the MailSection set, or None
    when the runtime has no mail report (not an Easypy run).
    """
    mail_report = getattr(runtime, "mail_report", None)
    if mail_report is None or not hasattr(mail_report, "contents"):
        return None
    report = _report(results)
    attached = False
    if attach and report_path:
        attached = _attach(mail_report, Path(report_path), max_attach_bytes)
    where = location or report_location(runtime, report_path)
    if where and attached:
        where += " (attached to this mail)"
    value = MailSection(mail_section_text(report, where), lambda: mail_section_html(report, where))
    mail_report.contents[section] = value
    return value


def _attach(mail_report, path, max_attach_bytes):
    try:
        if not path.is_file() or path.stat().st_size > max_attach_bytes:
            return False
    except OSError:
        return False
    current = getattr(mail_report, "attachment", None)
    if current is None:
        attachments = []
    elif isinstance(current, (list, tuple)):
        attachments = list(current)
    else:
        attachments = [current]
    if str(path) not in [str(a) for a in attachments]:
        attachments.append(str(path))
    try:
        mail_report.attachment = attachments   # pyATS: a list of file paths
    except (AttributeError, TypeError):
        return False
    return True


# -- the message pyATS sends --------------------------------------------------------------------

#: RFC 5322 line limits: bodies and headers are encoded to lines of at most this many characters
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=78)

def encoded_message(msg, redactor=None):
    """A copy of `msg` with every body and attachment encoded for SMTP (and redacted)."""
    redact = redactor.redact if redactor else (lambda text: text)
    out = EmailMessage(policy=MAIL_POLICY)
    for key, value in msg.items():
        if not key.lower().startswith(("content-", "mime-version")):
            out[key] = redact(str(value))
    texts, attachments = {}, []
    for part, filename in _leaves(msg):
        data = part.get_payload(decode=True) or b""
        ctype = part.get_content_type()
        if filename is None and ctype in ("text/plain", "text/html") and ctype not in texts:
            texts[ctype] = redact(data.decode(part.get_content_charset() or "utf-8", "replace"))
        else:
            attachments.append((filename or f"part-{len(attachments) + 1}", data))
    out.set_content(texts.get("text/plain", ""), charset="utf-8")
    if "text/html" in texts:
        out.add_alternative(texts["text/html"], subtype="html", charset="utf-8")
    for filename, data in attachments:
        guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maintype, subtype = guessed.split("/", 1)
        if maintype == "text" and redactor:
            data = redactor.redact_bytes(data)
        # bytes go out base64-encoded, whatever their lines
        out.add_attachment(data, maintype=maintype, subtype=subtype, filename=Path(filename).name)
    return out


def _leaves(part, filename=None):
    """(part, attachment file name or None) of every non-container part; pyATS wraps a file
    in a message/rfc822 part that carries the name."""
    name = part.get_filename() or filename
    if part.get_content_type() == "message/rfc822":
        for inner in part.get_payload():
            yield from _leaves(inner, name)
    elif part.is_multipart():
        for inner in part.get_payload():
            yield from _leaves(inner)
    else:
        yield part, (name if name or part.get_content_disposition() == "attachment" else None)


def smtp_failure(exc, host=None, port=None):
    """Why a mail was not sent, in the SMTP server's own words when it answered."""
    import smtplib

    where = f"{host}:{port}" if host else "the SMTP server"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        return f"{where} refused the recipients ({answers})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"cannot reach {where} ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
