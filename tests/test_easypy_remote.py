"""Switching the testbed: the same job runs on GitHub Actions and real S3.

GitHub is played by tests/fake_github.py on loopback; S3 is a SeaweedFS server
the test starts. The job only triggers and watches S3, as it would on github.com.
"""

import json

import pytest

from faasr_easypy.s3.server import EmbeddedS3Server

from .easypy_helpers import all_text, read_json, run_job
from .fake_github import PAT, WORKFLOWS, FakeGitHub, github_env, github_testbed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_faasr_job_on_a_github_actions_testbed(tmp_path):
    with EmbeddedS3Server() as s3:
        github = FakeGitHub(s3)
        try:
            testbed = github_testbed(tmp_path / "github.yaml", s3, github)
            env = github_env(s3)
            rc, out, archive, _ = run_job("jobs/faasr_job.py", "--testbed-file", testbed,
                                          "--archive-dir", tmp_path / "archives", env=env)
        finally:
            github.close()

    assert not github.errors
    assert len(github.dispatches) == len(WORKFLOWS), [d["path"] for d in github.dispatches]
    assert rc == 0, out[-5000:]
    for dispatch in github.dispatches:
        path, headers, body = dispatch["path"], dispatch["headers"], dispatch["body"]
        workflow_name = path.split("/actions/workflows/")[1].split("-")[0]
        assert path.startswith("/repos/faasr-user/FaaSr-workflow/actions/workflows/")
        assert path.endswith(".yml/dispatches") and workflow_name in WORKFLOWS
        assert headers["Accept"] == "application/vnd.github.v3+json"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert body["ref"] == "main"
        overwritten = json.loads(body["inputs"]["OVERWRITTEN"])
        assert set(overwritten) >= {"InvocationID", "InvocationTimestamp", "FunctionInvoke"}

    results = read_json(archive, "faasr_results.json")
    verdicts = {w["workflow"]: w["verdict"] for w in results["workflows"]}
    assert verdicts == {name: "passed" for name in WORKFLOWS}, verdicts
    assert {w["platform"] for w in results["workflows"]} == {"GitHubActions"}
    sent_ids = {json.loads(d["body"]["inputs"]["OVERWRITTEN"])["InvocationID"] for d in github.dispatches}
    assert {w["invocation_id"] for w in results["workflows"]} == sent_ids
    # the token and the S3 secret appear nowhere a person would read
    assert PAT not in out and s3.secret_key not in out
    text = all_text(archive)
    assert PAT not in text and s3.secret_key not in text
