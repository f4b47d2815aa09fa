"""faasr_results.json -> JUnit XML, the format CI systems read (Jenkins, GitLab, GitHub actions).

    write_junit(results, "faasr_junit.xml")   # atomically; returns the Path
    validate(path)                            # [] or the schema's complaints

One <testsuite> per workflow task (its properties: workflow, verdict, InvocationID, S3
folder, and one ``function:<label>`` property per function with its status), one
<testcase> per aetest section that holds a result of its own (a leaf: a test section, a
subsection, or a testcase with no sections such as a skipped one), named
``<task>.<Testcase>`` / ``<section>``. pyATS results map onto JUnit's:

    passed -> (nothing)      failed  -> <failure>    errored -> <error>
    passx  -> <system-out>   aborted -> <error type="aborted">
    skipped -> <skipped>     blocked -> <error type="blocked">  (not run, and pyATS calls the job bad)

The failure's message attribute is the failure's own text (``AssertionError: ...``) and
where it was raised; the element's text is the traceback pyATS kept. A task whose verdict
is bad but none of whose sections says so (killed, could not start) gets one more testcase,
``workflow``, with the reason: a CI reader never shows such a task green.

The XML validates against schemas/junit.xsd (the Jenkins junit-10 model, see its header).
"""

import datetime
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

from .model import Report, normalise
from .render import write_atomic

JUNIT_FILE = "faasr_junit.xml"
SCHEMA = Path(__file__).with_name("schemas") / "junit.xsd"
MAX_MESSAGE = 2000
# XML 1.0 allows tab, newline, carriage return and these ranges; anything else (an ANSI escape
# from a log) would make the whole file unreadable to every parser.
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EXC_TYPE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)?):")

OUTCOME = {"failed": ("failure", None), "errored": ("error", None), "aborted": ("error", "aborted"),
           "blocked": ("error", "blocked"), "skipped": ("skipped", None)}


def _clean(text):
    return _ILLEGAL_XML.sub("\ufffd", str(text)) if text is not None else ""


def _seconds(value):
    return f"{max(0.0, float(value)):.3f}" if value is not None else "0.000"


def _timestamp(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S")


def _message(t):
    text = t.explanation or f"{t.result}"
    if t.location:
        text += f" (at {t.location})"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def _exception_type(message, default):
    m = _EXC_TYPE.match(message or "")
    return m.group(1) if m else default


def _leaves(w):
    return [t for t in w.testcases if t.leaf]


def _classname(w, t):
    return f"{w.task_id}.{t.parent}" if t.parent else w.task_id


def build(results):
    """The <testsuites> element for a results dict (or a normalised Report)."""
    report = results if isinstance(results, Report) else normalise(results)
    root = ET.Element("testsuites", name=_clean(report.job.name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    hostname = socket.gethostname()
    for w in report.workflows:
        suite = _suite(w, hostname)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", _seconds(report.job.duration))
    return root


def _suite(w, hostname):
    suite = ET.Element("testsuite", name=_clean(w.task_id))
    props = ET.SubElement(suite, "properties")
    for name, value in (("workflow", w.workflow), ("verdict", w.verdict), ("workflow_file", w.source),
                        ("testscript", w.testscript), ("invocation_id", w.invocation_id),
                        ("invocation_folder", w.invocation_folder), ("platform", w.platform),
                        ("error", w.error)):
        if value:
            ET.SubElement(props, "property", name=name, value=_clean(value))
    for f in w.functions:
        ET.SubElement(props, "property", name=f"function:{_clean(f.label)}", value=f.status)
        if f.reason:
            ET.SubElement(props, "property", name=f"function:{_clean(f.label)}:reason", value=_clean(f.reason))
        if f.log_location:
            ET.SubElement(props, "property", name=f"function:{_clean(f.label)}:log", value=_clean(f.log_location))
    counts = {"failure": 0, "error": 0, "skipped": 0}
    cases = 0
    for t in _leaves(w):
        case = ET.SubElement(suite, "testcase", classname=_clean(_classname(w, t)),
                             name=_clean(t.name.rsplit(".", 1)[-1] if t.parent else t.name),
                             time=_seconds(t.duration))
        cases += 1
        kind = _outcome(case, t)
        if kind:
            counts[kind] += 1
    if w.bad and not (counts["failure"] or counts["error"]):
        # Red means red: the task is bad although no section says so.
        case = ET.SubElement(suite, "testcase", classname=_clean(w.task_id), name="workflow",
                             time=_seconds(w.duration))
        cases += 1
        why = w.error or "; ".join(w.partial_reasons) or f"the task ended {w.verdict}"
        tag = "failure" if w.verdict == "failed" else "error"
        ET.SubElement(case, tag, message=_clean(why), type=w.verdict).text = _clean(why)
        counts[tag] += 1
    suite.set("tests", str(cases))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", _seconds(w.duration))
    if w.started is not None:
        suite.set("timestamp", _timestamp(w.started))
    suite.set("hostname", _clean(hostname))
    if w.testscript:
        suite.set("file", _clean(w.testscript))
    return suite


def _outcome(case, t):
    """Add the child element of one section's result; return its kind or None for a pass."""
    if t.result == "passx":
        ET.SubElement(case, "system-out").text = _clean(f"passx: {t.explanation or 'passed as expected'}")
        return None
    if t.result == "passed":
        return None
    tag, kind = OUTCOME.get(t.result, ("error", t.result or "unknown"))
    message = _message(t)
    element = ET.SubElement(case, tag, message=_clean(message))
    if tag != "skipped":
        element.set("type", kind or _exception_type(t.message, t.result))
        body = t.traceback or "\n".join(x for x in (t.message, t.reason, t.location and f"at {t.location}") if x)
        element.text = _clean(body)
    return tag


def to_string(results):
    root = build(results)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results, path):
    """Write the JUnit XML atomically; return the Path."""
    return write_atomic(path, to_string(results))


def validate(path_or_text, schema=SCHEMA):
    """The schema's complaints about a JUnit XML file (path) or text: [] when it is valid."""
    from lxml import etree

    xsd = etree.XMLSchema(etree.parse(str(schema)))
    if isinstance(path_or_text, (str, bytes)) and str(path_or_text).lstrip().startswith("<"):
        doc = etree.fromstring(path_or_text.encode() if isinstance(path_or_text, str) else path_or_text)
    else:
        doc = etree.parse(str(path_or_text))
    if xsd.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
