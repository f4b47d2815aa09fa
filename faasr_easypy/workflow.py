"""FaaSr 2.x workflow files: loading, validation, and the action graph.

A workflow is checked completely before anything runs, and every violation is
reported at once, each naming the file, the JSON path and the fix. The
:class:`Workflow` object then answers graph questions (successors,
predecessors, ranks, conditional edges, fan-in) for the backends, the monitor
and the report.
"""

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .errors import Problem, ValidationError

ACTION_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
INVOKE_ITEM = re.compile(r"^(?P<name>[^()\s]+)(?:\((?P<count>[^()]*)\))?$")

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
    "Local": (),  # faasr-easypy's own backend; never needed in shipped JSON
}
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
        return len(self.predecessor_instances(name)) > 1

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
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(source, [Problem(
                source, f"line {exc.lineno} column {exc.colno}", f"is not valid JSON ({exc.msg})",
                "correct the JSON syntax there (a missing comma, quote or bracket is the usual cause)")]) from None
        except RecursionError:
            raise ValidationError(source, [Problem(source, "", "nests JSON too deeply to read",
                                                   "flatten the structure")]) from None
    else:
        data = raw
    problems = validate(data, source)
    if problems:
        raise ValidationError(source, problems)
    return Workflow(data, source)


def validate(data, source="<workflow>") -> List[Problem]:
    """Every problem in the workflow `data`, in file order; empty when valid."""
    problems: List[Problem] = []

    def bad(path, message, fix):
        problems.append(Problem(source, path, message, fix))

    if not isinstance(data, dict):
        bad("$", f"the top level is a JSON {_json_type(data)}", "make the file one JSON object "
            "with WorkflowName, FunctionInvoke, ActionList, ComputeServers and DataStores")
        return problems

    for key in REQUIRED_KEYS:
        if key not in data:
            bad(f"$.{key}", "is missing", f"add \"{key}\" ({_REQUIRED_HINT[key]})")

    name = data.get("WorkflowName")
    if "WorkflowName" in data and not (isinstance(name, str) and ACTION_NAME.match(name)):
        bad("$.WorkflowName", f"{_show(name)} is not a valid workflow name",
            "use a letter followed by letters, digits or '-' (e.g. \"MyWorkflow\")")

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
                _check_store(dname, spec, bad)

    for key in ("DefaultDataStore", "LoggingDataStore"):
        if key not in data:
            if key == "LoggingDataStore":
                bad(f"$.{key}", "is missing (FaaSr needs it to know where logs go)",
                    "add \"LoggingDataStore\" naming one of DataStores, usually the DefaultDataStore")
            continue
        value = data[key]
        if not isinstance(value, str):
            bad(f"$.{key}", f"is {_describe(value)}", "make it the name of one of DataStores (a string)")
        elif store_names and value not in store_names:
            bad(f"$.{key}", f"names data store {value!r}, which DataStores does not define",
                f"use one of {_names(store_names)} or add {value!r} to DataStores")

    if "FaaSrLog" not in data:
        bad("$.FaaSrLog", "is missing (FaaSr needs it to name the log folder)",
            "add \"FaaSrLog\": \"FaaSrLog\" (an empty string also means FaaSrLog)")
    elif not isinstance(data["FaaSrLog"], str) or ".." in data["FaaSrLog"].split("/"):
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
        if not ACTION_NAME.match(aname):
            bad(path, f"action name {aname!r} is not valid",
                "use a letter followed by letters, digits or '-' (no '_', '.', '/' or spaces)")
        if not isinstance(spec, dict):
            bad(path, f"is {_describe(spec)}", "make each action an object with FunctionName, "
                "FaaSServer, Type, Arguments and InvokeNext")
            continue
        fname = spec.get("FunctionName")
        if "FunctionName" not in spec:
            bad(f"{path}.FunctionName", "is missing", "name the Python function this action calls")
        elif not (isinstance(fname, str) and FUNCTION_NAME.match(fname)):
            bad(f"{path}.FunctionName", f"{_show(fname)} is not a valid function name",
                "use a Python identifier: letters, digits and '_', not starting with a digit")
        server = spec.get("FaaSServer")
        if "FaaSServer" not in spec:
            bad(f"{path}.FaaSServer", "is missing", f"name one of ComputeServers ({_names(server_names)})")
        elif not isinstance(server, str):
            bad(f"{path}.FaaSServer", f"is {_describe(server)}", "make it the name of a compute server")
        elif server_names and server not in server_names:
            bad(f"{path}.FaaSServer", f"names compute server {server!r}, which ComputeServers does not define",
                f"use one of {_names(server_names)} or add {server!r} to ComputeServers")
        atype = spec.get("Type")
        if "Type" not in spec:
            bad(f"{path}.Type", "is missing", "add \"Type\": \"Python\" (or \"R\" / \"Julia\")")
        elif atype not in ACTION_TYPES:
            bad(f"{path}.Type", f"{_show(atype)} is not a FaaSr function type",
                "use \"Python\", \"R\" or \"Julia\"")
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
                f"use one of {_names(names)} or add {edge.target!r} to ActionList")
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
            bad("$.FunctionInvoke", f"{_show(entry)} is not an action in ActionList",
                f"set it to the first action of the workflow, one of {_names(names)}")
        elif preds[entry]:
            bad("$.FunctionInvoke", f"names {entry!r}, but {_names(e.source for e in preds[entry])} "
                "invoke it, so it cannot be the entry action",
                "make FunctionInvoke the one action that nothing invokes")
    if len(roots) > 1:
        others = [r for r in roots if r != entry]
        bad("$.ActionList", f"actions {_names(others)} are never invoked by another action",
            f"invoke them from an action reachable from {entry!r} (only FunctionInvoke may have no "
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
    if ftype not in FAAS_TYPES:
        bad(f"{path}.FaaSType", f"{_show(ftype)} is not a FaaSr compute type",
            f"use one of {_names(t for t in FAAS_TYPES if t != 'Local')}")
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
    if not isinstance(bucket, str) or not bucket:
        bad(f"{path}.Bucket", "is missing" if bucket is None else f"{_show(bucket)} is not a bucket name",
            "name the S3 bucket, e.g. \"faasr\"")
    if "Region" not in spec:
        bad(f"{path}.Region", "is missing (FaaSr needs it to build its S3 client)",
            "add \"Region\", e.g. \"us-east-1\"")
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
                    problems.append(Problem(source, f"{where}.{key}", "is not a branch name",
                                            "use only the keys \"True\" and \"False\""))
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
    match = INVOKE_ITEM.match(text.strip())
    if not match:
        problems.append(Problem(source, where, f"{text!r} is not an action reference",
                                "write \"name\" or \"name(N)\" with N a whole number"))
        return None
    name, count = match.group("name"), match.group("count")
    if count is None:
        return Edge(source_name, name, 1, False, condition)
    if not count.strip().isdigit() or int(count) < 1:
        problems.append(Problem(source, where, f"{text!r} has rank count {count!r}",
                                f"write \"{name}(N)\" with N a whole number of at least 1"))
        return None
    return Edge(source_name, name, int(count), True, condition)


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


def _json_type(value):
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "number", float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _describe(value):
    if isinstance(value, (dict, list)) and not value:
        return f"an empty {_json_type(value)}"
    return f"a JSON {_json_type(value)}"


def _show(value):
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _names(names):
    names = sorted(set(names))
    return ", ".join(repr(n) for n in names) if names else "(none)"
