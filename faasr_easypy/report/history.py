"""Runs over time: the last N jobs found in an archives folder.

Every archive gets a small ``faasr_summary.json`` (written by the report hook next to
faasr_results.json): per workflow task its verdict, duration, code hash, function
statuses and testcase results. History reads those (a few KB each, not the results with
their logs; an older archive without one falls back to its faasr_results.json) and shows:

* per workflow task and per testcase: the result of each run, oldest to newest, with durations;
* flaky functions: a function whose status differs between runs with the same code
  (same ``code_hash``: workflow JSON and functions folder);
* what changed since the previous run: new failures and fixed ones.

    runs = load_runs("archives/", limit=20)        # oldest first
    view = analyse(runs)                           # or analyse(runs + [summary_of(results)])
"""

import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .model import BAD_VERDICTS, normalise
from .results_file import RESULTS_FILE

log = logging.getLogger(__name__)

SUMMARY_FILE = "faasr_summary.json"
DEFAULT_RUNS = 20
MAX_FALLBACK_BYTES = 64 * 1024 * 1024   # an old archive's faasr_results.json read for its summary
FAILING = {"FAILED", "TIMEOUT"}         # a function that failed by itself (SKIPPED follows an upstream one)


def summary_of(results, archive=None):
    """The compact record of one job that history keeps."""
    report = normalise(results)
    job = report.job
    return {
        "schema": 1, "job": job.name, "archive": archive, "started": job.started, "ended": job.ended,
        "duration": job.duration, "verdict": job.verdict, "complete": job.complete,
        "workflows": {
            w.task_id: {
                "workflow": w.workflow, "verdict": w.verdict, "duration": w.duration,
                "code_hash": (_raw_workflow(results, w.index) or {}).get("code_hash"),
                "functions": {f.label: f.status for f in w.functions},
                "testcases": {t.name: t.result for t in w.testcases if t.leaf},
            } for w in report.workflows},
    }


def _raw_workflow(results, index):
    try:
        return results["workflows"][index]
    except (KeyError, IndexError, TypeError):
        return None


# -- reading archives ------------------------------------------------------------------------

def _read_member(zf, name, limit):
    members = [i for i in zf.infolist() if PurePosixPath(i.filename).name == name and not i.is_dir()]
    if not members:
        return None
    member = min(members, key=lambda i: i.filename.count("/"))
    if member.file_size > limit:
        return None
    return json.loads(zf.read(member).decode("utf-8", "replace"))


def summary_from_archive(path):
    """The summary kept in an archive zip (or made from its results), or None if it has neither."""
    try:
        with zipfile.ZipFile(path) as zf:
            summary = _read_member(zf, SUMMARY_FILE, 4 * 1024 * 1024)
            if summary is None:
                results = _read_member(zf, RESULTS_FILE, MAX_FALLBACK_BYTES)
                if results is None:
                    return None
                summary = summary_of(results)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        log.debug("history: skipping %s: %s", path, exc)
        return None
    if not isinstance(summary, dict):
        return None
    summary["archive"] = str(path)
    return summary


def load_runs(folder, limit=DEFAULT_RUNS, exclude=()):
    """Summaries of the newest `limit` archives under `folder` (recursively), oldest first.

    Archives are ordered by job start (the zip's modification time when unknown); `exclude`
    names archives to leave out (the job being written)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    skip = {str(Path(p).resolve()) for p in exclude if p}
    zips = sorted((p for p in folder.rglob("*.zip") if str(p.resolve()) not in skip),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    runs = []
    for path in zips:
        if len(runs) >= limit:
            break
        summary = summary_from_archive(path)
        if summary is not None:
            summary.setdefault("started", path.stat().st_mtime)
            runs.append(summary)
    runs.sort(key=lambda r: r.get("started") or 0)
    return runs


# -- analysis --------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of the history grid: a workflow task or one of its testcases."""
    task_id: str
    name: str                      # "" for the workflow task itself
    cells: list                    # per run: (result or None, duration or None)

    @property
    def kind(self):
        return "testcase" if self.name else "workflow"


@dataclass
class Change:
    task_id: str
    name: str                      # testcase name, or "" for the workflow verdict
    before: str | None
    after: str | None


@dataclass
class Flaky:
    task_id: str
    label: str
    statuses: list                 # per run with the same code: status or None
    code_hash: str


@dataclass
class HistoryView:
    runs: list                     # summaries, oldest first
    rows: list = field(default_factory=list)
    new_failures: list = field(default_factory=list)
    fixed: list = field(default_factory=list)
    flaky: list = field(default_factory=list)

    @property
    def labels(self):
        return [(r.get("archive") and Path(r["archive"]).name) or r.get("job") or "?" for r in self.runs]


def _bad(result):
    return result in BAD_VERDICTS


def analyse(runs):
    """Rows, flaky functions and the changes between the last two runs."""
    view = HistoryView(runs=list(runs))
    tasks = []
    for run in view.runs:
        for task_id in run.get("workflows") or {}:
            if task_id not in tasks:
                tasks.append(task_id)
    for task_id in tasks:
        per_run = [(run.get("workflows") or {}).get(task_id) for run in view.runs]
        view.rows.append(Row(task_id, "", [(w.get("verdict"), w.get("duration")) if w else (None, None)
                                           for w in per_run]))
        names = []
        for w in per_run:
            for name in (w or {}).get("testcases") or {}:
                if name not in names:
                    names.append(name)
        for name in names:
            view.rows.append(Row(task_id, name, [(((w or {}).get("testcases") or {}).get(name), None)
                                                 for w in per_run]))
        view.flaky += _flaky(task_id, per_run)
    if len(view.runs) >= 2:
        for row in view.rows:
            before, after = row.cells[-2][0], row.cells[-1][0]
            if after is not None and _bad(after) and (before is None or not _bad(before)):
                view.new_failures.append(Change(row.task_id, row.name, before, after))
            elif before is not None and _bad(before) and after is not None and not _bad(after):
                view.fixed.append(Change(row.task_id, row.name, before, after))
    return view


def _flaky(task_id, per_run):
    groups = {}
    for w in per_run:
        if w and w.get("code_hash"):
            groups.setdefault(w["code_hash"], []).append(w)
    out = []
    for code, runs in groups.items():
        if len(runs) < 2:
            continue
        labels = []
        for w in runs:
            for label in w.get("functions") or {}:
                if label not in labels:
                    labels.append(label)
        for label in labels:
            statuses = [(w.get("functions") or {}).get(label) for w in runs]
            seen = {s for s in statuses if s}
            if len(seen) > 1 and seen & FAILING and "COMPLETED" in seen:
                out.append(Flaky(task_id, label, statuses, code))
    return out
