"""A stand-in for GitHub's workflow_dispatch API on loopback, and a testbed that points at it.

GitHub cannot be reached from here, so the fake speaks its workflow_dispatch API
over real HTTP on 127.0.0.1, checks each request, answers 204 and then plays
GitHub's runner: it runs the dispatched action's workflow with the preset
InvocationID from OVERWRITTEN on the local backend. A harness pointed at it only
triggers and watches S3, exactly as it would against github.com.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.invocation import Invocation
from faasr_easypy.workflow import load_workflow

from .helpers import REPO, glob_files

PAT = "ghp_fakeTokenForLoopbackTests_0123456789"
EXAMPLES = REPO / "workflows"
WORKFLOWS = {load_workflow(p).name: p for p in glob_files(EXAMPLES, "*.json")}


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
        wf = load_workflow(EXAMPLES / workflow_file)
        stores = {name: self.s3.data_store(name) for name in wf.data["DataStores"]}
        backend = LocalBackend(EXAMPLES / "functions" / wf.name, stores)
        self.backends.append(backend)
        backend.trigger(Invocation(wf, invocation_id=overwritten["InvocationID"],
                                   timestamp=overwritten["InvocationTimestamp"]))

    def close(self):
        self.server.shutdown()
        for backend in self.backends:
            backend.close()


def github_testbed(path, s3, github):
    """Write a testbed YAML mapping My_S3_Bucket to `s3` and My_GitHub_Account to `github`
    (credentials through %ENV{}: see github_env); returns `path`."""
    path.write_text(f"""
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
    return path


def github_env(s3):
    """The variables github_testbed's %ENV{} references read."""
    return {"My_GitHub_Account_PAT": PAT, "My_S3_Bucket_AccessKey": s3.access_key,
            "My_S3_Bucket_SecretKey": s3.secret_key}
