"""Faults, signals and load in real `pyats run job` runs (issue 7).

Each case is a scenario of tests/reliability_scenarios.py (benchmarks/reliability.py
runs the same ones and prints a table): the job must end with a verdict for every
workflow, an archive and the HTML report, nothing left running or in its TMPDIR,
and none of the planted secrets in its output, archive, report or mail.
"""

import re

import pytest

from .reliability_scenarios import (
    FAULT_SCENARIOS,
    LOAD_COUNT,
    expected_load_verdict,
    load_scenario,
    run_scenario,
    signal_scenarios,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(900)]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def held(outcome):
    assert outcome.held, outcome.explain()
    return outcome


@pytest.mark.parametrize("scenario", signal_scenarios(), ids=lambda s: s.case)
def test_signal_at_a_random_moment(tmp_path, scenario):
    outcome = held(run_scenario(scenario, tmp_path))
    assert set(outcome.verdicts) == set(scenario.taskids)
    # interrupted or not, nothing is ERRORED: a task stopped while starting is aborted too
    assert set(outcome.verdicts.values()) <= {"passed", "aborted"}, outcome.explain()
    job = outcome.results["job"]
    if any(n.startswith(("SIGINT at", "SIGTERM at")) for n in outcome.notes) and not job["complete"]:
        assert job["note"].startswith("interrupted ("), job
        # every workflow that did not pass says why
        for taskid, verdict in outcome.verdicts.items():
            error = outcome.workflow(taskid).get("error")
            assert bool(error) == (verdict != "passed"), (taskid, verdict, error)
    if "SIGTERM" in scenario.tried and not job["complete"]:
        assert job["note"] == "interrupted (SIGTERM)", job


def test_s3_server_killed_and_restarted_mid_job(tmp_path):
    outcome = held(run_scenario(FAULT_SCENARIOS["s3-restart"](), tmp_path))
    assert outcome.notes == ["S3 SIGKILLed, back after 2 s"], outcome.explain()
    # an outage is not a failure: both workflows finish and pass
    assert outcome.verdicts == {"outage": "passed", "steady": "passed"}, outcome.explain()
    assert set(outcome.functions("outage")) == {"start", "middle", "end"}
    assert all(f["status"] == "COMPLETED" for f in outcome.functions("outage").values())


def test_worker_killed_during_a_job(tmp_path):
    outcome = held(run_scenario(FAULT_SCENARIOS["worker-killed"](), tmp_path))
    assert outcome.notes and outcome.notes[0].startswith("SIGKILL to the action process of victim"), outcome.notes
    assert outcome.verdicts == {"victim": "failed", "steady": "passed"}, outcome.explain()
    functions = outcome.functions("victim")
    assert functions["victim"]["status"] == "FAILED"
    assert "SIGKILL" in functions["victim"]["reason"], functions["victim"]
    assert functions["after"]["status"] == "SKIPPED"
    assert outcome.mails == 1, "the report mail was not sent"


def test_function_that_hangs_forever_times_out(tmp_path):
    outcome = held(run_scenario(FAULT_SCENARIOS["hang"](), tmp_path))
    assert outcome.verdicts == {"hang": "failed", "steady": "passed"}, outcome.explain()
    functions = outcome.functions("hang")
    assert functions["start"]["status"] == "TIMEOUT", functions
    assert functions["after"]["status"] in ("SKIPPED", "TIMEOUT"), functions


def test_function_filling_its_log_with_50_mb(tmp_path):
    outcome = held(run_scenario(FAULT_SCENARIOS["flood"](), tmp_path))
    assert outcome.verdicts == {"flood": "passed"}, outcome.explain()
    start = outcome.functions("flood")["start"]
    assert start["status"] == "COMPLETED" and start["log_truncated"] is True
    assert outcome.archive.stat().st_size < 20 * 1024 * 1024  # the archive keeps a cut, not 50 MB


def test_64_concurrent_invocations_see_only_their_own_objects(tmp_path):
    scenario = load_scenario()
    outcome = held(run_scenario(scenario, tmp_path))
    assert len(outcome.verdicts) == LOAD_COUNT
    assert outcome.verdicts == {t: expected_load_verdict(t) for t in scenario.taskids}, outcome.verdicts
    ids = {w["task_id"]: w["invocation_id"] for w in outcome.results["workflows"]}
    assert len(set(ids.values())) == LOAD_COUNT, "InvocationIDs are not unique"
    for taskid, iid in ids.items():
        workflow = outcome.workflow(taskid)
        # the only outputs holding this InvocationID are its own token ...
        assert [o["key"] for o in workflow["s3_objects"]] == [f"load/{iid}/token.txt"], workflow["s3_objects"]
        # ... its logs name no other invocation, and check read its own token
        for function in workflow["functions"]:
            assert set(UUID.findall(function["log"] or "")) <= {iid}, (taskid, function["label"])
        assert f"token matches {iid}" in outcome.functions(taskid)["check"]["log"]
    # each tester saw only its own objects (the testscript's assertion, per task)
    from .easypy_helpers import task_results

    for taskid, result in task_results(outcome.archive).items():
        assert result["tests"]["Isolation.sees_only_its_own_objects"][0] == "passed", (taskid, result)
        assert result["tests"]["Isolation.token_is_its_own"][0] == "passed", (taskid, result)
