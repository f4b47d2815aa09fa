"""Render faasr_results.json as ONE self-contained HTML file.

    html = render_html(results)              # str
    write_html(results, "faasr_report.html")  # atomically, returns the Path

Everything the page needs is inline (CSS, a little JavaScript, SVG); a
Content-Security-Policy meta tag forbids every network fetch, so the report
reads the same offline, from a mail attachment or from an archive. All data
goes through Jinja2 autoescaping.

Size is bounded: each log is cut to `max_log_bytes` (64 KiB), and all logs
together share `log_budget` characters (fair share: short logs stay whole,
long ones are cut to the same cap). A cut keeps the head and the tail, keeps
ERROR lines from the part it drops, and says where the full log is.
"""

import datetime
import math
import os
import re
import tempfile
from pathlib import Path

import jinja2

from ..layout import LOG_LINE
from ..sizes import fmt_bytes
from .model import Report, Segment, normalise

TEMPLATES = Path(__file__).with_name("templates")

MAX_LOG_BYTES = 64 * 1024          # per log, after the writer's own 64 KiB cut
TARGET_BYTES = 1_900_000           # the whole report aims below this (2 MB with margin) ...
MIN_LOG_BUDGET = 256 * 1024        # ... but all logs together always get at least this much
MIN_LOG_BYTES = 1024               # no log is cut below this, whatever the budget says
MAX_S3_OBJECTS = 200               # rows per workflow
MAX_ERROR_LINES_KEPT = 20          # ERROR lines rescued from the cut middle of a log

STATUS_COLOURS = {
    "COMPLETED": "#2e7d32", "FAILED": "#c62828", "TIMEOUT": "#e65100", "SKIPPED": "#8d6e63",
    "RUNNING": "#1565c0", "INVOKED": "#64b5f6", "PENDING": "#9e9e9e", "NOT_INVOKED": "#cfd8dc",
}
VERDICT_COLOURS = {
    "passed": "#2e7d32", "passx": "#558b2f", "failed": "#c62828", "errored": "#ad1457",
    "aborted": "#e65100", "blocked": "#6a1b9a", "skipped": "#757575",
}


# -- formatting filters ----------------------------------------------------------------------

def fmt_time(epoch):
    """Epoch seconds -> '2026-11-22 08:40:01.123 UTC' ('-' when unknown)."""
    if epoch is None:
        return "-"
    try:
        dt = datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc)  # Python 3.10 has no datetime.UTC
    except (OverflowError, OSError, ValueError):
        return "-"
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d} UTC"


def fmt_seconds(seconds):
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 0:
        return "-" + fmt_seconds(-s)
    if s < 10:
        return f"{s:.3f} s"
    if s < 60:
        return f"{s:.2f} s"
    if s < 3600:
        return f"{int(s // 60)} min {s % 60:04.1f} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_offset(seconds):
    return "-" if seconds is None else f"+{float(seconds):.3f} s"


def slug(text):
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-")[:80] or "x"


# -- logs ------------------------------------------------------------------------------------

ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL")


def classify_lines(lines):
    """Yield (line, is_error) for log lines.

    An ERROR line is a FaaSr log line at level ERROR (``[t] [ERROR] [file] message``);
    the lines that follow it up to the next FaaSr line or a blank line (a traceback)
    belong to it. Outside that format, a line starting with ``Traceback`` or ``ERROR``
    opens an error block too.
    """
    in_error = False
    for line in lines:
        stripped = line.rstrip("\r\n")
        m = LOG_LINE.match(stripped)
        if m:
            in_error = m.group("level") in ERROR_LEVELS
        elif not stripped.strip():
            in_error = False
        elif not in_error and stripped.startswith(("Traceback (most recent call last)", "ERROR", "[ERROR]")):
            in_error = True
        yield line, in_error


def segments(text):
    """Split a log into runs of normal and ERROR lines (adjacent lines of a kind merged).

    Returns (segments, number of ERROR lines)."""
    if not text:
        return [], 0
    if "ERROR" not in text and "Traceback" not in text:
        return [Segment(text)], 0
    out = []
    errors = 0
    buf, buf_error = [], False
    for line, error in classify_lines(text.splitlines(keepends=True)):
        errors += error
        if error != buf_error and buf:
            out.append(Segment("".join(buf), buf_error))
            buf = []
        buf_error = error
        buf.append(line)
    if buf:
        out.append(Segment("".join(buf), buf_error))
    return out, errors


def cut_log(text, cap, location=None):
    """Cut `text` to about `cap` characters: head + note + tail, keeping dropped ERROR lines.

    Returns (text, note); note is None when nothing was cut. The note and the rescued
    ERROR lines count against `cap` (ERROR lines get at most a quarter of it).
    """
    if text is None or len(text) <= cap:
        return text, None
    reserve = 300 + (len(location) if location else 0)
    head, tail, middle = _head_tail(text, max(512, cap - reserve))
    kept, kept_chars = [], 0
    if "ERROR" in middle or "Traceback" in middle:
        for line, error in classify_lines(middle.splitlines()):
            if not error:
                continue
            line = line[:300] + ("..." if len(line) > 300 else "")
            if len(kept) >= MAX_ERROR_LINES_KEPT or kept_chars + len(line) + 1 > cap // 4:
                break
            kept.append(line)
            kept_chars += len(line) + 1
    if kept:
        head, tail, middle = _head_tail(text, max(512, cap - reserve - kept_chars - 40))
    where = f"; the full log is {location}" if location else ""
    note = (f"{len(middle):,} characters ({middle.count(chr(10)):,} lines) cut from the middle of this "
            f"log by the report{where}")
    block = f"\n[... {note} ...]\n"
    if kept:
        block += "[ERROR lines from the cut part:]\n" + "\n".join(kept) + "\n[...]\n"
    return head + block + tail, note


def _head_tail(text, size):
    """The first ~30% and last ~70% of `size` characters of `text`, cut at line ends."""
    head_len = max(128, int(size * 0.3))
    tail_len = max(128, size - head_len)
    head = text[:head_len]
    nl = head.rfind("\n")
    if nl > head_len // 2:
        head = head[:nl + 1]
    tail = text[-tail_len:]
    nl = tail.find("\n")
    if 0 <= nl < tail_len // 2:
        tail = tail[nl + 1:]
    return head, tail, text[len(head):len(text) - len(tail)]


def fair_cap(sizes, budget, floor=MIN_LOG_BYTES, ceiling=MAX_LOG_BYTES):
    """The largest per-log cap c (floor <= c <= ceiling) with sum(min(s, c)) <= budget.

    Short logs stay whole and long ones share what is left; `floor` wins over the budget."""
    floor = min(floor, ceiling)

    def total(cap):
        return sum(min(s, cap) for s in sizes)

    if total(ceiling) <= budget:
        return ceiling
    if total(floor) > budget:
        return floor
    lo, hi = floor, ceiling  # total(lo) <= budget < total(hi)
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if total(mid) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def structure_estimate(report, max_s3_objects=MAX_S3_OBJECTS):
    """Bytes of the report without logs (calibrated on benchmarks/bench_report.py's job)."""
    size = 16_000
    for w in report.workflows:
        size += 4_400 + len(w.arguments or "") + len(w.error or "") + 2 * len(w.invocation_folder or "")
        size += sum(1_150 + 3 * len(f.reason or "") + 2 * len(f.label) for f in w.functions)
        size += sum(230 + 2 * len(o.key) + 2 * len(o.preview or "") for o in w.s3_objects[:max_s3_objects])
        size += sum(260 + len(t.name) + len(t.reason or "") + len(t.message or "") + 2 * len(t.traceback or "")
                    for t in w.testcases)
    return size


def history_estimate(view):
    """Bytes of the history section (0 without one)."""
    if view is None:
        return 0
    return 4_000 + sum(150 + 2 * len(row.task_id) + 2 * len(row.name) + 130 * len(row.cells) for row in view.rows) \
        + 200 * (len(view.new_failures) + len(view.fixed) + len(view.flaky)) + 60 * len(view.runs)


def log_budget_for(report, target=TARGET_BYTES, max_s3_objects=MAX_S3_OBJECTS):
    """Bytes all logs (as written into the page: UTF-8, HTML-escaped) may take so the
    report stays under `target` bytes."""
    room = target - structure_estimate(report, max_s3_objects)
    return max(MIN_LOG_BUDGET, int(room / 1.02))  # <mark> wrappers and cut notes add a little


def page_bytes(text):
    """Bytes `text` takes in the page once escaped (&amp; &lt; &gt; &#34; &#39;) and UTF-8 encoded."""
    return (len(text.encode("utf-8", "replace")) + 3 * (text.count("<") + text.count(">"))
            + 4 * (text.count("&") + text.count('"') + text.count("'")))


def prepare_logs(report, max_log_bytes=MAX_LOG_BYTES, log_budget=None):
    """Cut every log to a fair share of `log_budget` (at most `max_log_bytes` characters each)
    and split it into segments; return the largest per-log cap used, in characters.

    The share is computed on page bytes, so a log full of quotes or non-ASCII text (which
    grows when escaped and encoded) is cut shorter, in characters, than a plain one."""
    if log_budget is None:
        log_budget = log_budget_for(report)
    functions = [f for w in report.workflows for f in w.functions if f.log]
    weights = [page_bytes(f.log) for f in functions]
    ratios = [w / max(1, len(f.log)) for w, f in zip(weights, functions, strict=True)]
    ceiling = int(max_log_bytes * max(ratios, default=1.0))
    share = fair_cap(weights, log_budget, floor=MIN_LOG_BYTES, ceiling=ceiling)
    largest = 0
    for f, ratio in zip(functions, ratios, strict=True):
        cap = max(MIN_LOG_BYTES, min(max_log_bytes, int(share / ratio)))
        largest = max(largest, min(cap, len(f.log)))
        text, note = cut_log(f.log, cap, f.log_location)
        f.log_cut_note = note
        f.log_segments, f.error_lines = segments(text)
    return max(largest, MIN_LOG_BYTES) if functions else max_log_bytes


# -- timeline --------------------------------------------------------------------------------

TL_WIDTH = 1000
TL_LABEL = 190
TL_RIGHT = 20
TL_ROW = 20
TL_BAR = 13
TL_TOP = 26


def nice_step(span, target=8):
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def timeline(w):
    """Geometry of one workflow's Gantt chart (drawn by templates/_timeline.svg.j2)."""
    span = w.time_span if w.time_span and w.time_span > 0 else 1.0
    plot = TL_WIDTH - TL_LABEL - TL_RIGHT

    def x(t):
        return TL_LABEL + plot * (t / span)

    step = nice_step(span)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    ticks = []
    k = 0
    while k * step <= span * 1.0001 and k < 200:
        t = k * step
        ticks.append({"x": round(x(t), 1), "label": f"{t:.{decimals}f} s"})
        k += 1
    bars = []
    for i, f in enumerate(w.functions):
        y = TL_TOP + i * TL_ROW
        if f.start_offset is None:
            bars.append({"f": f, "y": y, "x": TL_LABEL, "w": 0, "ran": False})
            continue
        x0 = x(f.start_offset)
        x1 = x(f.end_offset if f.end_offset is not None else f.start_offset)
        bars.append({"f": f, "y": y, "x": round(x0, 1), "w": round(max(2.0, x1 - x0), 1), "ran": True})
    index = {b["f"].label: b for b in bars}
    links = []
    for a, b in zip(w.critical_path, w.critical_path[1:], strict=False):
        ba, bb = index.get(a), index.get(b)
        if ba and bb and ba["ran"] and bb["ran"]:
            links.append({"x1": round(ba["x"] + ba["w"], 1), "y1": ba["y"] + TL_BAR / 2,
                          "x2": bb["x"], "y2": bb["y"] + TL_BAR / 2})
    height = TL_TOP + max(1, len(bars)) * TL_ROW + 6
    return {"width": TL_WIDTH, "height": height, "label_w": TL_LABEL, "plot_w": plot,
            "bar_h": TL_BAR, "row_h": TL_ROW, "top": TL_TOP, "ticks": ticks, "bars": bars,
            "links": links, "span": span}


# -- rendering -------------------------------------------------------------------------------

_env = None


def environment():
    global _env
    if _env is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,                 # every {{ value }} is HTML-escaped
            undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.filters.update(time=fmt_time, seconds=fmt_seconds, offset=fmt_offset, bytes=fmt_bytes,
                           slug=slug)
        env.globals.update(status_colours=STATUS_COLOURS, verdict_colours=VERDICT_COLOURS,
                           timeline=timeline)
        _env = env
    return _env


def render_html(results, max_log_bytes=MAX_LOG_BYTES, log_budget=None, target_bytes=TARGET_BYTES,
                max_s3_objects=MAX_S3_OBJECTS, report_name="faasr_report.html", history=None):
    """The report as one HTML string. `results`: the faasr_results.json dict (or a Report).

    Logs are cut to `max_log_bytes` each and share `log_budget` characters (default:
    what keeps the page under `target_bytes`). `history`: a report.history.HistoryView
    shown as a section of the report (None: no section)."""
    report = results if isinstance(results, Report) else normalise(results)
    if log_budget is None:
        log_budget = log_budget_for(report, target_bytes - history_estimate(history), max_s3_objects)
    cap = prepare_logs(report, max_log_bytes=max_log_bytes, log_budget=log_budget)
    template = environment().get_template("report.html.j2")
    return template.render(report=report, job=report.job, workflows=report.workflows,
                           log_cap=cap, max_s3_objects=max_s3_objects, report_name=report_name,
                           history=history)


def render_history_html(view, folder, now=None):
    """The history page of `view` (report.history.analyse) on its own."""
    import time

    return environment().get_template("history.html.j2").render(
        h=view, folder=str(folder), generated=time.time() if now is None else now)


def write_html(results, path, **options):
    """Render and write atomically (a temporary file renamed into place); return the Path."""
    path = Path(path)
    return write_atomic(path, render_html(results, report_name=path.name, **options))


def write_atomic(path, text):
    """Write `text` (UTF-8) to `path` through a temporary file renamed into place: a reader never
    sees half a file. Returns the Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
