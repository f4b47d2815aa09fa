"""Bad input never crashes the harness: a generated corpus of malformed workflow
files plus a property-based fuzz run of the loader. Each bad file gives a
ValidationError naming the file, the JSON path and the fix; the command line
turns them into one paragraph per problem and a non-zero exit, no traceback."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faasr_easypy.errors import ValidationError
from faasr_easypy.workflow import load_workflow, parse_workflow

from .helpers import REPO

pytestmark = pytest.mark.reliability

BASE = json.loads((REPO / "workflows/fan_out_fan_in.json").read_text())
WRONG_VALUES = [None, 0, -1, 3.5, True, "", "x", "../../etc/passwd", [], [1], {}, {"a": 1}]
TOP_KEYS = ["WorkflowName", "FunctionInvoke", "DefaultDataStore", "LoggingDataStore", "FaaSrLog",
            "ActionList", "ComputeServers", "DataStores"]
ACTION_KEYS = ["FunctionName", "FaaSServer", "Type", "Arguments", "InvokeNext"]
BAD_INVOKE_ITEMS = ["", " ", "a(", "a()", "square(0)", "square(-2)", "square(1.5)", "square(x)",
                    "../gather", "gather/..", "gat her", "ghost", 42, None, [], ["gather"],
                    {"Maybe": ["gather"]}, {"True": "nowhere"}, {"True": [1]}, "square(5)(2)"]
BAD_NAMES = ["../escape", "a/b", "with space", "-lead", "9lead", "x" * 5000, "ünïcode", "dot.name", ""]


def _mutants():
    """(name, bytes) pairs: at least 200 malformed workflow files."""
    out = []

    def add(name, data):
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        out.append((name, raw))

    for key in TOP_KEYS:
        data = copy.deepcopy(BASE)
        del data[key]
        add(f"missing-{key}", data)
        for i, value in enumerate(WRONG_VALUES):
            data = copy.deepcopy(BASE)
            data[key] = value
            if (key == "FaaSrLog" and value == "") or (key in ("WorkflowName", "FaaSrLog") and value == "x"):
                continue  # valid values: "" means FaaSrLog, "x" is a fine name
            add(f"wrong-{key}-{i}", data)
    for key in ACTION_KEYS:
        for i, value in enumerate(WRONG_VALUES):
            data = copy.deepcopy(BASE)
            if (key == "Arguments" and isinstance(value, dict)) or (key == "Arguments" and value is None):
                continue  # any object of keyword arguments (or none) is valid
            if key == "FunctionName" and value == "x":
                continue
            if key == "InvokeNext" and value in ([], None):
                continue  # so is an empty InvokeNext on the last action
            data["ActionList"]["split"][key] = value
            add(f"action-{key}-{i}", data)
    for i, item in enumerate(BAD_INVOKE_ITEMS):
        data = copy.deepcopy(BASE)
        data["ActionList"]["square"]["InvokeNext"] = [item]
        add(f"invoke-next-{i}", data)
    for i, name in enumerate(BAD_NAMES):
        data = copy.deepcopy(BASE)
        data["ActionList"][name] = data["ActionList"].pop("gather")
        add(f"action-name-{i}", data)
        if name != "x" * 5000:  # a long identifier is still a valid function name
            data = copy.deepcopy(BASE)
            data["ActionList"]["gather"]["FunctionName"] = name
            add(f"function-name-{i}", data)
    # graph mistakes
    data = copy.deepcopy(BASE)
    data["ActionList"]["gather"]["InvokeNext"] = ["split"]
    add("cycle-back-to-entry", data)
    data = copy.deepcopy(BASE)
    data["ActionList"]["gather"]["InvokeNext"] = ["gather"]
    add("self-loop", data)
    data = copy.deepcopy(BASE)
    data["ActionList"]["lonely"] = copy.deepcopy(data["ActionList"]["gather"])
    add("second-root", data)
    data = copy.deepcopy(BASE)
    data["ActionList"]["other"] = dict(copy.deepcopy(data["ActionList"]["gather"]), InvokeNext=["square"])
    data["ActionList"]["split"]["InvokeNext"] = ["square(5)", "other"]
    add("ranked-with-two-predecessors", data)
    data = copy.deepcopy(BASE)
    data["ActionList"]["split"]["InvokeNext"] = ["square(5)", {"True": ["gather"]}]
    add("conditional-and-unconditional", data)
    data = copy.deepcopy(BASE)
    data["ActionList"]["square"]["InvokeNext"] = ["gather(2)"]
    add("ranked-after-ranked", data)
    # data stores and compute servers
    for i, value in enumerate([{"Bucket": "b"}, {"Region": "r"}, {"Endpoint": "ftp://x", "Bucket": "b", "Region": "r"},
                               {"Endpoint": 5, "Bucket": "b", "Region": "r"},
                               {"Bucket": "b", "Region": "r", "SecretKey": "s3cr3t-in-json"}]):
        data = copy.deepcopy(BASE)
        data["DataStores"]["My_S3_Bucket"] = value
        add(f"data-store-{i}", data)
    for i, value in enumerate([{"FaaSType": "Heroku"}, {"FaaSType": "GitHubActions"}, {"FaaSType": "Lambda"},
                               {"FaaSType": "OpenWhisk", "Endpoint": "e"}, {},
                               {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r",
                                "Branch": "main", "Token": "ghp_secret_in_json"}]):
        data = copy.deepcopy(BASE)
        data["ComputeServers"]["My_GitHub_Account"] = value
        add(f"compute-server-{i}", data)
    # raw text: syntax errors, encodings, sizes
    text = json.dumps(BASE, indent=2).encode()
    for cut in range(1, len(text), max(1, len(text) // 25)):
        add(f"truncated-{cut}", text[:cut])
    add("invalid-utf8", text.replace(b"FanOutFanIn", b"Fan\xff\xfeIn"))
    add("latin1", json.dumps(BASE, ensure_ascii=False).replace("split", "spl\u00eft").encode("latin-1"))
    add("empty", b"")
    add("whitespace", b"   \n\t ")
    add("nul-bytes", b"\x00" * 64)
    add("nan", text.replace(b'"parts": 5', b'"parts": NaN', 1)
        .replace(b'"WorkflowName": "FanOutFanIn"', b'"WorkflowName": NaN'))
    add("array-top-level", b"[1, 2, 3]")
    add("string-top-level", b'"workflow"')
    add("deep-nesting", b"[" * 50000 + b"]" * 50000)
    add("duplicate-comma", text.replace(b",", b",,", 1))
    add("yaml-not-json", b"WorkflowName: x\nActionList: {}\n")
    add("huge", b'{"WorkflowName": "' + b"x" * (11 * 1024 * 1024) + b'"}')
    return out


MUTANTS = _mutants()


def test_corpus_is_large_enough():
    assert len(MUTANTS) >= 200, len(MUTANTS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-workflows")
    paths = []
    for name, raw in MUTANTS:
        path = folder / f"{name}.json"
        path.write_bytes(raw)
        paths.append(path)
    return paths


def test_every_bad_file_gives_a_clear_validation_error(corpus):
    for path in corpus:
        with pytest.raises(ValidationError) as info:
            load_workflow(path)
        text = str(info.value)
        assert text.startswith(f"{path} has "), text[:200]
        for problem in info.value.problems:
            line = str(problem)
            assert line.startswith(str(path)), line
            assert ". Fix: " in line, line
            assert len(line) < 600, line[:300]  # one readable paragraph, even for a 5000-char name
        assert "s3cr3t-in-json" not in text and "ghp_secret_in_json" not in text


def test_the_command_line_rejects_the_whole_corpus_without_a_traceback(corpus):
    res = subprocess.run([str(Path(sys.executable).parent / "faasr-easypy"), "validate", *map(str, corpus)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2  # the exit code of every user mistake, as run gives
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    for path in corpus:
        assert f"{path} has " in res.stderr, path
    assert "OK -" not in res.stdout


def _json_values():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_values())
def test_fuzz_arbitrary_json_never_crashes_the_loader(value):
    try:
        parse_workflow(json.dumps(value), "fuzz.json")
    except ValidationError as exc:
        assert all(". Fix: " in str(p) for p in exc.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["top", "action", "invoke"]), st.sampled_from(TOP_KEYS + ACTION_KEYS),
                          _json_values()), min_size=1, max_size=4))
def test_fuzz_mutated_workflows_never_crash_the_loader(mutations):
    data = copy.deepcopy(BASE)
    # action-level mutations first: a later top-level one may replace ActionList itself
    for where, key, value in sorted(mutations, key=lambda m: m[0] == "top"):
        if where == "top":
            data[key] = value
        elif where == "action":
            data["ActionList"]["square"][key] = value
        else:
            data["ActionList"]["split"]["InvokeNext"] = [value]
    try:
        wf = parse_workflow(data, "fuzz.json")
    except ValidationError as exc:
        assert exc.problems and all(". Fix: " in str(p) for p in exc.problems)
        return
    # whatever validates must be usable by the rest of the harness
    for name in wf.topological_order():
        wf.instances(name)
        wf.predecessor_instances(name)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_crash_the_loader(raw):
    try:
        parse_workflow(raw, "bytes.json")
    except ValidationError:
        pass
