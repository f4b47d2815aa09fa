"""FaaSr 2.x workflow files: loading, validation, and the action graph.

A workflow is checked completely before anything runs, and every violation is
reported at once, each naming the file, the JSON path and the fix. The
:class:`Workflow` object then answers graph questions (successors,
predecessors, ranks, conditional edges, fan-in) for the backends, the monitor
and the report.
"""

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import strict_json
from .errors import Problem, ValidationError, did_you_mean
from .errors import describe as _describe
from .errors import json_type as _json_type
from .errors import show as _show

# Used with fullmatch only: `$` in match() also matches before a trailing newline.
# An action's name (also a workflow's); a label is the name, or name(rank) for one rank.
ACTION_NAME_PATTERN = r"[a-zA-Z][a-zA-Z0-9-]*"
ACTION_NAME = re.compile(ACTION_NAME_PATTERN)
FUNCTION_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
INVOKE_ITEM = re.compile(r"(?P<name>[^()\s]+)(?:\((?P<count>[^()]*)\))?")
# S3's bucket naming rules (3-63 characters, lower case, digits, '.', '-'): nothing else is a
# bucket on AWS, MinIO or SeaweedFS, and nothing like "../x" reaches a path or a URL.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# FaaSr names each platform function "<WorkflowName>-<action>" and AWS Lambda allows 64
# characters for a function name: a longer name cannot be deployed, and ends TIMEOUT
# with no reason when it is tried.
MAX_NAME_LENGTH = 64
# One rank is one invocation on the platform (a GitHub Actions dispatch, a Lambda call)
# and one log and .done file to watch: 1000 is the fan-out the harness benchmarks
# (benchmarks/bench_local.py) and about what GitHub allows a repository per hour
# (1,000 API requests for GITHUB_TOKEN). w(100000000) used to grow a run to 9.7 GB.
MAX_RANKS = 1000
# The harness's own keys in a workflow file (FaaSr ignores unknown top-level keys).
HARNESS_KEYS = ("ExpectedOutputs",)

REQUIRED_KEYS = ("WorkflowName", "FunctionInvoke", "DefaultDataStore",
                 "ActionList", "ComputeServers", "DataStores")
ACTION_TYPES = ("Python", "R", "Julia")
# Fields each FaaSType needs before FaaSr can trigger anything on it.
FAAS_TYPES = {
    "GitHubActions": ("UserName", "ActionRepoName", "Branch"),
    "Lambda": ("Region",),
    "OpenWhisk": ("Endpoint", "Namespace"),
    "GoogleCloud": (),
    "SLURM": ("Endpoint", "UserName", "APIVersion", "Partition"),
    "Kubernetes": (),
}
# Where a compute server of this machine is declared: the testbed, never the workflow
# (FaaSr itself rejects FaaSType Local, so such a workflow could not run anywhere else).
LOCAL_FIX = ("use a FaaSr type in the workflow (e.g. GitHubActions) and run it here through a "
             "testbed device: `type: faas` with `custom: {faasr: {FaaSType: Local}}` "
             "(the built-in testbed does this for every compute server)")
# A workflow file larger than this is not a workflow; refuse before parsing.
MAX_WORKFLOW_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Edge:
    """One InvokeNext entry: `source` triggers `target`, `ranks` times.

    `condition` is None for an unconditional edge, else the return value
    (True or False) of `source` that takes it.
    """

    source: str
    target: str
    ranks: int = 1
    ranked: bool = False
    condition: Optional[bool] = None


@dataclass
class Action:
    name: str
    function_name: str
    type: str
    faas_server: str
    arguments: dict = field(default_factory=dict)
    edges: List[Edge] = field(default_factory=list)


class Workflow:
    """A validated FaaSr workflow and its action graph."""

    def __init__(self, data: dict, source="<workflow>"):
        self.data = data
        self.source = str(source)
        self.name = data["WorkflowName"]
        self.entry = data["FunctionInvoke"]
        self.actions: Dict[str, Action] = {}
        for name, spec in data["ActionList"].items():
            self.actions[name] = Action(
                name=name,
                function_name=spec["FunctionName"],
                type=spec.get("Type", "Python"),
                faas_server=spec["FaaSServer"],
                arguments=dict(spec.get("Arguments") or {}),
                edges=list(_parse_invoke_next(name, spec.get("InvokeNext", []), [])),
            )
        self._predecessors: Dict[str, List[Edge]] = {n: [] for n in self.actions}
        for action in self.actions.values():
            for edge in action.edges:
                self._predecessors[edge.target].append(edge)

    # -- graph -------------------------------------------------------------
    def successors(self, name) -> List[Edge]:
        """Every InvokeNext edge out of `name`, conditional or not."""
        return list(self.actions[name].edges)

    def taken_edges(self, name, result) -> List[Edge]:
        """The edges a run of `name` that returned `result` triggers.

        Unconditional edges are always taken; a conditional edge only when the
        function returned exactly True or False and that matches its branch.
        """
        return [e for e in self.actions[name].edges
                if e.condition is None or (isinstance(result, bool) and e.condition is result)]

    def has_conditions(self, name) -> bool:
        return any(e.condition is not None for e in self.actions[name].edges)

    def predecessors(self, name) -> List[Edge]:
        return list(self._predecessors[name])

    def rank_count(self, name) -> int:
        """How many ranks `name` runs with: N for `name(N)`, else 1."""
        for edge in self._predecessors[name]:
            if edge.ranked:
                return edge.ranks
        return 1

    def is_ranked(self, name) -> bool:
        return any(e.ranked for e in self._predecessors[name])

    def instances(self, name):
        """The (action, rank) pairs one run of `name` consists of; rank None if unranked."""
        if self.is_ranked(name):
            return [(name, r) for r in range(1, self.rank_count(name) + 1)]
        return [(name, None)]

    def predecessor_instances(self, name):
        """Every (action, rank) that must finish before `name` may run."""
        out = []
        for edge in self._predecessors[name]:
            out.extend(self.instances(edge.source))
        return out

    def is_fan_in(self, name) -> bool:
        # counted, not listed: the scheduler asks on every trigger, and a fan-in below `x(1000)`
        # would build its 1,000 predecessor instances each time
        return sum(self.rank_count(edge.source) for edge in self._predecessors[name]) > 1

    def is_conditional_target(self, name) -> bool:
        return any(e.condition is not None for e in self._predecessors[name])

    def topological_order(self) -> List[str]:
        order, seen = [], set()

        def visit(n):
            if n in seen:
                return
            seen.add(n)
            for p in self._predecessors[n]:
                visit(p.source)
            order.append(n)

        for n in self.actions:
            visit(n)
        return order

    def downstream(self, name) -> List[str]:
        """Every action reachable from `name` (not including it)."""
        out, stack = [], [e.target for e in self.actions[name].edges]
        while stack:
            n = stack.pop()
            if n not in out:
                out.append(n)
                stack.extend(e.target for e in self.actions[n].edges)
        return out

    # -- data --------------------------------------------------------------
    @property
    def log_root(self) -> str:
        return self.data.get("FaaSrLog") or "FaaSrLog"

    @property
    def default_data_store(self) -> str:
        return self.data["DefaultDataStore"]

    @property
    def logging_data_store(self) -> str:
        return self.data.get("LoggingDataStore") or self.data["DefaultDataStore"]

    def data_store(self, name=None) -> dict:
        return self.data["DataStores"][name or self.default_data_store]

    def function_sources(self, function_name) -> dict:
        """The code-location keys FaaSr reads for `function_name`."""
        out = {}
        for key in ("FunctionGitRepo", "FunctionLocalFile"):
            value = (self.data.get(key) or {}).get(function_name)
            if value:
                out[key] = value
        return out

    def copy_data(self) -> dict:
        return copy.deepcopy(self.data)

    def __repr__(self):
        return f"Workflow({self.name!r}, {len(self.actions)} actions)"


# -- loading ---------------------------------------------------------------

def default_functions_dir(workflow_path, workflow_name):
    """Where a workflow's functions are when no folder is given:
    workflows/<stem>.json -> workflows/functions/<WorkflowName>/."""
    return Path(workflow_path).resolve().parent / "functions" / workflow_name


def load_workflow(path) -> Workflow:
    """Read, parse and validate a workflow file; raise ValidationError on any problem."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValidationError(source, [Problem(source, "", "file not found",
                                               "give the path of a FaaSr workflow JSON file")]) from None
    except OSError as exc:
        raise ValidationError(source, [Problem(source, "", f"cannot read it ({exc.strerror})",
                                               "check the path and its permissions")]) from None
    if path.is_dir():
        raise ValidationError(source, [Problem(source, "", "is a folder, not a file",
                                               "give the path of the workflow JSON file inside it")])
    if size > MAX_WORKFLOW_BYTES:
        raise ValidationError(source, [Problem(
            source, "", f"is {size} bytes, larger than the {MAX_WORKFLOW_BYTES} bytes a workflow may have",
            "give a FaaSr workflow JSON file, not a data file")])
    return parse_workflow(path.read_bytes(), source)


def parse_workflow(raw, source="<workflow>") -> Workflow:
    """Parse workflow JSON from bytes, str or an already-decoded dict."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(source, [Problem(
                source, "", f"is not valid UTF-8 text (bad byte at offset {exc.start})",
                "save the workflow as UTF-8 JSON")]) from None
    if isinstance(raw, str):
        data = strict_json.loads(raw, source)  # duplicate keys, NaN, huge numbers, depth: refused
    else:
        data = raw
        strict_json.check_depth(data, source)  # a dict built in Python: only its depth can hurt
    problems = validate(data, source)
    if problems:
        raise ValidationError(source, problems)
    return Workflow(data, source)


def validate(data, source="<workflow>") -> List[Problem]:
    """Every problem in the workflow `data`: the graph checks below, then whatever else
    FaaSr's own schema (schema.py) finds; empty when valid."""
    problems = _graph_problems(data, source)
    if isinstance(data, dict):
        problems.extend(_top_level_typos(data, source))
    from .schema import UNKNOWN_KEY, schema_problems

    covered = {p.path for p in problems}
    renamed = {p.message.split(" ")[3] for p in problems if p.message.startswith("is missing, but ")}
    typos, others = [], []
    for problem in schema_problems(data, source):
        # One paragraph per mistake: the graph checks' wording wins where both found it.
        if problem.path in covered or problem.path in renamed or any(_inside(c, problem.path) for c in covered):
            continue
        covered.add(problem.path)
        (typos if problem.message == UNKNOWN_KEY else others).append(problem)
    # A misspelled key first: the graph problems after it are often its consequence.
    return typos + problems + others


def _inside(path, parent):
    return path.startswith(parent + ".") or path.startswith(parent + "[")


def _top_level_typos(data, source):
    """Unknown top-level keys that look like a FaaSr key: FaaSr ignores them silently."""
    from .schema import known_keys

    known = known_keys("top")
    out = []
    for key in data:
        if key in known or key in HARNESS_KEYS:
            continue
        near = did_you_mean(key, known)
        if near and not (near in REQUIRED_KEYS + ("LoggingDataStore", "FaaSrLog") and near not in data):
            out.append(Problem(source, f"$.{key}", "is not a key FaaSr knows (FaaSr ignores unknown "
                               "keys, so this setting would be lost)", f"did you mean {near!r}? Rename it"))
    return out


def _graph_problems(data, source):
    problems: List[Problem] = []

    def bad(path, message, fix):
        problems.append(Problem(source, path, message, fix))

    if not isinstance(data, dict):
        bad("$", f"the top level is a JSON {_json_type(data)}", "make the file one JSON object "
            "with WorkflowName, FunctionInvoke, ActionList, ComputeServers and DataStores")
        return problems

    def missing(key, hint):
        bad(f"$.{key}", *_missing("$", key, [k for k in data if k not in REQUIRED_KEYS], hint))

    for key in REQUIRED_KEYS:
        if key not in data:
            missing(key, f"add \"{key}\" ({_REQUIRED_HINT[key]})")

    name = data.get("WorkflowName")
    if "WorkflowName" in data and not _is_name(name, ACTION_NAME):
        bad("$.WorkflowName", f"{_show(name)} is not a valid workflow name",
            f"use a letter followed by letters, digits or '-', at most {MAX_NAME_LENGTH} characters "
            "(e.g. \"MyWorkflow\")")

    servers = data.get("ComputeServers")
    server_names = set()
    if "ComputeServers" in data:
        if not isinstance(servers, dict) or not servers:
            bad("$.ComputeServers", f"is {_describe(servers)}",
                "make it an object naming at least one compute server, e.g. "
                "{\"My_GitHub_Account\": {\"FaaSType\": \"GitHubActions\", ...}}")
        else:
            server_names = set(servers)
            for sname, spec in servers.items():
                _check_name(f"$.ComputeServers.{sname}", sname, "compute server", bad)
                _check_server(sname, spec, bad)

    stores = data.get("DataStores")
    store_names = set()
    if "DataStores" in data:
        if not isinstance(stores, dict) or not stores:
            bad("$.DataStores", f"is {_describe(stores)}",
                "make it an object naming at least one S3 data store with Endpoint, Bucket and Region")
        else:
            store_names = set(stores)
            for dname, spec in stores.items():
                _check_name(f"$.DataStores.{dname}", dname, "data store", bad)
                _check_store(dname, spec, bad)

    for key in ("DefaultDataStore", "LoggingDataStore"):
        if key not in data:
            if key == "LoggingDataStore":
                missing(key, "add \"LoggingDataStore\" naming one of DataStores, usually the DefaultDataStore")
            continue
        value = data[key]
        if not isinstance(value, str):
            bad(f"$.{key}", f"is {_describe(value)}", "make it the name of one of DataStores (a string)")
        elif store_names and value not in store_names:
            bad(f"$.{key}", f"names data store {value!r}, which DataStores does not define",
                _name_fix(value, store_names, "DataStores"))

    if "FaaSrLog" not in data:
        missing("FaaSrLog", "add \"FaaSrLog\": \"FaaSrLog\" (an empty string also means FaaSrLog)")
    elif not isinstance(data["FaaSrLog"], str) or ".." in data["FaaSrLog"].split("/") \
            or any(c in data["FaaSrLog"] for c in "\\\n\r\0") or data["FaaSrLog"].startswith("/"):
        bad("$.FaaSrLog", f"{_show(data['FaaSrLog'])} is not a usable S3 folder name",
            "use a plain folder name such as \"FaaSrLog\"")

    for key in ("InvocationID", "InvocationTimestamp"):
        value = data.get(key)
        if value not in (None, "") and (not isinstance(value, str) or "/" in value or ".." in value):
            bad(f"$.{key}", f"{_show(value)} cannot be part of an S3 folder name",
                f"remove {key} (the harness sets it) or use letters, digits and '-'")

    actions = data.get("ActionList")
    if "ActionList" not in data:
        return problems
    if not isinstance(actions, dict) or not actions:
        bad("$.ActionList", f"is {_describe(actions)}",
            "make it an object with at least one action: {\"start\": {\"FunctionName\": ..., "
            "\"FaaSServer\": ..., \"Type\": \"Python\"}}")
        return problems

    edges: List[Edge] = []
    for aname, spec in actions.items():
        path = f"$.ActionList.{aname}"
        if not _is_name(aname, ACTION_NAME):
            bad(path, f"action name {_show(aname)} is not valid",
                f"use a letter followed by letters, digits or '-' (no '_', '.', '/', spaces or newline), "
                f"at most {MAX_NAME_LENGTH} characters")
        if not isinstance(spec, dict):
            bad(path, f"is {_describe(spec)}", "make each action an object with FunctionName, "
                "FaaSServer, Type, Arguments and InvokeNext")
            continue
        fname = spec.get("FunctionName")
        if "FunctionName" not in spec:
            bad(f"{path}.FunctionName", *_missing(path, "FunctionName", spec, "name the function this action calls"))
        elif not _is_name(fname, FUNCTION_NAME):
            bad(f"{path}.FunctionName", f"{_show(fname)} is not a valid function name",
                "use a Python identifier: letters, digits and '_', not starting with a digit, "
                f"at most {MAX_NAME_LENGTH} characters")
        server = spec.get("FaaSServer")
        if "FaaSServer" not in spec:
            bad(f"{path}.FaaSServer", *_missing(path, "FaaSServer", spec,
                                                 f"name one of ComputeServers ({_names(server_names)})"))
        elif not isinstance(server, str):
            bad(f"{path}.FaaSServer", f"is {_describe(server)}", "make it the name of a compute server")
        elif server_names and server not in server_names:
            bad(f"{path}.FaaSServer", f"names compute server {server!r}, which ComputeServers does not define",
                _name_fix(server, server_names, "ComputeServers"))
        atype = spec.get("Type")
        if "Type" not in spec:
            bad(f"{path}.Type", *_missing(path, "Type", spec, "add \"Type\": \"Python\" (or \"R\" / \"Julia\")"))
        elif atype not in ACTION_TYPES:
            near = did_you_mean(atype, ACTION_TYPES)
            bad(f"{path}.Type", f"{_show(atype)} is not a FaaSr function type",
                (f"did you mean {near!r}? " if near else "") + "use \"Python\", \"R\" or \"Julia\"")
        args = spec.get("Arguments", {})
        if args is not None and not isinstance(args, dict):
            bad(f"{path}.Arguments", f"is {_describe(args)}",
                "make it an object of keyword arguments, e.g. {\"input\": \"data.csv\"}")
        elif isinstance(args, dict):
            for key in args:
                if not key.isidentifier():
                    bad(f"{path}.Arguments.{key}", "is not a valid Python keyword argument name",
                        "use letters, digits and '_', not starting with a digit")
        invoke_next = spec.get("InvokeNext", [])
        if invoke_next is None:
            invoke_next = []
        if isinstance(invoke_next, str):
            invoke_next = [invoke_next]
        if not isinstance(invoke_next, list):
            bad(f"{path}.InvokeNext", f"is {_describe(invoke_next)}",
                "make it an array such as [\"next\", \"work(3)\", {\"True\": [\"a\"], \"False\": [\"b\"]}]")
            continue
        item_problems: List[Problem] = []
        edges.extend(_parse_invoke_next(aname, invoke_next, item_problems, source, path))
        problems.extend(item_problems)

    names = set(actions)
    seen_edges = set()
    for edge in edges:
        if edge.target not in names:
            bad(f"$.ActionList.{edge.source}.InvokeNext",
                f"names action {edge.target!r}, which ActionList does not define",
                _name_fix(edge.target, names, "ActionList"))
        key = (edge.source, edge.target)
        if key in seen_edges:
            bad(f"$.ActionList.{edge.source}.InvokeNext", f"names {edge.target!r} more than once",
                "list each successor once (use name(N) to run it N times)")
        seen_edges.add(key)
    edges = [e for e in edges if e.target in names]

    preds: Dict[str, List[Edge]] = {n: [] for n in names}
    for edge in edges:
        preds[edge.target].append(edge)

    entry = data.get("FunctionInvoke")
    roots = [n for n in actions if not preds[n]]
    if "FunctionInvoke" in data:
        if not isinstance(entry, str) or entry not in names:
            near = did_you_mean(entry, names)
            bad("$.FunctionInvoke", f"{_show(entry)} is not an action in ActionList",
                (f"did you mean {near!r}? " if near else "")
                + f"set it to the first action of the workflow, one of {_names(names)}")
        elif preds[entry]:
            bad("$.FunctionInvoke", f"names {entry!r}, but {_names(e.source for e in preds[entry])} "
                "invoke it, so it cannot be the entry action",
                "make FunctionInvoke the one action that nothing invokes")
    if len(roots) > 1:
        others = [r for r in roots if r != entry]
        bad("$.ActionList", f"actions {_names(others)} are never invoked by another action",
            f"invoke them from an action reachable from {entry if isinstance(entry, str) else 'FunctionInvoke'!r} "
            "(only FunctionInvoke may have no "
            "predecessor) or remove them")
    elif not roots and edges:
        pass  # a cycle through every action; reported below

    for cycle in _find_cycles(names, edges):
        bad(f"$.ActionList.{cycle[0]}.InvokeNext", f"forms a cycle: {' -> '.join(cycle + [cycle[0]])}",
            "FaaSr workflows are acyclic; remove one of these InvokeNext entries")

    for name in sorted(names):
        incoming = preds[name]
        ranked = [e for e in incoming if e.ranked]
        if ranked and len(incoming) > 1:
            bad(f"$.ActionList.{ranked[0].source}.InvokeNext",
                f"runs {name!r} with ranks, but {name!r} has {len(incoming)} predecessors "
                f"({_names(e.source for e in incoming)})",
                "a ranked action must have exactly one predecessor; add a collecting action in between")
        for edge in ranked:
            if any(p.ranked for p in preds[edge.source]):
                bad(f"$.ActionList.{edge.source}.InvokeNext",
                    f"runs {name!r} with ranks from {edge.source!r}, which is itself ranked",
                    "put a fan-in action between two ranked actions")
        conditions = {e.condition is not None for e in incoming}
        if len(conditions) > 1:
            bad(f"$.ActionList.{name}",
                "is invoked both conditionally and unconditionally by its predecessors "
                f"({_names(e.source for e in incoming)})",
                "make every edge into it conditional or every edge unconditional")
    return problems


_REQUIRED_HINT = {
    "WorkflowName": "a name such as \"MyWorkflow\"",
    "FunctionInvoke": "the name of the first action to run",
    "DefaultDataStore": "the name of the S3 data store functions use by default",
    "ActionList": "an object of actions",
    "ComputeServers": "an object of compute servers, e.g. a GitHubActions account",
    "DataStores": "an object of S3 data stores with Endpoint, Bucket and Region",
}


def _check_server(name, spec, bad):
    path = f"$.ComputeServers.{name}"
    if not isinstance(spec, dict):
        bad(path, f"is {_describe(spec)}", "make it an object with at least \"FaaSType\"")
        return
    ftype = spec.get("FaaSType")
    if "FaaSType" not in spec:
        bad(f"{path}.FaaSType", *_missing(path, "FaaSType", spec, f"add \"FaaSType\", one of {_names(FAAS_TYPES)}"))
        return
    if ftype == "Local":
        bad(f"{path}.FaaSType", "'Local' is faasr-easypy's, not a FaaSr compute type (FaaSr rejects it)",
            LOCAL_FIX)
        return
    if ftype not in FAAS_TYPES:
        near = did_you_mean(ftype, FAAS_TYPES)
        bad(f"{path}.FaaSType", f"{_show(ftype)} is not a FaaSr compute type",
            (f"did you mean {near!r}? " if near else "") + f"use one of {_names(FAAS_TYPES)}")
        return
    for key in FAAS_TYPES[ftype]:
        if not spec.get(key):
            bad(f"{path}.{key}", f"is missing (a {ftype} server needs it)", f"add \"{key}\" to {name}")
    for key, value in spec.items():
        if key.lower() in ("token", "pat", "accesskey", "secretkey", "password") and value:
            bad(f"{path}.{key}", "holds a credential in the workflow file",
                f"remove it and set the environment variable {name}_PAT (or the store's "
                "_AccessKey/_SecretKey) instead; credentials never live in the JSON")


def _check_store(name, spec, bad):
    path = f"$.DataStores.{name}"
    if not isinstance(spec, dict):
        bad(path, f"is {_describe(spec)}", "make it an object with Endpoint, Bucket and Region")
        return
    bucket = spec.get("Bucket")
    if "Bucket" not in spec:
        bad(f"{path}.Bucket", *_missing(path, "Bucket", spec, "name the S3 bucket, e.g. \"faasr\""))
    elif not isinstance(bucket, str) or not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        bad(f"{path}.Bucket", f"{_show(bucket)} is not an S3 bucket name",
            "name the S3 bucket, e.g. \"faasr\": 3 to 63 lower-case letters, digits, '.' or '-', "
            "starting and ending with a letter or digit")
    if "Region" not in spec:
        bad(f"{path}.Region", *_missing(path, "Region", spec, "add \"Region\" (FaaSr needs it to build its S3 "
                                        "client), e.g. \"us-east-1\""))
    endpoint = spec.get("Endpoint", "")
    if endpoint not in ("", None) and not (isinstance(endpoint, str) and re.match(r"^https?://", endpoint)):
        bad(f"{path}.Endpoint", f"{_show(endpoint)} is not an http(s) URL",
            "use a URL such as \"https://s3.amazonaws.com\" or leave it empty for AWS")
    for key in ("AccessKey", "SecretKey"):
        if spec.get(key):
            bad(f"{path}.{key}", "holds a credential in the workflow file",
                f"remove it and set the environment variable {name}_{key} instead")


def _parse_invoke_next(source_name, items, problems, source="<workflow>", path=""):
    """Turn InvokeNext items into edges; add a Problem for each bad item."""
    seen_object = False
    if isinstance(items, str):
        items = [items]
    for index, item in enumerate(items or []):
        where = f"{path}.InvokeNext[{index}]"
        if isinstance(item, str):
            edge = _parse_target(source_name, item, None, problems, source, where)
            if edge:
                yield edge
        elif isinstance(item, dict):
            if seen_object:
                problems.append(Problem(source, where, "is a second conditional object",
                                        "merge all conditional successors into one "
                                        "{\"True\": [...], \"False\": [...]} object"))
                continue
            seen_object = True
            for key, targets in item.items():
                if key not in ("True", "False"):
                    near = did_you_mean(key, ("True", "False"))
                    problems.append(Problem(source, f"{where}.{key}", "is not a branch name",
                                            (f"did you mean {near!r}? " if near else "")
                                            + "use only the keys \"True\" and \"False\""))
                    continue
                if isinstance(targets, str):
                    targets = [targets]
                if not isinstance(targets, list):
                    problems.append(Problem(source, f"{where}.{key}", f"is {_describe(targets)}",
                                            "make it an array of action names"))
                    continue
                for j, target in enumerate(targets):
                    if not isinstance(target, str):
                        problems.append(Problem(source, f"{where}.{key}[{j}]", f"is {_describe(target)}",
                                                "make it an action name (a string)"))
                        continue
                    edge = _parse_target(source_name, target, key == "True", problems, source,
                                         f"{where}.{key}[{j}]")
                    if edge:
                        yield edge
        else:
            problems.append(Problem(source, where, f"is {_describe(item)}",
                                    "use an action name, \"name(N)\", or one "
                                    "{\"True\": [...], \"False\": [...]} object"))


def _parse_target(source_name, text, condition, problems, source, where):
    match = INVOKE_ITEM.fullmatch(text)
    if not match:
        problems.append(Problem(source, where, f"{text!r} is not an action reference",
                                "write \"name\" or \"name(N)\" with N a whole number (no spaces or newline)"))
        return None
    name, count = match.group("name"), match.group("count")
    if count is None:
        return Edge(source_name, name, 1, False, condition)
    # Digits only, and few of them: int() of a 20,000-digit count is itself an error.
    if not re.fullmatch(r"[0-9]{1,7}", count) or not 1 <= int(count) <= MAX_RANKS:
        problems.append(Problem(source, where, f"{_show(text)} has rank count {_show(count)}",
                                f"write \"{name}(N)\" with N a whole number from 1 to {MAX_RANKS} "
                                "(the most ranks FaaSr can run and the harness can watch)"))
        return None
    return Edge(source_name, name, int(count), True, condition)


def _missing(parent, key, present, hint):
    """(message, fix) for `key` missing from the object at `parent` that holds `present` keys:
    when one of them is a misspelling of it, the message names it and the fix is the rename."""
    near = did_you_mean(key, [k for k in present if isinstance(k, str)])
    if near:
        return f"is missing, but {parent}.{near} is there (did you mean \"{key}\"?)", f"rename {near!r} to \"{key}\""
    return "is missing", hint


def _is_name(value, pattern):
    return isinstance(value, str) and len(value) <= MAX_NAME_LENGTH and pattern.fullmatch(value) is not None


def _check_name(path, name, what, bad):
    """Compute server and data store names become environment variable names
    (<name>_PAT, <name>_AccessKey): letters, digits, '_' and '-' only."""
    if not (len(name) <= MAX_NAME_LENGTH and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name)):
        bad(path, f"{what} name {_show(name)} is not valid",
            f"use a letter followed by letters, digits, '_' or '-', at most {MAX_NAME_LENGTH} characters "
            f"(FaaSr reads its credentials from environment variables named after it)")


def _name_fix(name, names, section):
    """'did you mean ...?' and the choices, for a name that `section` does not define."""
    near = did_you_mean(name, names)
    return (f"did you mean {near!r}? If not, " if near else "") + \
        f"use one of {_names(names)} or add {name!r} to {section}"


def _find_cycles(names, edges):
    """One representative cycle per strongly connected loop, as a node list."""
    succ = {n: [] for n in names}
    for e in edges:
        succ[e.source].append(e.target)
    color = {n: 0 for n in names}
    cycles, stack = [], []

    def visit(start):
        # Iterative DFS: huge generated workflows must not hit the recursion limit.
        work = [(start, iter(succ[start]))]
        color[start] = 1
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                stack.pop()
                color[node] = 2
            elif color[child] == 1:
                cycles.append(stack[stack.index(child):])
            elif color[child] == 0:
                color[child] = 1
                stack.append(child)
                work.append((child, iter(succ[child])))

    for n in sorted(names):
        if color[n] == 0:
            visit(n)
    return cycles


def _names(names):
    names = sorted(set(names))
    return ", ".join(repr(n) for n in names) if names else "(none)"
