"""A Markdown summary of the job for GitHub Actions' job page.

When ``GITHUB_STEP_SUMMARY`` names a file (GitHub sets it in every step), the Easypy
report hook appends this summary to it: the job verdict, one table row per workflow
task, and each section that did not pass with its own message and testscript line.
"""

import os
from pathlib import Path

from .model import Report, normalise
from .render import fmt_seconds

ENV = "GITHUB_STEP_SUMMARY"
MAX_LISTED = 30
ICONS = {"passed": "✅", "passx": "✅", "failed": "❌", "errored": "❌", "aborted": "⛔", "blocked": "⛔",
         "skipped": "⏭️"}


def _cell(text, limit=300):
    """Text safe in a Markdown table cell: one line, pipes escaped, cut."""
    text = " ".join(str(text or "").split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def markdown(results, report_name=None):
    report = results if isinstance(results, Report) else normalise(results)
    job = report.job
    counts = ", ".join(f"{n} {v}" for v, n in job.verdict_counts.items()) or "no workflows"
    out = [f"## {ICONS.get(job.verdict, '❔')} FaaSr job `{_cell(job.name)}`: {job.verdict.upper()}", "",
           f"{counts} in {fmt_seconds(job.duration)}, testbed {_cell(job.testbed or '-')}"
           + ("" if job.complete else f". **Partial run:** {_cell(job.note or 'the job did not finish')}"), ""]
    if report.workflows:
        out += ["| Task | Workflow | Verdict | Functions | Testcases | Duration |", "|---|---|---|---|---|---|"]
        for w in report.workflows:
            functions = ", ".join(f"{n} {s}" for s, n in w.status_counts.items()) or "-"
            testcases = ", ".join(f"{n} {r}" for r, n in w.testcase_counts.items()) or "-"
            out.append(f"| {_cell(w.task_id)} | {_cell(w.workflow)} | {ICONS.get(w.verdict, '❔')} "
                       f"{w.verdict.upper()} | {_cell(functions)} | {_cell(testcases)} | "
                       f"{fmt_seconds(w.duration)} |")
        out.append("")
    problems = []
    for w in report.workflows:
        if w.error:
            problems.append(f"- **{_cell(w.task_id)}**: task error: {_cell(w.error)}")
        for f in w.failing_functions:
            problems.append(f"- **{_cell(w.task_id)}** function `{_cell(f.label)}` {f.status}"
                            + (f": {_cell(f.reason)}" if f.reason else ""))
        for t in w.notable_testcases:
            where = f" (`{_cell(t.location)}`)" if t.location else ""
            problems.append(f"- **{_cell(w.task_id)}** `{_cell(t.name)}` {t.result.upper()}"
                            + (f": {_cell(t.explanation)}" if t.explanation else "") + where)
    if problems:
        out += ["### Not passed", ""] + problems[:MAX_LISTED]
        if len(problems) > MAX_LISTED:
            out.append(f"- ... and {len(problems) - MAX_LISTED} more (see the HTML report)")
        out.append("")
    if report_name:
        out += [f"HTML report: `{_cell(report_name)}`", ""]
    return "\n".join(out) + "\n"


def append_step_summary(results, report_name=None, environ=None):
    """Append the summary to $GITHUB_STEP_SUMMARY when it is set; return the path or None."""
    environ = os.environ if environ is None else environ
    target = environ.get(ENV)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown(results, report_name))
    return path
