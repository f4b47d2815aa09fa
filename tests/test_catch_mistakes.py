"""Issue 14's "Why" (bullets 2 and 3) and issue 20 item 8, each reproduced as a user meets it:
a typo in a flag, a key or a function folder is caught before minutes are spent, and input
that used to run away is refused. (Bullet 1, truthful results, is the
report's.) The bad-input corpus (tests/test_bad_input_corpus.py) has the many variants.
These tests import only what main already had, so each fails there on behaviour."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faasr_easypy.errors import ValidationError
from faasr_easypy.placement.testbed_file import load_file
from faasr_easypy.workflow import load_workflow

from .easypy_helpers import read_json, run_job, task_results

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = sorted((PROJECT / "workflows").glob("*.json"))
pytestmark = [pytest.mark.timeout(300), pytest.mark.reliability]


def cli(*args, timeout=120):
    return subprocess.run([str(BIN / "faasr-easypy"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


def example(name="fan_out_fan_in"):
    return json.loads((PROJECT / "workflows" / f"{name}.json").read_text())


def write_project(root, data, functions_from="FanOutFanIn", files=None):
    """root/workflow.json with its functions folder beside it (functions/<WorkflowName>/)."""
    path = root / "workflow.json"
    path.write_text(json.dumps(data, indent=2))
    folder = root / "functions" / data["WorkflowName"]
    shutil.copytree(PROJECT / "workflows" / "functions" / functions_from, folder)
    for rel, text in (files or {}).items():
        (folder / rel).write_text(text)
    return path, folder


# -- "typos are silently ignored" ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("argv, expected", [
    (["jobs/faasr_job.py", "--faasr-timout", "5"], "did you mean --faasr-timeout?"),
    (["jobs/regression_job.py", "--workflow-dir", "workflows"], "did you mean --workflows-dir?"),
    (["jobs/faasr_job.py", "--faasr-arg", "a.b=" + "[" * 50000 + "]" * 50000], "levels deep"),
    (["jobs/faasr_job.py", "--faasr-arg", "a.b=NaN"], "write a plain number"),
])
def test_pyats_refuses_a_mistyped_or_runaway_argument_before_any_task(argv, expected):
    rc, out, _, _ = run_job(*argv, "--no-archive", timeout=180)
    assert rc == 2, out[-3000:]
    assert expected in out and "Traceback" not in out
    assert "%FAASR_EASYPY-ERROR" in out
    assert "Task-" not in out and "faasr-easypy: workflow " not in out  # no task started


# -- "validate is weaker than FaaSr's own schema" --------------------------------------------

def test_misspelled_action_and_top_level_keys_are_refused_with_did_you_mean(tmp_path):
    data = example()
    data["ActionList"]["split"]["Argument"] = data["ActionList"]["split"].pop("Arguments")
    data["ActionList"]["square"]["InvokeNxt"] = data["ActionList"]["square"].pop("InvokeNext")
    data["FunctionInvok"] = data.pop("FunctionInvoke")
    path, _ = write_project(tmp_path, data)
    res = cli("validate", path)
    assert res.returncode == 2 and "OK -" not in res.stdout
    for line in ("$.ActionList.split.Argument: is not a key FaaSr's schema allows here. "
                 "Fix: did you mean 'Arguments'?",
                 "$.ActionList.square.InvokeNxt: is not a key FaaSr's schema allows here. "
                 "Fix: did you mean 'InvokeNext'?",
                 "$.FunctionInvoke: is missing, but $.FunctionInvok is there"):
        assert line in res.stderr, res.stderr
    # `run` used to start and fail with a Python TypeError; now the same words, before S3 starts.
    run = cli("run", path)
    assert run.returncode == 2
    assert "did you mean 'Arguments'?" in run.stderr
    assert "TypeError" not in run.stderr + run.stdout and "Traceback" not in run.stderr
    assert "S3:" not in run.stdout


@pytest.mark.parametrize("mistake, files, expected", [
    ("syntax error", {"fan.py": "import json\n\ndef split_work(folder, parts:\n    pass\n"},
     "fan.py:3: has a syntax error"),
    ("function defined nowhere", {"fan.py": "def split_work_renamed(folder, parts):\n    pass\n"},
     "$.ActionList.split.FunctionName: 'split_work' is defined in no .py file"),
    ("package not installed", {"extra.py": "import pandas_not_installed_here\n"},
     "extra.py:1: imports 'pandas_not_installed_here'"),
])
def test_validate_functions_finds_what_run_used_to_find_late_with_the_same_exit_code(
        tmp_path, mistake, files, expected):
    path, folder = write_project(tmp_path, example(), files=files)
    assert cli("validate", path).returncode == 0  # the JSON alone is right
    validate = cli("validate", path, "--functions", folder)
    run = cli("run", path, "--functions", folder)
    for res in (validate, run):
        assert res.returncode == 2, (mistake, res.stdout[-500:], res.stderr[-1500:])
        assert expected in res.stderr and "Traceback" not in res.stderr
    problem_lines = lambda text: [line for line in text.splitlines() if line.startswith("  - ")]
    assert problem_lines(validate.stderr) == problem_lines(run.stderr)  # the same words in both
    assert "S3:" not in run.stdout
    if mistake == "package not installed":
        assert "PyPIPackageDownloads" in validate.stderr and '["pandas_not_installed_here"]' in validate.stderr


def test_faas_type_local_lives_in_the_testbed_not_the_workflow(tmp_path):
    data = example()
    data["ComputeServers"]["My_GitHub_Account"] = {"FaaSType": "Local"}
    path, _ = write_project(tmp_path, data)
    res = cli("validate", path)
    assert res.returncode == 2
    assert "$.ComputeServers.My_GitHub_Account.FaaSType: 'Local' is faasr-easypy's" in res.stderr
    assert "custom: {faasr: {FaaSType: Local}}" in res.stderr
    # The shipped workflows use FaaSr's own types and still run on the local testbeds.
    ok = cli("validate", *EXAMPLES, "--functions")
    assert ok.returncode == 0 and ok.stdout.count("OK -") == len(EXAMPLES), ok.stderr
    for testbed in ("local.yaml", "faasr_py.yaml"):
        tb = load_file(PROJECT / "testbeds" / testbed)
        for wf_path in EXAMPLES:
            wf = load_workflow(wf_path)
            server = wf.actions[wf.entry].faas_server
            assert wf.data["ComputeServers"][server]["FaaSType"] != "Local"
            assert tb.resolve(wf).computes[server].faas_type == "Local", (testbed, wf_path)


def test_the_shipped_schema_is_the_pinned_faasr_py_copy_and_every_example_passes_it():
    from jsonschema import Draft202012Validator

    from faasr_easypy.schema import SCHEMA_FILE, SCHEMA_SHA256, schema, schema_digest

    assert schema_digest() == SCHEMA_SHA256
    assert SCHEMA_SHA256 in (SCHEMA_FILE.parent / "README.md").read_text()
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = Draft202012Validator(schema())
    for path in EXAMPLES:
        assert list(validator.iter_errors(json.loads(path.read_text()))) == [], path


def test_what_only_the_schema_knows_is_refused_in_its_words(tmp_path):
    data = example()
    data["ActionList"]["gather"]["MaxMemory"] = 0  # FaaSr's schema: minimum 1
    data["ActionList"]["gather"]["Resources"] = {"Nodes": "two"}
    path, _ = write_project(tmp_path, data)
    with pytest.raises(ValidationError) as info:
        load_workflow(path)
    text = str(info.value)
    assert "$.ActionList.gather.MaxMemory: 0 breaks FaaSr's schema" in text
    assert "$.ActionList.gather.Resources.Nodes: is a JSON string, FaaSr's schema wants an integer" in text


def test_the_pytest_fixture_checks_the_functions_before_it_triggers(faasr_workflow, tmp_path):
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "steps.py").write_text("def prepare(:\n    pass\n")
    with pytest.raises(ValidationError, match=r"steps.py:1: has a syntax error"):
        with faasr_workflow("workflows/failing_function.json", functions=folder):
            pytest.fail("the workflow was triggered")


# -- "the testscripts folder beside --workflows-dir is not found" -------------------------------

USER_TESTSCRIPT = '''\
from pyats import aetest


class UserCheck(aetest.Testcase):
    @aetest.test
    def published(self, tester):
        tester.wait_for("publish")
'''


@pytest.mark.slow
def test_regression_job_uses_the_testscripts_beside_workflows_dir_and_checks_functions_first(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(PROJECT / "workflows" / "data_pipeline.json", flows / "data_pipeline.json")
    shutil.copytree(PROJECT / "workflows" / "functions" / "DataPipeline", flows / "functions" / "DataPipeline")
    broken = example("data_pipeline")
    broken["WorkflowName"] = "BrokenPipeline"
    (flows / "broken.json").write_text(json.dumps(broken))
    shutil.copytree(PROJECT / "workflows" / "functions" / "DataPipeline", flows / "functions" / "BrokenPipeline")
    script = flows / "functions" / "BrokenPipeline" / "03_publish.py"
    script.write_text(script.read_text().replace("def publish", "def publish_it"))
    (tmp_path / "testscripts").mkdir()
    (tmp_path / "testscripts" / "data_pipeline.py").write_text(USER_TESTSCRIPT)

    rc, out, archive, _ = run_job("jobs/regression_job.py", "--workflows-dir", flows,
                                  "--archive-dir", tmp_path / "archives", timeout=240)
    assert archive is not None, out[-3000:]
    results = task_results(archive)
    # The user's own testscript (testscripts/ beside flows/), not the generic one.
    assert results["data_pipeline"]["result"] == "passed", results
    assert "UserCheck" in results["data_pipeline"]["sections"], results["data_pipeline"]
    # The broken workflow's missing function stopped it before anything was triggered.
    record = {w["task_id"]: w for w in read_json(archive, "faasr_results.json")["workflows"]}["broken"]
    assert "'publish' is defined in no .py file" in (record.get("error") or ""), record
    assert record.get("invocation_id") is None
    assert rc != 0


# -- issue 20 item 8: runaway input, task ids -------------------------------------------------

def _big_project(root, count=1000):
    data = example()
    data["WorkflowName"] = "Big"
    for action in data["ActionList"].values():
        action["FunctionName"], action["Arguments"] = "f", {}
    data["ActionList"]["split"]["InvokeNext"] = [f"square({count})"]
    data.pop("FunctionGitRepo")
    folder = root / "functions" / "Big"
    folder.mkdir(parents=True)
    (folder / "f.py").write_text("import time\n\n\ndef f():\n    time.sleep(0.2)\n")
    path = root / "big.json"
    path.write_text(json.dumps(data))
    return path


def test_a_repeat_count_beyond_what_faasr_can_run_is_refused_before_it_runs(tmp_path):
    path = _big_project(tmp_path, count=100000000)
    res = cli("run", path, "--timeout", "5", timeout=60)
    assert res.returncode == 2 and "from 1 to 1000" in res.stderr and "S3:" not in res.stdout


@pytest.mark.slow
def test_the_largest_allowed_fan_out_honours_timeout_and_ctrl_c(tmp_path):
    path = _big_project(tmp_path)
    res = cli("run", path, "--timeout", "5", timeout=150)  # was 447 s for --timeout 60 with w(20000)
    assert res.returncode == 1 and "Workflow Big timed out" in res.stdout, res.stdout[-1000:]
    proc = subprocess.Popen([str(BIN / "faasr-easypy"), "run", str(path), "--timeout", "120"], cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)  # S3 is up and the run is fanning out by now
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)  # Ctrl-C took about 5 minutes with w(20000)
    assert proc.returncode == 130, out[-1000:]
    assert "interrupted; everything it started has been stopped" in out


JOB_WITH_SLASH = '''\
from pathlib import Path

from faasr_easypy.easypy import WorkflowPool

PROJECT = Path({project!r})


def main(runtime):
    pool = WorkflowPool(runtime)
    pool.submit(PROJECT / "workflows" / "fan_out_fan_in.json", taskid="team/fan")
    pool.run()
'''


@pytest.mark.slow
def test_a_task_id_with_a_slash_runs_under_a_file_safe_id_without_a_phantom_task(tmp_path):
    job = tmp_path / "slash_job.py"
    job.write_text(JOB_WITH_SLASH.format(project=str(PROJECT)))
    rc, out, archive, _ = run_job(job, "--archive-dir", tmp_path / "archives", timeout=180)
    assert rc == 0, out[-3000:]
    results = task_results(archive)
    assert results == {"team_fan": results.get("team_fan")} and results["team_fan"]["result"] == "passed", results
    assert "runs as 'team_fan'" in out
