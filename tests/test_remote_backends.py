"""Contract tests of the remote trigger backends against loopback servers.

Each fake speaks one platform's API over real HTTP on 127.0.0.1 (GitHub's
workflow dispatch, Lambda's Invoke REST API through boto3, OpenWhisk's action
invocation), records every request, and answers what the test scripts,
including the platforms' error replies. Nothing here reaches the internet.
"""

import base64
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from faasr_easypy.backends.github_actions import GitHubActionsBackend
from faasr_easypy.backends.lambda_ import LambdaBackend
from faasr_easypy.backends.openwhisk import OpenWhiskBackend
from faasr_easypy.backends.registry import (
    LocalBackendRequired,
    backend_class,
    backend_for,
)
from faasr_easypy.errors import BackendError, UserError
from faasr_easypy.invocation import Invocation
from faasr_easypy.monitor.platforms import parse_invocation
from faasr_easypy.workflow import parse_workflow

pytestmark = pytest.mark.timeout(60)

PAT = "ghp_TESTtoken0123456789abcdefABCDEF0123"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OW_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
INVOCATION_ID = "0b5c8e9a-1111-4222-8333-944445555666"
TIMESTAMP = "2024-05-06T07-08-09"
GITHUB_DOCS = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"


# -- the loopback fake -------------------------------------------------------------------

class Recorded:
    def __init__(self, method, target, headers, body):
        parts = urlsplit(target)
        self.method = method
        self.path = parts.path
        self.query = parse_qs(parts.query)
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class FakePlatform:
    """An HTTP server on 127.0.0.1 that records requests and plays scripted replies."""

    def __init__(self):
        self.requests = []
        self.replies = []
        self.default = (204, {}, b"")
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
                    reply = fake.replies.pop(0) if fake.replies else fake.default
                if reply == "drop":  # close the connection without answering
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = reply
                delay = headers.pop("X-Test-Delay", None) if isinstance(headers, dict) else None
                if delay:
                    time.sleep(float(delay))
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json; charset=utf-8")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status not in (204, 304):
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if status not in (204, 304) and payload:
                    self.wfile.write(payload)

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a dropped connection is part of the script, not an error to print

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def reply(self, status, body=b"", headers=None):
        self.replies.append((status, dict(headers or {}), body))
        return self

    def drop(self):
        self.replies.append("drop")
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    platform = FakePlatform()
    yield platform
    platform.close()


@pytest.fixture(autouse=True)
def hermetic(monkeypatch, tmp_path):
    """No proxy, no AWS profile or endpoint from the developer's environment."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE",
                "FAASR_EASYPY_GITHUB_API", "FAASR_EASYPY_PAYLOAD_URL", "FAASR_EASYPY_LAMBDA_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- workflows ---------------------------------------------------------------------------

def make_workflow(entry_server="My_GitHub_Account", ow_endpoint="https://openwhisk.example.org"):
    return parse_workflow({
        "WorkflowName": "TestFlow",
        "FunctionInvoke": "start",
        "DefaultDataStore": "My_S3_Bucket",
        "LoggingDataStore": "My_S3_Bucket",
        "FaaSrLog": "FaaSrLog",
        "ComputeServers": {
            "My_GitHub_Account": {"FaaSType": "GitHubActions", "UserName": "faasr-user",
                                  "ActionRepoName": "FaaSr-workflow", "Branch": "main", "UseSecretStore": True},
            "My_Lambda_Account": {"FaaSType": "Lambda", "Region": "us-west-2", "UseSecretStore": True},
            "My_OW_Account": {"FaaSType": "OpenWhisk", "Endpoint": ow_endpoint, "Namespace": "guest",
                              "UseSecretStore": True},
            "My_Slurm": {"FaaSType": "SLURM", "Endpoint": "https://slurm.example.org", "UserName": "u",
                         "APIVersion": "v0.0.42", "Partition": "cpu"},
        },
        "DataStores": {"My_S3_Bucket": {"Endpoint": "https://s3.example.org", "Bucket": "faasr",
                                        "Region": "us-east-1"}},
        "ActionList": {
            "start": {"FunctionName": "start_fn", "FaaSServer": entry_server, "Type": "Python",
                      "Arguments": {"n": 1}, "InvokeNext": ["finish"]},
            "finish": {"FunctionName": "finish_fn", "FaaSServer": entry_server, "Type": "Python",
                       "Arguments": {}, "InvokeNext": []},
        },
    }, source="workflows/test_flow.json")


def make_invocation(wf, **kw):
    return Invocation(wf, invocation_id=INVOCATION_ID, timestamp=TIMESTAMP, **kw)


class Sleeps(list):
    """A stand-in for time.sleep that records the delays asked for."""

    def __call__(self, seconds):
        self.append(seconds)


def github(fake, environ=None, **kw):
    environ = {"My_GitHub_Account_PAT": PAT} if environ is None else environ
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("backoff", 0.5)
    return GitHubActionsBackend(make_workflow(), api_url=fake.url, environ=environ, **kw)


def error_of(backend, invocation=None):
    with pytest.raises(BackendError) as info:
        backend.trigger(invocation or make_invocation(backend.workflow))
    message = str(info.value)
    assert isinstance(info.value, UserError)
    return message


def assert_no_secret(*texts):
    for text in texts:
        for secret in (PAT, AWS_SECRET, OW_KEY, OW_KEY.split(":")[1],
                       base64.b64encode(OW_KEY.encode()).decode()):
            assert secret not in text


# -- GitHub Actions ----------------------------------------------------------------------

def test_github_dispatch_sends_what_faasr_sends(fake):
    backend = github(fake)
    result = backend.trigger(make_invocation(backend.workflow))

    assert result["status"] == 204 and result["workflow_file"] == "TestFlow-start.yml"
    assert backend.platform == "GitHubActions"
    [req] = fake.requests
    assert req.method == "POST"
    assert req.path == "/repos/faasr-user/FaaSr-workflow/actions/workflows/TestFlow-start.yml/dispatches"
    assert req.headers["Authorization"] == f"token {PAT}"
    assert req.headers["Accept"] == "application/vnd.github.v3+json"
    assert req.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert req.headers["Content-Type"] == "application/json"
    body = req.json()
    assert set(body) == {"ref", "inputs"} and body["ref"] == "main"
    assert set(body["inputs"]) == {"OVERWRITTEN", "PAYLOAD_URL"}
    assert isinstance(body["inputs"]["OVERWRITTEN"], str)  # a JSON *string*, as GitHub inputs are strings
    overwritten = json.loads(body["inputs"]["OVERWRITTEN"])
    assert overwritten == {"InvocationID": INVOCATION_ID, "InvocationTimestamp": TIMESTAMP,
                           "FunctionInvoke": "start"}
    assert body["inputs"]["PAYLOAD_URL"] == "faasr-user/FaaSr-workflow/main/test_flow.json"


def test_github_overwritten_carries_argument_overrides_and_no_credentials(fake):
    backend = github(fake)
    backend.trigger(make_invocation(backend.workflow, argument_overrides={"start": {"n": 7}}))
    overwritten = json.loads(fake.requests[0].json()["inputs"]["OVERWRITTEN"])
    # faasr-py replaces top-level keys with OVERWRITTEN's (no deep merge): the whole ActionList goes,
    # with the override applied, or the runtime loses the other actions (checked with faasr-py 2.1.0)
    assert overwritten["ActionList"] == dict(backend.workflow.data["ActionList"],
                                             start=dict(backend.workflow.data["ActionList"]["start"],
                                                        Arguments={"n": 7}))
    assert backend.workflow.data["ActionList"]["start"]["Arguments"] == {"n": 1}  # not modified
    assert "ComputeServers" not in overwritten and "DataStores" not in overwritten
    assert_no_secret(fake.requests[0].body.decode())


def test_github_can_trigger_another_action_and_payload_location_is_configurable(fake):
    backend = github(fake, payload_path="flows/TestFlow.json")
    backend.trigger(make_invocation(backend.workflow), action="finish")
    req = fake.requests[0]
    assert req.path.endswith("/TestFlow-finish.yml/dispatches")
    assert json.loads(req.json()["inputs"]["OVERWRITTEN"])["FunctionInvoke"] == "finish"
    assert req.json()["inputs"]["PAYLOAD_URL"] == "faasr-user/FaaSr-workflow/main/flows/TestFlow.json"

    other = github(fake, payload_url="someone/payloads/dev/x.json")
    other.trigger(make_invocation(other.workflow))
    assert fake.requests[1].json()["inputs"]["PAYLOAD_URL"] == "someone/payloads/dev/x.json"


def test_github_default_payload_path_is_workflow_name_when_not_from_a_file(fake):
    wf = parse_workflow(make_workflow().copy_data())  # source "<workflow>"
    backend = GitHubActionsBackend(wf, api_url=fake.url, environ={"My_GitHub_Account_PAT": PAT})
    backend.trigger(make_invocation(wf))
    assert fake.requests[0].json()["inputs"]["PAYLOAD_URL"] == "faasr-user/FaaSr-workflow/main/TestFlow.json"


def test_github_token_and_api_url_from_the_environment(fake):
    backend = GitHubActionsBackend(make_workflow(), environ={"GITHUB_TOKEN": "ghs_fallback0000",
                                                             "FAASR_EASYPY_GITHUB_API": fake.url + "/"})
    backend.trigger(make_invocation(backend.workflow))
    assert fake.requests[0].headers["Authorization"] == "token ghs_fallback0000"
    # <ServerName>_PAT wins over GITHUB_TOKEN
    backend = github(fake, environ={"GITHUB_TOKEN": "ghs_fallback0000", "My_GitHub_Account_PAT": PAT})
    backend.trigger(make_invocation(backend.workflow))
    assert fake.requests[1].headers["Authorization"] == f"token {PAT}"


def test_github_missing_token_fails_before_any_request(fake):
    with pytest.raises(BackendError) as info:
        github(fake, environ={"My_GitHub_Account_PAT": "   "})
    message = str(info.value)
    assert "set the environment variable My_GitHub_Account_PAT" in message
    assert "GITHUB_TOKEN" in message and "faasr-user/FaaSr-workflow" in message
    assert fake.requests == []


def test_github_token_with_a_line_break_is_refused_without_echoing_it(fake):
    with pytest.raises(BackendError) as info:
        github(fake, token="ghp_abc\ndef_secretpart")
    assert "secretpart" not in str(info.value) and "line break" in str(info.value)
    assert fake.requests == []


def test_github_401_bad_credentials(fake):
    fake.reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                     "status": "401"})
    backend = github(fake)
    message = error_of(backend)
    assert "HTTP 401" in message and "Bad credentials" in message
    assert "set the environment variable My_GitHub_Account_PAT" in message
    assert "TestFlow-start.yml" in message and "faasr-user/FaaSr-workflow" in message
    assert len(fake.requests) == 1 and backend._sleep == []  # never retried
    assert_no_secret(message)


def test_github_403_rate_limit_exhausted_is_explained_not_retried(fake):
    reset = int(time.time()) + 3000
    fake.reply(403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": GITHUB_DOCS},
               {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "5000",
                "X-RateLimit-Reset": str(reset), "X-RateLimit-Resource": "core"})
    backend = github(fake)
    message = error_of(backend)
    assert "rate limit" in message and "X-RateLimit-Remaining: 0" in message
    assert "HTTP 403" in message and "My_GitHub_Account_PAT" in message
    assert "run again after that time" in message
    assert len(fake.requests) == 1 and backend._sleep == []
    assert_no_secret(message)


def test_github_short_retry_after_is_honoured(fake):
    fake.reply(403, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before "
                                "you try again."}, {"Retry-After": "2"})
    fake.reply(204)
    backend = github(fake)
    backend.trigger(make_invocation(backend.workflow))
    assert backend._sleep == [2.0]
    assert len(fake.requests) == 2 and fake.requests[0].body == fake.requests[1].body


def test_github_repeated_short_rate_limits_use_up_the_retries(fake):
    for _ in range(5):
        fake.reply(429, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "1"})
    backend = github(fake, max_retries=2)
    message = error_of(backend)
    assert backend._sleep == [1.0, 1.0] and len(fake.requests) == 3
    assert "already waited 2 times" in message and "HTTP 429" in message


def test_github_retry_after_beyond_the_cap_gives_up_with_the_time(fake):
    fake.reply(429, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "3600"})
    backend = github(fake, retry_after_cap=30)
    message = error_of(backend)
    assert "secondary rate limit" in message and "retry after 3600 s" in message
    assert "longer than the 30 s" in message
    assert len(fake.requests) == 1 and backend._sleep == []


def test_github_404_names_repository_and_workflow_file(fake):
    fake.reply(404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"})
    message = error_of(github(fake))
    assert "HTTP 404" in message
    assert ".github/workflows/TestFlow-start.yml" in message
    assert "repository faasr-user/FaaSr-workflow" in message
    assert "private repository" in message
    assert_no_secret(message)


def test_github_422_without_workflow_dispatch_trigger(fake):
    fake.reply(422, {"message": "Workflow does not have 'workflow_dispatch' trigger",
                     "documentation_url": GITHUB_DOCS, "status": "422"})
    message = error_of(github(fake))
    assert "HTTP 422" in message and "Workflow does not have 'workflow_dispatch' trigger" in message
    assert ".github/workflows/TestFlow-start.yml" in message
    assert "on: workflow_dispatch:" in message and "OVERWRITTEN and PAYLOAD_URL" in message
    assert len(fake.requests) == 1


def test_github_422_unknown_branch_and_unexpected_inputs(fake):
    fake.reply(422, {"message": "No ref found for: main", "status": "422"})
    message = error_of(github(fake))
    assert "branch 'main' does not exist in faasr-user/FaaSr-workflow" in message
    fake.reply(422, {"message": "Unexpected inputs provided: [\"PAYLOAD_URL\"]", "status": "422"})
    message = error_of(github(fake))
    assert "inputs OVERWRITTEN and PAYLOAD_URL" in message


def test_github_500_then_204_is_retried_with_backoff(fake):
    fake.reply(500, {"message": "Server Error"})
    fake.reply(204)
    backend = github(fake)
    result = backend.trigger(make_invocation(backend.workflow))
    assert result["status"] == 204
    assert len(fake.requests) == 2
    assert fake.requests[0].body == fake.requests[1].body
    assert backend._sleep == [0.5]


def test_github_persistent_5xx_gives_up_after_bounded_retries(fake):
    for _ in range(10):
        fake.reply(502, b"<html>Bad Gateway</html>")
    backend = github(fake, max_retries=3)
    message = error_of(backend)
    assert len(fake.requests) == 4 and backend._sleep == [0.5, 1.0, 2.0]
    assert "HTTP 502" in message and "4 times" in message and "githubstatus" in message


def test_github_dropped_connection_is_retried(fake):
    fake.drop()
    fake.reply(204)
    backend = github(fake)
    backend.trigger(make_invocation(backend.workflow))
    assert len(fake.requests) == 2


def test_github_unreachable_api_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    sleeps = Sleeps()
    backend = GitHubActionsBackend(make_workflow(), api_url=f"http://127.0.0.1:{port}",
                                   environ={"My_GitHub_Account_PAT": PAT}, sleep=sleeps, max_retries=2)
    message = error_of(backend)
    assert f"Cannot reach the GitHub API at http://127.0.0.1:{port} after 3 attempts" in message
    assert len(sleeps) == 2
    assert_no_secret(message)


def test_github_read_timeout_is_not_retried(fake):
    fake.reply(204, b"", {"X-Test-Delay": "1.0"})
    backend = github(fake, timeout=(2.0, 0.2))
    message = error_of(backend)
    assert "did not answer within 0.2 s" in message and "may or may not" in message
    assert len(fake.requests) == 1


def test_github_token_never_in_logs_or_repr(fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.reply(401, {"message": "Bad credentials"})
    fake.reply(204)
    backend = github(fake)
    with pytest.raises(BackendError):
        backend.trigger(make_invocation(backend.workflow))
    backend.trigger(make_invocation(backend.workflow))
    assert_no_secret(caplog.text, repr(backend), str(vars(backend).get("token_source")))


def test_entry_server_must_use_the_secret_store(fake):
    data = make_workflow().copy_data()
    del data["ComputeServers"]["My_GitHub_Account"]["UseSecretStore"]
    wf = parse_workflow(data)
    with pytest.raises(BackendError) as info:
        GitHubActionsBackend(wf, api_url=fake.url, environ={"My_GitHub_Account_PAT": PAT})
    assert '"UseSecretStore": true' in str(info.value) and "My_GitHub_Account" in str(info.value)
    # a testbed's server may say so, and a caller may opt out
    GitHubActionsBackend(wf, server=dict(data["ComputeServers"]["My_GitHub_Account"], UseSecretStore=True),
                         api_url=fake.url, environ={"My_GitHub_Account_PAT": PAT})
    GitHubActionsBackend(wf, api_url=fake.url, environ={"My_GitHub_Account_PAT": PAT},
                         require_secret_store=False).trigger(make_invocation(wf))
    assert len(fake.requests) == 1


def test_github_missing_server_fields(fake):
    with pytest.raises(BackendError) as info:
        GitHubActionsBackend(make_workflow(), server={"FaaSType": "GitHubActions", "UserName": "u",
                                                      "UseSecretStore": True},
                             environ={"My_GitHub_Account_PAT": PAT})
    assert "ActionRepoName" in str(info.value) and "Branch" in str(info.value)


# -- AWS Lambda (boto3 against a loopback Lambda Invoke API) ----------------------------

def lam(fake, environ=None, **kw):
    environ = {"My_Lambda_Account_AccessKey": AWS_KEY, "My_Lambda_Account_SecretKey": AWS_SECRET} \
        if environ is None else environ
    kw.setdefault("max_retries", 0)
    return LambdaBackend(make_workflow("My_Lambda_Account"), endpoint_url=fake.url, environ=environ, **kw)


def test_lambda_invoke_sends_what_faasr_sends(fake):
    fake.default = (202, {}, b"")
    backend = lam(fake)
    result = backend.trigger(make_invocation(backend.workflow))

    assert result["status"] == 202 and result["function"] == "TestFlow-start"
    assert backend.platform == "Lambda"
    [req] = fake.requests
    assert req.method == "POST"
    assert req.path == "/2015-03-31/functions/TestFlow-start/invocations"
    assert req.headers["X-Amz-Invocation-Type"] == "Event"
    auth = req.headers["Authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/")
    assert "/us-west-2/lambda/aws4_request" in auth and "Signature=" in auth
    event = req.json()
    assert set(event) == {"OVERWRITTEN", "PAYLOAD_URL"}
    assert json.loads(event["OVERWRITTEN"]) == {"InvocationID": INVOCATION_ID, "InvocationTimestamp": TIMESTAMP,
                                                "FunctionInvoke": "start"}
    # Lambda actions still read the workflow JSON from the GitHub repository
    assert event["PAYLOAD_URL"] == "faasr-user/FaaSr-workflow/main/test_flow.json"
    assert_no_secret(req.body.decode(), json.dumps(req.headers))


def test_lambda_function_not_found(fake):
    fake.reply(404, {"Type": "User", "message": "Function not found: arn:aws:lambda:us-west-2:123456789012:"
                                                "function:TestFlow-start"},
               {"x-amzn-ErrorType": "ResourceNotFoundException", "x-amzn-RequestId": "r-1"})
    message = error_of(lam(fake))
    assert "no function TestFlow-start" in message and "ResourceNotFoundException" in message
    assert "Function not found" in message and "<WorkflowName>-<action>" in message
    assert_no_secret(message)


def test_lambda_access_denied(fake):
    fake.reply(403, {"Message": "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
                                "lambda:InvokeFunction on resource: TestFlow-start"},
               {"x-amzn-ErrorType": "AccessDeniedException"})
    message = error_of(lam(fake))
    assert "AccessDeniedException" in message and "lambda:InvokeFunction" in message
    assert "My_Lambda_Account_AccessKey" in message and "My_Lambda_Account_SecretKey" in message
    assert_no_secret(message)


def test_lambda_unrecognized_key(fake):
    fake.reply(403, {"message": "The security token included in the request is invalid."},
               {"x-amzn-ErrorType": "UnrecognizedClientException"})
    message = error_of(lam(fake))
    assert "does not accept the access key" in message and "UnrecognizedClientException" in message
    assert_no_secret(message)


def test_lambda_5xx_is_retried_by_the_client(fake):
    fake.reply(500, {"message": "Internal"}, {"x-amzn-ErrorType": "ServiceException"})
    fake.reply(202)
    backend = lam(fake, max_retries=2)
    assert backend.trigger(make_invocation(backend.workflow))["status"] == 202
    assert len(fake.requests) == 2


def test_lambda_missing_credentials_fail_before_any_request(fake):
    with pytest.raises(BackendError) as info:
        lam(fake, environ={"My_Lambda_Account_AccessKey": AWS_KEY})
    assert "My_Lambda_Account_AccessKey and My_Lambda_Account_SecretKey" in str(info.value)
    assert fake.requests == []


def test_lambda_standard_aws_variables_are_a_fallback(fake):
    fake.default = (202, {}, b"")
    backend = lam(fake, environ={"AWS_ACCESS_KEY_ID": "AKIAFALLBACK0000", "AWS_SECRET_ACCESS_KEY": "x" * 40})
    backend.trigger(make_invocation(backend.workflow))
    assert "Credential=AKIAFALLBACK0000/" in fake.requests[0].headers["Authorization"]


def test_lambda_needs_to_know_where_the_payload_is_published(fake):
    data = make_workflow("My_Lambda_Account").copy_data()
    del data["ComputeServers"]["My_GitHub_Account"]
    wf = parse_workflow(data)
    env = {"My_Lambda_Account_AccessKey": AWS_KEY, "My_Lambda_Account_SecretKey": AWS_SECRET}
    with pytest.raises(BackendError) as info:
        LambdaBackend(wf, endpoint_url=fake.url, environ=env)
    assert "FAASR_EASYPY_PAYLOAD_URL" in str(info.value) and "payload_url=" in str(info.value)
    backend = LambdaBackend(wf, endpoint_url=fake.url, environ=dict(env, FAASR_EASYPY_PAYLOAD_URL="o/r/b/p.json"))
    fake.default = (202, {}, b"")
    backend.trigger(make_invocation(wf))
    assert fake.requests[0].json()["PAYLOAD_URL"] == "o/r/b/p.json"


# -- OpenWhisk ---------------------------------------------------------------------------

def ow(fake, environ=None, **kw):
    environ = {"My_OW_Account_APIkey": OW_KEY} if environ is None else environ
    kw.setdefault("sleep", Sleeps())
    return OpenWhiskBackend(make_workflow("My_OW_Account", ow_endpoint=fake.url), environ=environ, **kw)


def test_openwhisk_invocation_sends_what_faasr_sends(fake):
    fake.default = (202, {}, {"activationId": "5f6a0c1e2b3d4e5f"})
    backend = ow(fake)
    result = backend.trigger(make_invocation(backend.workflow))

    assert result["status"] == 202 and result["activation_id"] == "5f6a0c1e2b3d4e5f"
    assert backend.platform == "OpenWhisk"
    [req] = fake.requests
    assert req.method == "POST"
    assert req.path == "/api/v1/namespaces/guest/actions/TestFlow-start"
    assert req.query["blocking"] == ["false"] and req.query["result"] == ["false"]
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(OW_KEY.encode()).decode()
    assert req.headers["Content-Type"] == "application/json"
    body = req.json()
    assert set(body) == {"OVERWRITTEN", "PAYLOAD_URL"}
    # on OpenWhisk OVERWRITTEN is an object, not a string (faasr_entry.py handle_ow)
    assert body["OVERWRITTEN"] == {"InvocationID": INVOCATION_ID, "InvocationTimestamp": TIMESTAMP,
                                   "FunctionInvoke": "start"}
    assert body["PAYLOAD_URL"] == "faasr-user/FaaSr-workflow/main/test_flow.json"


def test_openwhisk_401(fake):
    fake.reply(401, {"error": "The supplied authentication is invalid", "code": "aBcD"})
    message = error_of(ow(fake))
    assert "HTTP 401" in message and "The supplied authentication is invalid" in message
    assert "My_OW_Account_APIkey" in message
    assert_no_secret(message)


def test_openwhisk_404(fake):
    fake.reply(404, {"error": "The requested resource does not exist.", "code": "eFgH"})
    message = error_of(ow(fake))
    assert "no action TestFlow-start in namespace 'guest'" in message and "HTTP 404" in message
    assert_no_secret(message)


def test_openwhisk_5xx_then_202(fake):
    fake.reply(503, {"error": "Service Unavailable"})
    fake.reply(202, {"activationId": "a1"})
    backend = ow(fake)
    assert backend.trigger(make_invocation(backend.workflow))["activation_id"] == "a1"
    assert len(fake.requests) == 2 and len(backend._sleep) == 1


def test_openwhisk_key_lookup_and_shape(fake):
    fake.default = (202, {}, {"activationId": "a"})
    backend = ow(fake, environ={"My_OW_Account_API_KEY": OW_KEY})
    backend.trigger(make_invocation(backend.workflow))
    assert fake.requests[0].headers["Authorization"].startswith("Basic ")
    with pytest.raises(BackendError) as info:
        ow(fake, environ={"My_OW_Account_APIkey": "no-colon-in-this-key"})
    assert "user:password" in str(info.value) and "no-colon" not in str(info.value)
    with pytest.raises(BackendError) as info:
        ow(fake, environ={})
    assert "My_OW_Account_APIkey" in str(info.value)
    assert len(fake.requests) == 1


# -- the registry ------------------------------------------------------------------------

def test_registry_picks_the_backend_from_the_entry_servers_faastype(fake):
    env = {"My_GitHub_Account_PAT": PAT, "My_Lambda_Account_AccessKey": AWS_KEY,
           "My_Lambda_Account_SecretKey": AWS_SECRET, "My_OW_Account_APIkey": OW_KEY}
    gh = backend_for(make_workflow(), environ=env, api_url=fake.url)
    lb = backend_for(make_workflow("My_Lambda_Account"), environ=env, endpoint_url=fake.url)
    wb = backend_for(make_workflow("My_OW_Account"), environ=env)
    assert (type(gh), type(lb), type(wb)) == (GitHubActionsBackend, LambdaBackend, OpenWhiskBackend)
    assert (gh.platform, lb.platform, wb.platform) == ("GitHubActions", "Lambda", "OpenWhisk")
    # an explicit server name, and a testbed's override of the server
    assert isinstance(backend_for(make_workflow(), "My_OW_Account", environ=env), OpenWhiskBackend)
    override = backend_for(make_workflow(), environ=env,
                           server={"FaaSType": "OpenWhisk", "Endpoint": fake.url, "Namespace": "ns2",
                                   "ComputeServers": "*"},
                           api_key=OW_KEY)
    assert isinstance(override, OpenWhiskBackend) and override.namespace == "ns2"
    for b in (gh, lb, wb, override):
        b.close()


def test_registry_local_and_unsupported_types():
    with pytest.raises(LocalBackendRequired) as info:
        # FaaSType Local is the testbed's (a workflow with it is refused): it comes as `server`.
        backend_for(make_workflow(), server={"FaaSType": "Local"})
    assert "LocalBackend" in str(info.value) and isinstance(info.value, BackendError)
    with pytest.raises(BackendError) as info:
        backend_for(make_workflow("My_Slurm"), environ={})
    assert str(info.value).startswith("No SLURM token for compute server 'My_Slurm'")  # SLURM is supported
    with pytest.raises(BackendError) as info:
        backend_class("GoogleCloud")
    assert str(info.value).startswith("FaaSType GoogleCloud is not supported by faasr-easypy yet")
    with pytest.raises(BackendError) as info:
        backend_class("Azure")
    assert "not a FaaSr compute type" in str(info.value)
    with pytest.raises(BackendError) as info:
        backend_for(make_workflow(), "Nope")
    assert "'Nope' is not defined" in str(info.value)


@pytest.mark.parametrize("line", ["GitHub Action: Successfully invoked: finish",
                                  "Lambda: Successfully invoked: finish",
                                  "OpenWhisk: Succesfully invoked finish"])
def test_the_runtimes_invoker_lines_for_these_platforms_are_understood(line):
    assert parse_invocation(line) == ("finish", None)
