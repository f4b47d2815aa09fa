"""faasr_results.json -> a normalised, display-ready model.

The data contract is docs/RESULTS_SCHEMA.md. Everything here is defensive:
the same code renders a complete job, a job cut short by Ctrl-C or a timeout
(missing times, PENDING/RUNNING/TIMEOUT functions, no testcases) and results
written by an older or newer writer (unknown keys are ignored, missing keys
get defaults, wrong types are coerced or dropped).

Only whitelisted fields reach the report or the mail. Values under keys that
look like credentials (``*secret*``, ``*password*``, ``*token*``,
``*access_key*`` ...), anywhere in the results, are masked in every string
that is shown (by faasr_easypy.redact, as everywhere else), as a second line
of defence behind the writer's redaction.
"""

import json
import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..monitor import statuses
from ..redact import Redactor

SCHEMA_VERSION = 1

#: pyATS verdicts, worst first (used for the job verdict and for sorting).
VERDICTS = ("errored", "failed", "aborted", "blocked", "skipped", "passx", "passed")
#: Function statuses in the order a reader wants to see them counted.
STATUSES = ("FAILED", "TIMEOUT", "SKIPPED", "RUNNING", "INVOKED", "PENDING", "NOT_INVOKED", "COMPLETED")
FINAL_STATUSES = {s.value for s in statuses.FINAL_STATUSES}
BAD_STATUSES = {s.value for s in statuses.BLOCKING_STATUSES}
BAD_VERDICTS = {"failed", "errored", "aborted", "blocked"}

ERROR_LINE_RE = re.compile(r"\[ERROR\]|^(Traceback \(most recent call last\)|[A-Za-z_.]*Error:|ERROR\b)")


def load_results(source):
    """Read faasr_results.json from a path, bytes/str or open binary/text file; return the dict."""
    if isinstance(source, (bytes, bytearray)):
        text = bytes(source).decode("utf-8", "replace")
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        text = source
    elif hasattr(source, "read"):
        data = source.read()
        text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
    else:
        text = Path(source).read_text(encoding="utf-8", errors="replace")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("faasr_results.json must hold a JSON object")  # bad content
    return data


# -- secrets ---------------------------------------------------------------------------------

def report_redactor(results):
    """The redactor of a report: every value under a credential-looking key anywhere in the
    results is masked in every string shown (faasr_easypy.redact, the one masking path)."""
    return Redactor(include_environment=False).add_from_data(results)


# -- view model ------------------------------------------------------------------------------

@dataclass
class Segment:
    """A run of log text; `error` marks ERROR lines (highlighted)."""
    text: str
    error: bool = False


@dataclass
class FunctionView:
    label: str
    action: str
    rank: int | None
    status: str
    reason: str | None
    started_at: float | None
    ended_at: float | None
    log_key: str | None
    log: str | None
    log_truncated: bool
    duration: float | None = None
    start_offset: float | None = None     # seconds since the workflow's time origin
    end_offset: float | None = None
    open_ended: bool = False                 # started, never ended (partial run)
    critical: bool = False
    error_lines: int = 0
    log_bytes: int = 0                       # size of the log as received
    log_segments: list = field(default_factory=list)
    log_cut_note: str | None = None       # the renderer's own cut (per-log cap / total budget)
    log_location: str | None = None       # where the full log is

    @property
    def final(self):
        return self.status in FINAL_STATUSES

    @property
    def bad(self):
        return self.status in BAD_STATUSES


@dataclass
class TestcaseView:
    name: str                             # dotted: "Failing.sum_is_wrong", "Looped[n=2].check"
    result: str                           # the pyATS result by name; "unknown" only when none was recorded
    reason: str | None                    # pyATS's reason ("Caught an assertion failure ...")
    message: str | None = None            # the failure's own text ("AssertionError: ...")
    location: str | None = None           # "testscripts/x.py:21": where it was raised
    code: str | None = None               # that source line
    traceback: str | None = None
    duration: float | None = None
    depth: int = 0                        # nesting as aetest has it: testcase 0, its sections 1
    section_type: str | None = None       # CommonSetup, Testcase, TestSection, SetupSection ...
    parent: str | None = None             # name of the enclosing section
    children: int = 0                     # sections directly inside this one
    functions: list = field(default_factory=list)   # labels its source names (report/links.py)
    objects: list = field(default_factory=list)     # S3 keys its source names

    @property
    def bad(self):
        return self.result in BAD_VERDICTS

    @property
    def explanation(self):
        """What to show beside the result: the failure's message, else pyATS's reason."""
        return self.message or self.reason

    @property
    def leaf(self):
        return self.children == 0


@dataclass
class S3ObjectView:
    key: str
    size: int | None
    bucket: str | None
    preview: str | None = None            # the text of a small object (the writer fetched it)


@dataclass
class WorkflowView:
    index: int
    task_id: str
    workflow: str
    source: str | None
    testscript: str | None
    verdict: str
    invocation_id: str | None
    invocation_folder: str | None
    endpoint: str | None
    bucket: str | None
    platform: str | None
    started: float | None
    ended: float | None
    error: str | None
    state: str | None
    arguments: str | None
    functions: list
    edges: list
    testcases: list
    s3_objects: list
    s3_objects_total: int
    s3_bytes_total: int
    monitor: dict
    duration: float | None = None
    time_origin: float | None = None
    time_span: float = 0.0
    critical_path: list = field(default_factory=list)
    critical_seconds: float = 0.0
    status_counts: dict = field(default_factory=dict)
    partial: bool = False
    partial_reasons: list = field(default_factory=list)

    @property
    def bad(self):
        return self.verdict in BAD_VERDICTS

    @property
    def failing_functions(self):
        return [f for f in self.functions if f.bad]

    @property
    def failing_testcases(self):
        return [t for t in self.testcases if t.bad]

    @property
    def testcase_counts(self):
        """Results of the testcases (common setup/cleanup included), as pyATS's summary counts them."""
        counts = {}
        for t in self.testcases:
            if t.depth == 0:
                counts[t.result] = counts.get(t.result, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: _verdict_order(kv[0])))

    @property
    def notable_testcases(self):
        """Sections whose result is not a plain pass and that say why themselves: a failing
        testcase whose failing section is listed is not listed again."""
        bad_children = {t.parent for t in self.testcases if t.result != "passed" and t.parent}
        return [t for t in self.testcases if t.result != "passed" and t.name not in bad_children]

    @property
    def anchor(self):
        return f"wf-{self.index}"

    def function_anchor(self, label):
        """Where a link to function `label` goes: its log when there is one, else its row."""
        for i, f in enumerate(self.functions):
            if f.label == label:
                return f"log-{self.index}-{i}" if f.log is not None else f"fn-{self.index}-{i}"
        return None

    def object_anchor(self, key):
        for j, o in enumerate(self.s3_objects):
            if o.key == key:
                return f"obj-{self.index}-{j}"
        return None


@dataclass
class JobView:
    name: str
    started: float | None
    ended: float | None
    duration: float | None
    testbed: str | None
    archive: str | None
    complete: bool
    note: str | None
    verdict: str
    verdict_counts: dict
    status_counts: dict
    function_count: int
    monitor_requests: int
    monitor_bytes: int
    schema: object
    generated: float


@dataclass
class Report:
    job: JobView
    workflows: list
    scrub: Redactor
    warnings: list = field(default_factory=list)

    @property
    def partial(self):
        return not self.job.complete or any(w.partial for w in self.workflows)


# -- normalisation ---------------------------------------------------------------------------

def _num(value):
    """A finite float, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _int(value, default=None):
    number = _num(value)
    return int(number) if number is not None else default


def _str(value, scrub, limit=None):
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        value = json.dumps(scrub.redact_value(value), default=str)  # masked before it is serialized
    else:
        value = scrub.redact(str(value))
    if limit and len(value) > limit:
        value = value[:limit] + f"... ({len(value) - limit} more characters)"
    return value


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, (list, tuple)) else []


_LABEL_RE = re.compile(r"^(?P<action>.*?)\((?P<rank>\d+)\)$")


def _split_label(label):
    m = _LABEL_RE.match(label)
    if m:
        return m.group("action"), int(m.group("rank"))
    return label, None


def normalise(results, now=None):
    """Turn a faasr_results.json dict into a :class:`Report` (never raises on bad content)."""
    results = results if isinstance(results, dict) else {}
    scrub = report_redactor(results)
    warnings = []
    schema = results.get("schema")
    if schema not in (None, SCHEMA_VERSION):
        warnings.append(f"faasr_results.json has schema {schema!r}; this report understands schema "
                        f"{SCHEMA_VERSION} and shows what it recognises")
    job = _dict(results.get("job"))
    job_ended = _num(job.get("ended"))
    workflows = [_workflow(i, w, scrub, job_ended) for i, w in enumerate(_list(results.get("workflows")))
                 if isinstance(w, dict)]

    verdict_counts = {}
    status_counts = {}
    for w in workflows:
        verdict_counts[w.verdict] = verdict_counts.get(w.verdict, 0) + 1
        for status, n in w.status_counts.items():
            status_counts[status] = status_counts.get(status, 0) + n
    started = _num(job.get("started"))
    ended = job_ended
    if started is None:
        starts = [w.started for w in workflows if w.started is not None]
        started = min(starts) if starts else None
    if ended is None:
        ends = [w.ended for w in workflows if w.ended is not None]
        ended = max(ends) if ends else None
    complete = job.get("complete")
    complete = True if complete is None else bool(complete)
    note = _str(job.get("note"), scrub, 2000)
    verdict = job_verdict(verdict_counts, complete)
    view = JobView(
        name=_str(job.get("name"), scrub, 200) or "job",
        started=started, ended=ended,
        duration=(ended - started) if started is not None and ended is not None and ended >= started else None,
        testbed=_str(job.get("testbed"), scrub, 200),
        archive=_str(job.get("archive"), scrub, 1000),
        complete=complete, note=note, verdict=verdict,
        verdict_counts=dict(sorted(verdict_counts.items(), key=lambda kv: _verdict_order(kv[0]))),
        status_counts=dict(sorted(status_counts.items(), key=lambda kv: _status_order(kv[0]))),
        function_count=sum(len(w.functions) for w in workflows),
        monitor_requests=sum(_int(w.monitor.get("requests"), 0) for w in workflows),
        monitor_bytes=sum(_int(w.monitor.get("bytes_downloaded"), 0) for w in workflows),
        schema=schema,
        generated=time.time() if now is None else now,
    )
    return Report(job=view, workflows=workflows, scrub=scrub, warnings=warnings)


def job_verdict(verdict_counts, complete=True):
    """The job's verdict: the worst workflow verdict ("passed" only if every workflow passed)."""
    if not verdict_counts:
        return "passed" if complete else "errored"
    present = [v for v in VERDICTS if v in verdict_counts]
    unknown = [v for v in verdict_counts if v not in VERDICTS]
    bad = [v for v in present if v in BAD_VERDICTS]
    if bad:
        return bad[0]
    if unknown:
        return "errored"
    if set(present) <= {"passed", "passx"}:
        return "passed"
    return present[0]


def _verdict_order(verdict):
    return VERDICTS.index(verdict) if verdict in VERDICTS else -1


def _status_order(status):
    return STATUSES.index(status) if status in STATUSES else -1


def _workflow(index, w, scrub, job_ended=None):
    functions = []
    seen = set()
    for f in _list(w.get("functions")):
        if not isinstance(f, dict):
            continue
        fv = _function(f, scrub)
        if fv is None or fv.label in seen:
            continue
        seen.add(fv.label)
        functions.append(fv)
    edges = []
    for e in _list(w.get("edges")):
        if isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(x, str) for x in e):
            edges.append((e[0], e[1]))
        elif isinstance(e, dict) and isinstance(e.get("source"), str) and isinstance(e.get("target"), str):
            edges.append((e["source"], e["target"]))
    testcases = _testcases(_list(w.get("testcases")), scrub)
    objects = []
    total_bytes = 0
    raw_objects = [o for o in _list(w.get("s3_objects")) if isinstance(o, dict)]
    for o in raw_objects:
        size = _int(o.get("size"))
        total_bytes += size or 0
        preview = o.get("preview")
        objects.append(S3ObjectView(key=_str(o.get("key"), scrub, 1024) or "?", size=size,
                                    bucket=_str(o.get("bucket"), scrub, 200),
                                    preview=_str(preview, scrub, 4096) if isinstance(preview, str) else None))
    objects.sort(key=lambda o: o.key)
    monitor = {k: v for k, v in _dict(w.get("monitor")).items()
               if k in ("requests", "bytes_downloaded", "check_interval", "timed_out")}
    verdict = str(w.get("verdict") or "unknown").strip().lower()
    started = _num(w.get("started"))
    ended = _num(w.get("ended"))
    arguments = w.get("arguments")
    view = WorkflowView(
        index=index,
        task_id=_str(w.get("task_id"), scrub, 300) or f"task-{index + 1}",
        workflow=_str(w.get("workflow"), scrub, 300) or "?",
        source=_str(w.get("source"), scrub, 1000),
        testscript=_str(w.get("testscript"), scrub, 1000),
        verdict=verdict,
        invocation_id=_str(w.get("invocation_id"), scrub, 300),
        invocation_folder=_str(w.get("invocation_folder"), scrub, 1000),
        endpoint=_str(w.get("endpoint"), scrub, 500),
        bucket=_str(w.get("bucket"), scrub, 300),
        platform=_str(w.get("platform"), scrub, 100),
        started=started, ended=ended,
        error=_str(w.get("error"), scrub, 4000),
        state=_str(w.get("state"), scrub, 100),
        arguments=_str(arguments, scrub, 2000) if arguments not in (None, {}, []) else None,
        functions=functions, edges=edges, testcases=testcases,
        s3_objects=objects, s3_objects_total=len(objects), s3_bytes_total=total_bytes,
        monitor=monitor,
    )
    _timing(view, job_ended)
    view.critical_path, view.critical_seconds = critical_path(functions, edges)
    on_path = set(view.critical_path)
    for f in functions:
        f.critical = f.label in on_path
        view.status_counts[f.status] = view.status_counts.get(f.status, 0) + 1
        if f.log_key and view.bucket:
            f.log_location = f"s3://{view.bucket}/{f.log_key}"
        elif f.log_key:
            f.log_location = f.log_key
    view.status_counts = dict(sorted(view.status_counts.items(), key=lambda kv: _status_order(kv[0])))
    functions.sort(key=lambda f: (f.started_at is None, f.started_at or 0.0, f.label))
    _partial(view)
    return view


def _testcases(raw, scrub):
    out = []
    by_name = {}
    for t in raw:
        if not isinstance(t, dict):
            continue
        name = _str(t.get("name"), scrub, 300) or "?"
        depth = _int(t.get("depth"))
        parent = t.get("parent") if isinstance(t.get("parent"), str) else None
        if depth is None:  # older writers: the nesting is in the dotted name only
            depth = name.count(".")
            parent = name.rsplit(".", 1)[0] if "." in name else None
        view = TestcaseView(
            name=name, result=str(t.get("result") or "unknown").strip().lower(),
            reason=_str(t.get("reason"), scrub, 4000), message=_str(t.get("message"), scrub, 4000),
            location=_str(t.get("location"), scrub, 1000), code=_str(t.get("code"), scrub, 1000),
            traceback=_str(t.get("traceback"), scrub, 20000), duration=_num(t.get("duration")),
            depth=max(0, min(depth, 20)), section_type=_str(t.get("type"), scrub, 100),
            parent=_str(parent, scrub, 300),
            functions=[_str(x, scrub, 300) for x in _list(t.get("functions")) if isinstance(x, str)],
            objects=[_str(x, scrub, 1024) for x in _list(t.get("objects")) if isinstance(x, str)])
        if parent and parent in by_name:
            by_name[parent].children += 1
        by_name[name] = view
        out.append(view)
    return out


def _function(f, scrub):
    label = _str(f.get("label"), scrub, 300)
    if not label:
        return None
    action = _str(f.get("action"), scrub, 300)
    rank = _int(f.get("rank"))
    if not action:
        action, parsed_rank = _split_label(label)
        rank = rank if rank is not None else parsed_rank
    started = _num(f.get("started_at"))
    ended = _num(f.get("ended_at"))
    if started is not None and ended is not None and ended < started:
        ended = None  # clock skew between writers: do not draw a negative bar
    log = f.get("log")
    log = log if isinstance(log, str) else (None if log is None else str(log))
    return FunctionView(
        label=label, action=action, rank=rank,
        status=str(f.get("status") or "PENDING").strip().upper(),
        reason=_str(f.get("reason"), scrub, 4000),
        started_at=started, ended_at=ended,
        log_key=_str(f.get("log_key"), scrub, 1024),
        log=scrub.redact(log) if log is not None else None,
        log_truncated=bool(f.get("log_truncated")),
        log_bytes=len(log) if log else 0,
    )


def _timing(w, job_ended=None):
    """Offsets relative to the workflow's first function start.

    A function that started and never ended (a partial run) is drawn until the last
    known time: the workflow's end, else the job's end, else the latest time seen."""
    times = [t for f in w.functions for t in (f.started_at, f.ended_at) if t is not None]
    starts = [f.started_at for f in w.functions if f.started_at is not None]
    origin = min(starts) if starts else w.started
    if w.ended is not None:
        horizon = max([w.ended] + times)
    elif job_ended is not None:
        horizon = max([job_ended] + times)
    else:
        horizon = max(times) if times else None
    w.time_origin = origin
    if w.started is not None and w.ended is not None and w.ended >= w.started:
        w.duration = w.ended - w.started
    for f in w.functions:
        if f.started_at is None or origin is None:
            continue
        f.start_offset = f.started_at - origin
        if f.ended_at is not None:
            f.duration = f.ended_at - f.started_at
            f.end_offset = f.ended_at - origin
        else:
            f.open_ended = True
            end = horizon if horizon is not None and horizon >= f.started_at else f.started_at
            f.end_offset = end - origin
    ends = [f.end_offset for f in w.functions if f.end_offset is not None]
    w.time_span = max(ends) if ends else 0.0


def _partial(w):
    reasons = []
    unfinished = [f for f in w.functions if not f.final]
    if unfinished:
        reasons.append(f"{len(unfinished)} function(s) never reached a final status "
                       f"({', '.join(sorted({f.status for f in unfinished}))})")
    timeouts = [f for f in w.functions if f.status == "TIMEOUT"]
    if timeouts:
        reasons.append(f"{len(timeouts)} function(s) timed out")
    if w.monitor.get("timed_out"):
        reasons.append("the monitor timed out")
    if w.state and w.state not in ("finished",):
        reasons.append(f"the task ended in state {w.state}")
    if not w.functions:
        reasons.append("no function statuses were recorded")
    w.partial_reasons = reasons
    w.partial = bool(reasons)


# -- critical path ---------------------------------------------------------------------------

def critical_path(functions, edges):
    """The longest path through the instance graph, weighted by execution time.

    Nodes are function instances that started (`started_at` known); an action edge
    A -> B links every instance of A to every instance of B. A node's weight is its
    duration (end - start; for an instance that never ended, until the workflow's last
    known time). Returns ``(labels in order, total seconds)``; ``([], 0.0)`` when
    nothing ran. Cycles (not valid in FaaSr, but possible in bad data) are broken by
    ignoring the edges that close them.
    """
    nodes = [f for f in functions if f.started_at is not None]
    if not nodes:
        return [], 0.0
    weight = {}
    for f in nodes:
        if f.end_offset is not None and f.start_offset is not None:
            weight[f.label] = max(0.0, f.end_offset - f.start_offset)
        elif f.ended_at is not None:
            weight[f.label] = max(0.0, f.ended_at - f.started_at)
        else:
            weight[f.label] = 0.0
    by_action = defaultdict(list)
    for f in nodes:
        by_action[f.action].append(f.label)
    succ = defaultdict(set)
    indeg = {f.label: 0 for f in nodes}
    for a, b in edges:
        for u in by_action.get(a, ()):
            for v in by_action.get(b, ()):
                if u != v and v not in succ[u]:
                    succ[u].add(v)
                    indeg[v] += 1
    start_of = {f.label: f.started_at for f in nodes}
    # Kahn's algorithm; when stuck on a cycle, release the earliest-started node.
    order = []
    ready = sorted((n for n, d in indeg.items() if d == 0), key=lambda n: (start_of[n], n))
    remaining = dict(indeg)
    done = set()
    while len(order) < len(nodes):
        if not ready:
            rest = sorted((n for n in remaining if n not in done), key=lambda n: (start_of[n], n))
            ready = [rest[0]]
        node = ready.pop(0)
        if node in done:
            continue
        done.add(node)
        order.append(node)
        for v in sorted(succ[node]):
            if v in done:
                continue
            remaining[v] -= 1
            if remaining[v] == 0:
                ready.append(v)
    position = {n: i for i, n in enumerate(order)}
    best = {}
    prev = {}
    for node in order:
        if node not in best:
            best[node] = weight[node]
            prev.setdefault(node, None)
        for v in succ[node]:
            if position[v] <= position[node]:
                continue  # an edge closing a cycle
            candidate = best[node] + weight[v]
            if v not in best or candidate > best[v] + 1e-12:
                best[v] = candidate
                prev[v] = node
    end = max(order, key=lambda n: (best[n], -position[n]))
    path = []
    node = end
    while node is not None:
        path.append(node)
        node = prev.get(node)
    path.reverse()
    return path, best[end]
