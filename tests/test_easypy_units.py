"""The pyATS side without running a job: testbed loader, --faasr-arg and batches,
testscript pairing, plugin registration and arguments."""

import argparse
import textwrap
from pathlib import Path

import pytest

from faasr_easypy.easypy import jobs_api, plugin
from faasr_easypy.easypy import pyats_testbed as testbed
from faasr_easypy.easypy import records as task_records
from faasr_easypy.errors import UserError, ValidationError
from faasr_easypy.workflow import default_functions_dir, load_workflow

PROJECT = Path(__file__).resolve().parent.parent


def write_testbed(tmp_path, body):
    path = tmp_path / "tb.yaml"
    path.write_text(textwrap.dedent(body))
    return path


# -- testbeds ---------------------------------------------------------------------------

def test_shipped_testbeds_load():
    local = testbed.load_file(PROJECT / "testbeds" / "local.yaml")
    assert local.needs_embedded_s3 and local.is_local
    assert local.options == {"Timeout": 300.0, "CheckInterval": 0.5, "ActionTimeout": 600.0}
    builtin = testbed.load_builtin()
    assert builtin.builtin and builtin.needs_embedded_s3 and builtin.is_local
    wf = load_workflow(PROJECT / "workflows" / "fan_out_fan_in.json")
    resolved = local.resolve(wf)
    assert resolved.stores["My_S3_Bucket"].embedded
    assert resolved.computes["My_GitHub_Account"].faas_type == "Local"
    assert resolved.computes["My_GitHub_Account"].runtime == "local"
    real = testbed.load_file(PROJECT / "testbeds" / "faasr_py.yaml")
    assert real.is_local and real.resolve(wf).computes["My_GitHub_Account"].runtime == "faasr-py"


def test_github_example_names_missing_env_vars(monkeypatch):
    for var in ("My_S3_Bucket_AccessKey", "My_S3_Bucket_SecretKey", "My_GitHub_Account_PAT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValidationError) as info:
        testbed.load_file(PROJECT / "testbeds" / "github_actions_example.yaml")
    text = str(info.value)
    assert "devices.aws-s3.custom.faasr.AccessKey: is empty: the environment variable " \
           "My_S3_Bucket_AccessKey is not set. Fix: export My_S3_Bucket_AccessKey" in text
    assert "My_GitHub_Account_PAT" in text


def test_github_example_maps_to_the_github_backend(monkeypatch):
    monkeypatch.setenv("My_S3_Bucket_AccessKey", "a")
    monkeypatch.setenv("My_S3_Bucket_SecretKey", "s3cr3t-value")
    monkeypatch.setenv("My_GitHub_Account_PAT", "t0ken-value")
    tb = testbed.load_file(PROJECT / "testbeds" / "github_actions_example.yaml")
    assert not tb.needs_embedded_s3 and not tb.is_local
    store = tb.stores[0]
    assert (store.endpoint, store.bucket, store.access_key) == ("https://s3.us-east-1.amazonaws.com",
                                                                "my-faasr-bucket", "a")
    assert "s3cr3t-value" not in repr(store) and "t0ken-value" not in repr(tb.computes[0])
    assert sorted(tb.secrets()) == ["a", "s3cr3t-value", "t0ken-value"]
    tb.check_available()
    resolved = tb.resolve(load_workflow(PROJECT / "workflows" / "data_pipeline.json"))
    compute = resolved.computes["My_GitHub_Account"]
    assert compute.server() == {"FaaSType": "GitHubActions", "UserName": "my-github-user",
                                "ActionRepoName": "FaaSr-workflow", "Branch": "main", "UseSecretStore": True}
    assert compute.backend_options()["token"] == "t0ken-value"
    from faasr_easypy.backends.registry import backend_for
    backend = backend_for(load_workflow(PROJECT / "workflows" / "data_pipeline.json"), "My_GitHub_Account",
                          server=compute.server(), token=compute.backend_options()["token"])
    assert backend.platform == "GitHubActions"


def test_unsupported_compute_type_is_refused(tmp_path):
    path = write_testbed(tmp_path, """
        devices:
          hpc:
            os: linux
            type: faas
            connections: {}
            custom:
              faasr: {FaaSType: Kubernetes, Endpoint: "http://127.0.0.1:1", Token: t0ken-value}
          s3:
            os: linux
            type: s3
            connections: {}
            custom:
              faasr: {Embedded: true}
    """)
    tb = testbed.load_file(path)
    with pytest.raises(UserError, match="Kubernetes is not supported by faasr-easypy yet"):
        tb.check_available()


def test_testbed_mistakes_are_all_reported(tmp_path):
    path = write_testbed(tmp_path, """
        testbed:
          name: bad
          custom:
            faasr: {Timeout: -1, Colour: blue}
        devices:
          s3:
            os: linux
            type: s3
            connections: {}
            custom:
              faasr: {Endpoint: "ftp://x", Bucekt: b, DataStores: "*"}
          s3b:
            os: linux
            type: s3
            connections: {}
            custom:
              faasr: {Embedded: true, AccessKey: k}
          runner:
            os: linux
            type: faas
            connections: {}
            custom:
              faasr: {FaaSType: Lamda}
          plain:
            os: linux
            type: router
            connections: {}
            custom:
              faasr: {FaaSType: Local}
          nocustom:
            os: linux
            type: faas
            connections: {}
        """)
    with pytest.raises(ValidationError) as info:
        testbed.load_file(path)
    text = str(info.value)
    for expected in ("testbed.custom.faasr.Timeout: -1 is not a positive number of seconds",
                     "testbed.custom.faasr.Colour: is not a FaaSr testbed setting",
                     "devices.s3.custom.faasr.Endpoint: 'ftp://x' is not an http(s) URL",
                     "devices.s3.custom.faasr.Bucekt: is not a data store field",
                     "devices.s3.custom.faasr.AccessKey: is missing",
                     "devices.s3b.custom.faasr.AccessKey: is set on an Embedded data store",
                     "more than one device serves every name",
                     "devices.runner.custom.faasr.FaaSType: 'Lamda' is not a FaaSr compute type",
                     "devices.plain.type: is 'router', but the device has a custom: faasr: section",
                     "devices.nocustom.custom.faasr: is missing"):
        assert expected in text, expected
    assert text.startswith(f"{path} has ")


def test_testbed_mapping_by_name_and_wildcard(tmp_path):
    path = write_testbed(tmp_path, """
        testbed: {name: two}
        devices:
          main:
            os: linux
            type: s3
            connections: {}
            custom: {faasr: {Embedded: true}}
          archive:
            os: linux
            type: s3
            connections: {}
            custom: {faasr: {Endpoint: "http://127.0.0.1:9", AccessKey: a, SecretKey: s, Bucket: arch,
                             DataStores: [Archive]}}
          local:
            os: linux
            type: faas
            connections: {}
            custom: {faasr: {FaaSType: Local, ComputeServers: [My_GitHub_Account], MaxParallel: 3,
                             ActionMemoryMiB: 512}}
        """)
    tb = testbed.load_file(path)
    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    resolved = tb.resolve(wf)
    assert resolved.stores["My_S3_Bucket"].device == "main"
    assert resolved.max_parallel == 3
    assert resolved.action_memory_mib == 512  # reaches LocalBackend(action_memory_mib=) in place.make_backend
    data = wf.copy_data()
    data["DataStores"]["Archive"] = {"Endpoint": "", "Bucket": "archive-x", "Region": "us-east-1"}
    data["ComputeServers"]["Other"] = {"FaaSType": "Lambda", "Region": "us-east-1"}
    data["ActionList"]["above"]["FaaSServer"] = "Other"
    from faasr_easypy.workflow import parse_workflow

    with pytest.raises(ValidationError, match="has no compute server for 'Other'"):
        tb.resolve(parse_workflow(data))
    data["ActionList"]["above"]["FaaSServer"] = "My_GitHub_Account"
    resolved = tb.resolve(parse_workflow(data))
    assert resolved.stores["Archive"].device == "archive" and resolved.stores["Archive"].bucket == "arch"


RUNTIME_TESTBED = """
    testbed: {name: rt}
    devices:
      s3: {os: linux, type: s3, connections: {}, custom: {faasr: {Embedded: true}}}
      local: {os: linux, type: faas, connections: {}, custom: {faasr: {FaaSType: Local, Runtime: %s}}}
    """


def test_testbed_runtime_picks_the_faasr_py_backend(tmp_path):
    tb = testbed.load_file(write_testbed(tmp_path, RUNTIME_TESTBED % "faasr-py"))
    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    assert tb.resolve(wf).computes["My_GitHub_Account"].runtime == "faasr-py"
    default = testbed.load_file(write_testbed(tmp_path, RUNTIME_TESTBED.replace(", Runtime: %s", "")))
    assert default.resolve(wf).computes["My_GitHub_Account"].runtime == "local"


def test_testbed_runtime_mistakes_name_the_field(tmp_path):
    with pytest.raises(ValidationError, match=r"devices.local.custom.faasr.Runtime: 'docker' is not a "
                                              r"runtime. Fix: use one of local, faasr-py"):
        testbed.load_file(write_testbed(tmp_path, RUNTIME_TESTBED % "docker"))
    github = RUNTIME_TESTBED.replace("FaaSType: Local, Runtime: %s", "FaaSType: GitHubActions, "
                                     "UserName: u, ActionRepoName: r, Branch: main, Token: t, Runtime: faasr-py")
    with pytest.raises(ValidationError, match="Runtime: is set on a GitHubActions compute server"):
        testbed.load_file(write_testbed(tmp_path, github))


def test_no_testbed_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="testbed file not found"):
        testbed.load_file(tmp_path / "nope.yaml")


# -- arguments and batches ------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("create-input.count=50", ("create-input", "count", 50)),
    ("a.name=hello world", ("a", "name", "hello world")),
    ("a.flag=true", ("a", "flag", True)),
    ("a.values=[1,2]", ("a", "values", [1, 2])),
    ("a.x.y=1", ("a", "x.y", 1)),
])
def test_parse_faasr_arg(text, expected):
    assert jobs_api.parse_faasr_arg(text) == expected


@pytest.mark.parametrize("bad", ["count=5", "a.=5", ".k=5", "a.k"])
def test_parse_faasr_arg_rejects(bad):
    with pytest.raises(UserError, match="ACTION.KEY=VALUE"):
        jobs_api.parse_faasr_arg(bad)


def test_expand_batch():
    assert jobs_api.expand_batch({}) == [{}]
    assert jobs_api.expand_batch({"a": {"n": 1}}) == [{"a": {"n": 1}}]
    combos = jobs_api.expand_batch({"a": {"n": [1, 2], "m": "x"}, "b": {"k": [True, False]}})
    assert len(combos) == 4
    assert {"a": {"m": "x", "n": 2}, "b": {"k": True}} in combos
    assert jobs_api.expand_batch({"a": {"v": [[1, 2]]}}) == [{"a": {"v": [1, 2]}}]
    with pytest.raises(UserError, match="empty list"):
        jobs_api.expand_batch({"a": {"v": []}})


def test_testscript_pairing(tmp_path):
    assert jobs_api.find_testscript(PROJECT / "workflows" / "conditional.json") == \
        PROJECT / "testscripts" / "conditional.py"
    assert jobs_api.find_testscript(tmp_path / "workflows" / "other.json") == jobs_api.GENERIC_TESTSCRIPT
    assert default_functions_dir(PROJECT / "workflows" / "conditional.json", "ConditionalCheck") == \
        PROJECT / "workflows" / "functions" / "ConditionalCheck"


# -- the plugin ---------------------------------------------------------------------------------

def test_plugin_registration_dict():
    entry = plugin.plugin["plugins"]["FaasrPlugin"]
    assert entry["class"] is plugin.FaasrPlugin and entry["enabled"] is True
    assert entry["module"] == "faasr_easypy.easypy.plugin" and entry["name"] == "FaasrPlugin"


def test_plugin_arguments():
    parser = argparse.ArgumentParser()
    plugin.FaasrPlugin.configure_parser(parser)
    args = parser.parse_args(["--faasr-timeout", "60", "--faasr-parallel", "3", "--faasr-stream-logs",
                              "--faasr-arg", "a.b=1", "--faasr-arg", "c.d=[1,2]", "--faasr-keep-s3",
                              "--faasr-functions", "src", "--faasr-check-interval", "0.2"])
    assert (args.faasr_timeout, args.faasr_parallel, args.faasr_stream_logs, args.faasr_keep_s3) == (60, 3, True, True)
    assert args.faasr_arg == ["a.b=1", "c.d=[1,2]"] and args.faasr_functions == "src"
    with pytest.raises(SystemExit):
        parser.parse_args(["--faasr-parallel", "0"])


def test_default_config_applies_only_to_faasr_jobfiles(tmp_path):
    other = tmp_path / "other_job.py"
    other.write_text("def main(runtime):\n    pass\n")
    ours = PROJECT / "jobs" / "faasr_job.py"
    argv = ["pyats", "run", "job", str(ours), "--testbed-file", "x.yaml"]
    disabled = plugin.default_config_plugins(argv, environ={})
    assert disabled["EnvironmentDebugPlugin"] == {"enabled": False}
    assert disabled["HealthCheckPlugin:"] == {"enabled": False}
    assert plugin.default_config_plugins(["pyats", "run", "job", str(other)], environ={}) == {}
    assert plugin.default_config_plugins(argv, environ={"FAASR_EASYPY_DEFAULT_CONFIG": "0"}) == {}


def test_shipped_config_is_valid_for_easypy():
    from pyats.easypy.config.manager import Configuration

    config = Configuration()
    config.load(config=str(plugin.CONFIG_FILE), argv=[])
    for name in ("EnvironmentDebugPlugin", "TipsPlugin", "KleenexPlugin"):
        assert config.plugins[name]["enabled"] is False


# -- the generic testscript, run in-process by aetest with a stand-in tester ---------------------

class _FakeTester:
    def __init__(self, states):
        from faasr_easypy.monitor.statuses import FunctionState, Status

        self.statuses = {label: FunctionState(label, None, label, Status(status), reason=reason)
                         for label, (status, reason) in states.items()}

    def wait_all(self):
        return self.statuses

    def assert_object_exists(self, key):
        if "missing" in key:
            raise AssertionError(f"Expected S3 object {key!r} to exist, but it does not.")
        return key


def _run_generic(states, **params):
    from pyats import aetest

    wf = load_workflow(PROJECT / "workflows" / "conditional.json")
    result = aetest.main(testable=str(jobs_api.GENERIC_TESTSCRIPT), tester=_FakeTester(states), workflow=wf,
                         **params)
    return str(result)


def test_generic_testscript_passes_and_skips_branches_not_taken():
    states = {"check-threshold": ("COMPLETED", ""), "above": ("COMPLETED", ""),
              "below": ("NOT_INVOKED", "branch not taken")}
    assert _run_generic(states, expected_outputs=["conditional/{InvocationID}/above.txt"]) == "passed"


def test_generic_testscript_fails_on_failures_and_missing_outputs():
    ok = {"check-threshold": ("COMPLETED", ""), "above": ("COMPLETED", ""), "below": ("NOT_INVOKED", "")}
    assert _run_generic(ok, expected_outputs=["out/missing.txt"]) == "failed"
    failed = {"check-threshold": ("FAILED", "The function raised ValueError"), "above": ("SKIPPED", "upstream"),
              "below": ("SKIPPED", "upstream")}
    assert _run_generic(failed) == "failed"


# -- git information of testscripts ---------------------------------------------------------

def test_git_info_is_looked_up_once_per_file_and_inherited_by_forks(tmp_path, monkeypatch):
    import os
    import subprocess

    from pyats.aetest.reporter import aereport
    from pyats.reporter import utils

    from faasr_easypy.easypy import git_info

    script = tmp_path / "script.py"
    script.write_text("x = 1\n")
    for cmd in (["init", "-q"], ["add", "script.py"],
                ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one"]):
        subprocess.run(["git", *cmd], cwd=tmp_path, check=True)
    expected = utils.get_git_info.__wrapped__(str(script), "fresh")  # pyATS's own answer, uncached
    assert expected["git"]["file"] == "script.py" and expected["git"]["commit"]

    assert git_info.install()
    calls = []
    original = git_info._original
    monkeypatch.setattr(git_info, "_original", lambda *a: calls.append(a) or original(*a))
    monkeypatch.setattr(git_info, "_cache", {})
    git_info.warm(script)
    # aetest asks once per section, each with another source hash: git runs once.
    assert aereport.get_git_info(str(script), "hash-of-section-1") == expected
    assert aereport.get_git_info(str(script), "hash-of-section-2") == expected
    assert len(calls) == 1
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a task: inherits the answer
        aereport.get_git_info(str(script), "hash-in-task")
        os.write(w, str(len(calls)).encode())
        os._exit(0)
    os.close(w)
    assert os.read(r, 10) == b"1"
    os.waitpid(pid, 0)


def test_git_info_warm_leaves_no_git_process_behind(tmp_path, monkeypatch):
    """GitPython's `git cat-file` child would live to the end of the job, where pyATS
    waits for it before killing it: warm() reaps it at once."""
    import subprocess

    import psutil

    from faasr_easypy.easypy import git_info

    script = tmp_path / "script.py"
    script.write_text("x = 1\n")
    for cmd in (["init", "-q"], ["add", "script.py"],
                ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one"]):
        subprocess.run(["git", *cmd], cwd=tmp_path, check=True)
    assert git_info.install()
    monkeypatch.setattr(git_info, "_cache", {})
    monkeypatch.setattr(git_info, "_warmed", set())

    def git_children():
        return [p for p in psutil.Process().children() if p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE and "git" in p.name()]

    before = git_children()
    git_info.warm(script)
    assert git_info.get_git_info(str(script))["git"]["file"] == "script.py"
    assert git_children() == before


# -- a task's record ------------------------------------------------------------------------

def test_record_outputs_are_the_invocations_keys_outside_the_log_tree(s3_server):
    from types import SimpleNamespace

    from faasr_easypy.environment import S3Service
    from faasr_easypy.layout import InvocationLayout
    from faasr_easypy.s3.client import make_client

    store = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key).store("S3", "records")
    S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key).ensure_bucket(store)
    client = make_client(store)
    mine, other = "11111111-aaaa", "22222222-bbbb"
    layout = InvocationLayout("FaaSrLog", "WF", "2026-01-01T00-00-00", mine)
    keys = [f"out/{mine}/a.txt", f"out/{other}/a.txt", f"deep/er/{mine}/b.txt", f"top-{mine}.txt",
            layout.log_key("start", None), layout.done_key("start", None),
            f"FaaSrLog/WF/2026-01-01T00-00-00/{other}/start.txt"]
    for key in keys:
        client.put_object(Bucket="records", Key=key, Body=b"x")
    runner = SimpleNamespace(layout=layout, invocation_id=mine)
    found = task_records._outputs(client, {"S3": store}, runner)
    assert sorted(o["key"] for o in found) == [f"deep/er/{mine}/b.txt", f"out/{mine}/a.txt", f"top-{mine}.txt"]
    assert all(o["size"] == 1 and o["bucket"] == "records" for o in found)


# -- shared state -----------------------------------------------------------------------------

def test_a_task_publishes_from_its_own_copy_and_the_job_reads_before_writing():
    import multiprocessing
    import os

    from faasr_easypy.easypy.context import JobContext

    with multiprocessing.Manager() as manager:
        ctx = JobContext(testbed.load_builtin(), statuses=manager.dict())
        ctx.publish("t1", state="queued", functions={})
        pid = os.fork()
        if pid == 0:  # the task: its entry, change by change
            try:
                ctx.publish("t1", state="running")
                ctx.publish("t1", functions={"start": "RUNNING"})
                ctx.publish("t1", functions={"start": "COMPLETED"}, state="finished")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        seen = ctx.snapshot()["t1"]
        assert (seen["state"], seen["functions"]) == ("finished", {"start": "COMPLETED"})
        ctx.publish("t1", result="passed")  # the job process keeps what the task wrote
        seen = ctx.snapshot()["t1"]
        assert (seen["state"], seen["functions"], seen["result"]) == ("finished", {"start": "COMPLETED"}, "passed")


def test_shared_clients_are_one_per_store_and_settings_and_forks_open_their_own(s3_server):
    import os

    from faasr_easypy.environment import S3Service
    from faasr_easypy.s3.client import shared_client

    service = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    store = service.store("S3", "shared")
    service.ensure_bucket(store)
    client = shared_client(store)
    assert shared_client(service.store("Other", "shared")) is client  # same server and keys
    assert shared_client(store, max_attempts=1) is not client
    client.put_object(Bucket="shared", Key="k", Body=b"parent")
    pools = client._endpoint.http_session._manager.pools
    assert len(pools) == 1  # the parent holds a connection now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            inherited = len(client._endpoint.http_session._manager.pools)
            body = shared_client(store).get_object(Bucket="shared", Key="k")["Body"].read()
            os.write(w, f"{inherited} {body.decode()}".encode())
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 100) == b"0 parent"  # no inherited connection, and the client still works
    os.waitpid(pid, 0)
    assert client.get_object(Bucket="shared", Key="k")["Body"].read() == b"parent"


def test_the_job_lists_outputs_once_for_tasks_on_its_embedded_s3(s3_server, tmp_path):
    import json

    from faasr_easypy.easypy.context import JobContext
    from faasr_easypy.environment import S3Service
    from faasr_easypy.layout import InvocationLayout
    from faasr_easypy.s3.client import make_client

    service = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    for bucket in ("jobout", "jobout2"):
        service.ensure_bucket(service.store("S3", bucket))
    client = make_client(service.store("S3", "jobout"))
    ids = ["33333333-cccc", "44444444-dddd"]
    layouts = [InvocationLayout("FaaSrLog", "WF", "2026-01-01T00-00-00", i) for i in ids]
    for inv, layout in zip(ids, layouts, strict=True):
        for key in (f"out/{inv}/a.txt", layout.log_key("start", None), layout.done_key("start", None)):
            client.put_object(Bucket="jobout", Key=key, Body=b"xy")
    client.put_object(Bucket="jobout2", Key=f"more/{ids[1]}.csv", Body=b"z")
    records = {
        "t0": {"task_id": "t0", "invocation_id": ids[0], "invocation_folder": layouts[0].folder,
               "s3_objects": None, task_records.OUTPUT_BUCKETS: ["jobout"]},
        "t1": {"task_id": "t1", "invocation_id": ids[1], "invocation_folder": layouts[1].folder,
               "s3_objects": None, task_records.OUTPUT_BUCKETS: ["jobout", "jobout2"]},
        "t2": {"task_id": "t2", "invocation_id": None, "s3_objects": []},  # never started its workflow
    }
    ctx = JobContext(testbed.load_builtin())
    ctx.s3 = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    jobs_api.fill_outputs(records, ctx, tmp_path)
    folder = tmp_path / "faasr"
    assert records["t0"]["s3_objects"] == [{"key": f"out/{ids[0]}/a.txt", "size": 2, "bucket": "jobout"}]
    assert records["t1"]["s3_objects"] == [{"key": f"out/{ids[1]}/a.txt", "size": 2, "bucket": "jobout"},
                                           {"key": f"more/{ids[1]}.csv", "size": 1, "bucket": "jobout2"}]
    assert records["t2"]["s3_objects"] == [] and not (folder / "t2.json").exists()
    assert all(task_records.OUTPUT_BUCKETS not in r for r in records.values())
    assert json.loads((folder / "t1.json").read_text()) == records["t1"]  # the archive's copy too


@pytest.mark.parametrize("reported, state, interrupted, expected", [
    ("passed", "finished", False, "passed"),
    ("failed", "finished", False, "failed"),
    ("passed", "errored", False, "errored"),      # killed after max_runtime
    (None, "errored", False, "errored"),
    (None, "not started", True, "aborted"),
    (None, "interrupted", True, "aborted"),       # stopped before pyATS recorded anything
    ("errored", "interrupted", True, "aborted"),  # stopped while opening its workflow
    (None, "ended", True, "aborted"),             # the job was interrupted; no report
    (None, "ended", False, "errored"),            # no report and no interrupt: a crash, never a pass
    ("passed", "interrupted", True, "passed"),    # its testscript had finished
])
def test_task_verdicts_never_take_pyats_pre_start_default(reported, state, interrupted, expected):
    from faasr_easypy.easypy.plugin import _verdict

    assert _verdict(reported, state, interrupted) == expected


def test_default_config_is_named_for_pyats_only_in_a_faasr_run_without_one_of_the_users():
    ours = str(PROJECT / "jobs" / "faasr_job.py")
    plugins = {"TipsPlugin": {"enabled": False}}
    run = ["/venv/bin/pyats", "run", "job", ours]
    environ = {}
    assert plugin.name_default_config(plugins, run, environ)
    assert environ == {plugin.ENV_PYATS_CONFIG: str(plugin.CONFIG_FILE)}
    plugin.forget_default_config(environ)
    assert environ == {}
    for argv, env in ((run + ["-C", "mine.yaml"], {}), (run + ["--configuration=mine.yaml"], {}),
                      (run, {plugin.ENV_PYATS_CONFIG: "mine.yaml"}),
                      (["pytest", "tests/test_easypy_units.py", ours], {})):
        before = dict(env)
        assert not plugin.name_default_config(plugins, argv, env)
        plugin.forget_default_config(env)
        assert env == before  # the user's own variable stays
    assert not plugin.name_default_config({}, run, environ) and environ == {}
