"""Workflow loading and validation: every rule, every message names path and fix."""

import copy
import json

import pytest

from faasr_easypy.errors import ValidationError
from faasr_easypy.workflow import load_workflow, parse_workflow, validate

from .helpers import REPO
from .workflow_factory import action, workflow


def problems_of(data):
    return [str(p) for p in validate(data, "wf.json")]


def single_problem(data, *fragments):
    """Assert `data` has exactly one problem, containing every fragment."""
    found = problems_of(data)
    assert len(found) == 1, found
    for fragment in fragments:
        assert fragment in found[0], (fragment, found[0])
    assert "Fix:" in found[0]
    assert found[0].startswith("wf.json: ")
    return found[0]


def test_examples_are_valid():
    for name in ("data_pipeline", "conditional", "fan_out_fan_in", "failing_function"):
        wf = load_workflow(REPO / f"workflows/{name}.json")
        assert wf.entry in wf.actions


def test_valid_minimal_workflow_has_no_problems():
    assert problems_of(workflow({"start": action()})) == []


@pytest.mark.parametrize("key", ["WorkflowName", "FunctionInvoke", "DefaultDataStore", "ActionList",
                                 "ComputeServers", "DataStores"])
def test_each_required_key_is_reported(key):
    data = workflow({"start": action()})
    del data[key]
    found = problems_of(data)
    assert any(f"$.{key}: is missing" in p for p in found), found


def test_practical_keys_are_required():
    data = workflow({"start": action()})
    del data["FaaSrLog"], data["LoggingDataStore"]
    found = problems_of(data)
    assert any("$.FaaSrLog: is missing" in p for p in found)
    assert any("$.LoggingDataStore: is missing" in p for p in found)


def test_empty_faasrlog_is_allowed_and_means_faasrlog():
    data = workflow({"start": action()})
    data["FaaSrLog"] = ""
    assert parse_workflow(data).log_root == "FaaSrLog"


@pytest.mark.parametrize("name", ["1abc", "with space", "under_score", "dot.name", "../up", ""])
def test_bad_workflow_names(name):
    data = workflow({"start": action()})
    data["WorkflowName"] = name
    single_problem(data, "$.WorkflowName", "not a valid workflow name")


@pytest.mark.parametrize("name", ["9start", "has_underscore", "a/b", "a b"])
def test_bad_action_names(name):
    data = workflow({name: action()}, entry=name)
    single_problem(data, f"$.ActionList.{name}", "is not valid", "letter followed by letters")


@pytest.mark.parametrize("fname", ["9func", "with-dash", "a.b", "", 12])
def test_bad_function_names(fname):
    data = workflow({"start": action(function=fname)})
    single_problem(data, "$.ActionList.start.FunctionName", "not a valid function name")


def test_missing_function_name_and_server():
    spec = action()
    del spec["FunctionName"], spec["FaaSServer"]
    found = problems_of(workflow({"start": spec}))
    assert any("$.ActionList.start.FunctionName: is missing" in p for p in found)
    assert any("$.ActionList.start.FaaSServer: is missing" in p for p in found)


def test_unknown_compute_server_and_data_store():
    data = workflow({"start": action(server="Nowhere")})
    data["DefaultDataStore"] = "Missing"
    found = problems_of(data)
    assert any("names compute server 'Nowhere'" in p and "add 'Nowhere' to ComputeServers" in p for p in found)
    assert any("$.DefaultDataStore: names data store 'Missing'" in p for p in found)


@pytest.mark.parametrize("atype", ["python", "Go", "", 3])
def test_bad_action_type(atype):
    single_problem(workflow({"start": action(type=atype)}), "$.ActionList.start.Type",
                   "not a FaaSr function type")


def test_r_and_julia_types_are_valid():
    assert problems_of(workflow({"start": action(type="R", nxt=["b"]), "b": action(type="Julia")})) == []


def test_arguments_must_be_an_object_of_identifiers():
    single_problem(workflow({"start": action(args=[1, 2])}), "$.ActionList.start.Arguments", "is a JSON array")
    single_problem(workflow({"start": action(args={"not valid": 1})}),
                   "$.ActionList.start.Arguments.not valid", "keyword argument")


def test_invoke_next_unknown_target():
    single_problem(workflow({"start": action(nxt=["ghost"])}),
                   "$.ActionList.start.InvokeNext", "names action 'ghost'", "add 'ghost' to ActionList")


@pytest.mark.parametrize("item, fragment", [
    ("b(0)", "rank count '0'"),
    ("b(x)", "rank count 'x'"),
    ("b(2", "not an action reference"),
    ("b(-1)", "rank count '-1'"),
])
def test_invoke_next_bad_rank_syntax(item, fragment):
    found = problems_of(workflow({"start": action(nxt=[item]), "b": action()}))
    assert any(fragment in p and "InvokeNext[0]" in p for p in found), found


def test_invoke_next_must_be_array_of_names_or_one_object():
    found = problems_of(workflow({"start": action(nxt=[3]), "b": action()}))
    assert any("InvokeNext[0]: is a JSON number" in p for p in found)
    data = workflow({"start": action(nxt=[{"True": ["b"]}, {"False": ["c"]}]), "b": action(), "c": action()})
    assert any("second conditional object" in p for p in problems_of(data))
    data = workflow({"start": action(nxt=[{"Yes": ["b"]}]), "b": action()})
    assert any("InvokeNext[0].Yes: is not a branch name" in p for p in problems_of(data))
    data = workflow({"start": action(nxt={"b": 1}), "b": action()})
    assert any("$.ActionList.start.InvokeNext: is a JSON object" in p for p in problems_of(data))


def test_conditional_and_ranked_targets_parse():
    wf = parse_workflow(workflow({
        "start": action(nxt=["work(3)", {"True": ["yes"], "False": ["no"]}]),
        "work": action(), "yes": action(), "no": action()}))
    assert wf.rank_count("work") == 3 and wf.is_ranked("work")
    assert wf.instances("work") == [("work", 1), ("work", 2), ("work", 3)]
    assert [e.target for e in wf.taken_edges("start", True)] == ["work", "yes"]
    assert [e.target for e in wf.taken_edges("start", False)] == ["work", "no"]
    assert [e.target for e in wf.taken_edges("start", None)] == ["work"]
    assert wf.is_conditional_target("yes") and not wf.is_conditional_target("work")


def test_entry_must_be_the_only_root():
    data = workflow({"start": action(), "orphan": action()})
    single_problem(data, "$.ActionList", "'orphan'", "never invoked")


def test_entry_with_a_predecessor_is_rejected():
    data = workflow({"start": action(nxt=["b"]), "b": action()}, entry="b")
    found = problems_of(data)
    assert any("$.FunctionInvoke: names 'b', but 'start' invoke it" in p for p in found)


def test_function_invoke_must_exist():
    data = workflow({"start": action()}, entry="nothere")
    assert any("$.FunctionInvoke: 'nothere' is not an action" in p for p in problems_of(data))


def test_cycles_are_reported_with_their_path():
    data = workflow({"start": action(nxt=["a"]), "a": action(nxt=["b"]), "b": action(nxt=["a"])})
    found = problems_of(data)
    assert any("forms a cycle: a -> b -> a" in p for p in found), found


def test_self_loop_is_a_cycle():
    data = workflow({"start": action(nxt=["a"]), "a": action(nxt=["a"])})
    assert any("forms a cycle: a -> a" in p for p in problems_of(data))


def test_ranked_action_needs_a_single_predecessor():
    data = workflow({"start": action(nxt=["a", "w(2)"]), "a": action(nxt=["w"]), "w": action()})
    found = problems_of(data)
    assert any("runs 'w' with ranks, but 'w' has 2 predecessors" in p for p in found), found


def test_ranked_action_cannot_follow_a_ranked_action():
    data = workflow({"start": action(nxt=["a(2)"]), "a": action(nxt=["b(2)"]), "b": action()})
    assert any("which is itself ranked" in p for p in problems_of(data))


def test_mixed_conditional_and_unconditional_predecessors():
    data = workflow({"start": action(nxt=["a", {"True": ["j"]}]), "a": action(nxt=["j"]), "j": action()})
    found = problems_of(data)
    assert any("$.ActionList.j: is invoked both conditionally and unconditionally" in p for p in found)


def test_duplicate_successor():
    found = problems_of(workflow({"start": action(nxt=["a", "a"]), "a": action()}))
    assert any("names 'a' more than once" in p for p in found)


def test_fan_in_detection():
    wf = parse_workflow(workflow({"start": action(nxt=["a", "b"]), "a": action(nxt=["j"]),
                                  "b": action(nxt=["j"]), "j": action()}))
    assert wf.is_fan_in("j") and not wf.is_fan_in("a")
    wf = parse_workflow(workflow({"start": action(nxt=["w(4)"]), "w": action(nxt=["j"]), "j": action()}))
    assert wf.is_fan_in("j")
    assert wf.predecessor_instances("j") == [("w", 1), ("w", 2), ("w", 3), ("w", 4)]
    assert wf.downstream("start") == ["w", "j"]


@pytest.mark.parametrize("ftype, field", [("GitHubActions", "ActionRepoName"), ("Lambda", "Region"),
                                          ("OpenWhisk", "Namespace"), ("SLURM", "Partition")])
def test_compute_server_required_fields(ftype, field):
    data = workflow({"start": action()})
    data["ComputeServers"]["GH"] = {"FaaSType": ftype}
    found = problems_of(data)
    assert any(f"$.ComputeServers.GH.{field}: is missing (a {ftype} server needs it)" in p for p in found)


def test_unknown_faas_type():
    data = workflow({"start": action()})
    data["ComputeServers"]["GH"]["FaaSType"] = "Heroku"
    single_problem(data, "$.ComputeServers.GH.FaaSType", "'Heroku' is not a FaaSr compute type")


def test_data_store_fields():
    data = workflow({"start": action()})
    data["DataStores"]["S3"] = {"Endpoint": "ftp://x", "Bucket": ""}
    found = problems_of(data)
    assert any("$.DataStores.S3.Region: is missing" in p for p in found)
    assert any("$.DataStores.S3.Endpoint: 'ftp://x' is not an http(s) URL" in p for p in found)
    assert any("$.DataStores.S3.Bucket" in p for p in found)


def test_credentials_in_json_are_refused():
    data = workflow({"start": action()})
    data["DataStores"]["S3"]["SecretKey"] = "hunter2"
    data["ComputeServers"]["GH"]["Token"] = "ghp_x"
    found = problems_of(data)
    assert any("$.DataStores.S3.SecretKey: holds a credential" in p and "S3_SecretKey" in p for p in found)
    assert any("$.ComputeServers.GH.Token: holds a credential" in p and "GH_PAT" in p for p in found)
    assert not any("hunter2" in p or "ghp_x" in p for p in found)


def test_all_problems_reported_at_once():
    data = workflow({"start": action(function="9x", nxt=["ghost", "b(0)"]), "b": action(type="Go")})
    data["WorkflowName"] = "bad name"
    assert len(problems_of(data)) >= 4


def test_top_level_must_be_an_object():
    assert "top level is a JSON array" in problems_of([1, 2])[0]


def test_load_reports_file_errors(tmp_path):
    with pytest.raises(ValidationError, match="file not found"):
        load_workflow(tmp_path / "nope.json")
    with pytest.raises(ValidationError, match="is a folder"):
        load_workflow(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"WorkflowName": "x",\n "ActionList": {,}}')
    with pytest.raises(ValidationError, match=r"line 2 column \d+: is not valid JSON"):
        load_workflow(bad)
    bad.write_bytes(b'{"WorkflowName": "\xff\xfe"}')
    with pytest.raises(ValidationError, match="not valid UTF-8"):
        load_workflow(bad)
    bad.write_text("")
    with pytest.raises(ValidationError, match="not valid JSON"):
        load_workflow(bad)


def test_huge_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(11 * 1024 * 1024)
    with pytest.raises(ValidationError, match="larger than"):
        load_workflow(big)


def test_validation_error_message_names_file_and_count(tmp_path):
    path = tmp_path / "wf.json"
    data = workflow({"start": action(nxt=["ghost"])})
    path.write_text(json.dumps(data))
    with pytest.raises(ValidationError) as info:
        load_workflow(path)
    text = str(info.value)
    assert text.splitlines()[0] == f"{path} has 1 problem:"
    assert "$.ActionList.start.InvokeNext" in text


def test_deeply_nested_json_is_a_clear_error():
    deep = "[" * 100000 + "]" * 100000
    with pytest.raises(ValidationError):
        parse_workflow(deep.encode(), "deep.json")


def test_long_chain_validates_without_recursion_error():
    names = [f"a{i}" for i in range(3000)]
    actions = {n: action(nxt=[names[i + 1]] if i + 1 < len(names) else []) for i, n in enumerate(names)}
    wf = parse_workflow(workflow(actions, entry="a0"))
    assert len(wf.topological_order()) == 3000


def test_workflow_data_is_not_mutated_by_invocation():
    from faasr_easypy.invocation import Invocation

    data = workflow({"start": action(args={"x": 1})})
    original = copy.deepcopy(data)
    inv = Invocation(parse_workflow(data), argument_overrides={"start": {"x": 2}})
    assert inv.arguments("start") == {"x": 2}
    assert inv.payload()["ActionList"]["start"]["Arguments"] == {"x": 2}
    assert inv.payload()["InvocationID"] == inv.invocation_id
    assert data == original
