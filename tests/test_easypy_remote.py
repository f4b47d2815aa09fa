"""Switching the testbed: the same job runs on GitHub Actions and real S3.

GitHub cannot be reached from here, so a fake speaks its workflow_dispatch API
over real HTTP on 127.0.0.1, checks each request, answers 204 and then plays
GitHub's runner: it runs the dispatched action's workflow with the preset
InvocationID from OVERWRITTEN. The job only triggers and watches S3, exactly
as it would against github.com; S3 is a SeaweedFS server the test starts.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.invocation import Invocation
from faasr_easypy.s3.server import EmbeddedS3Server
from faasr_easypy.workflow import load_workflow

from .easypy_helpers import all_text, read_json, run_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PAT = "ghp_fakeTokenForLoopbackTests_0123456789"
WORKFLOWS = {load_workflow(p).name: p for p in Path("workflows").glob("*.json")}


class FakeGitHub:
    """workflow_dispatch on loopback; every accepted dispatch runs locally, like a runner would."""

    def __init__(self, s3):
        self.s3 = s3
        self.dispatches = []
        self.backends = []
        self.errors = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.dispatches.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.headers.get("Authorization") != f"token {PAT}":
                    self.send_response(401)
                    self.end_headers()
                    self.wfile.write(b'{"message": "Bad credentials"}')
                    return
                self.send_response(204)
                self.end_headers()
                try:
                    fake.run(body)
                except Exception as exc:  # shown by the test, not lost in this thread
                    fake.errors.append(f"{type(exc).__name__}: {exc}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def run(self, body):
        overwritten = json.loads(body["inputs"]["OVERWRITTEN"])
        workflow_file = body["inputs"]["PAYLOAD_URL"].rsplit("/", 1)[1]
        wf = load_workflow(Path("workflows") / workflow_file)
        stores = {name: self.s3.data_store(name) for name in wf.data["DataStores"]}
        backend = LocalBackend(Path("workflows/functions") / wf.name, stores)
        self.backends.append(backend)
        backend.trigger(Invocation(wf, invocation_id=overwritten["InvocationID"],
                                   timestamp=overwritten["InvocationTimestamp"]))

    def close(self):
        self.server.shutdown()
        for backend in self.backends:
            backend.close()


def test_faasr_job_on_a_github_actions_testbed(tmp_path):
    with EmbeddedS3Server() as s3:
        github = FakeGitHub(s3)
        try:
            testbed = tmp_path / "github.yaml"
            testbed.write_text(f"""
testbed:
  name: faasr-github-loopback
  custom:
    faasr: {{Timeout: 120, CheckInterval: 0.25}}
devices:
  bucket:
    os: linux
    type: s3
    connections: {{}}
    custom:
      faasr:
        Endpoint: {s3.endpoint}
        Region: us-east-1
        AccessKey: "%ENV{{My_S3_Bucket_AccessKey}}"
        SecretKey: "%ENV{{My_S3_Bucket_SecretKey}}"
        DataStores: [My_S3_Bucket]
  github:
    os: linux
    type: faas
    connections: {{}}
    custom:
      faasr:
        FaaSType: GitHubActions
        UserName: faasr-user
        ActionRepoName: FaaSr-workflow
        Branch: main
        UseSecretStore: true
        ApiUrl: {github.url}
        Token: "%ENV{{My_GitHub_Account_PAT}}"
        ComputeServers: [My_GitHub_Account]
""")
            env = {"My_GitHub_Account_PAT": PAT, "My_S3_Bucket_AccessKey": s3.access_key,
                   "My_S3_Bucket_SecretKey": s3.secret_key}
            rc, out, archive, _ = run_job("jobs/faasr_job.py", "--testbed-file", testbed,
                                          "--archive-dir", tmp_path / "archives", env=env)
        finally:
            github.close()

    assert not github.errors
    assert len(github.dispatches) == 4, [d["path"] for d in github.dispatches]
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
