"""Trigger a FaaSr action on GitHub Actions: one workflow_dispatch per action.

Exactly what faasr-py 2.1.0's scheduler sends to start a successor::

    POST {api}/repos/{UserName}/{ActionRepoName}/actions/workflows/{WorkflowName}-{action}.yml/dispatches
    Authorization: token <PAT>
    Accept: application/vnd.github.v3+json
    X-GitHub-Api-Version: 2022-11-28
    {"ref": Branch, "inputs": {"OVERWRITTEN": "<json string>", "PAYLOAD_URL": "owner/repo/branch/path.json"}}

GitHub answers 204 No Content when the run is queued. The PAT comes from the
environment variable ``<ServerName>_PAT`` (FaaSr's name for it), else
``GITHUB_TOKEN``; it is never logged nor put into an error message.
"""

import json
import logging
from datetime import datetime, timezone
from urllib.parse import quote

import requests

from ..errors import BackendError
from .remote import (
    ENV_PAYLOAD_URL,
    RemoteBackend,
    check_header_value,
    default_payload_path,
    env_credential,
    github_payload_url,
    response_message,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
ENV_API_URL = "FAASR_EASYPY_GITHUB_API"
API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github.v3+json"
#: a secondary rate limit without Retry-After: GitHub's docs say wait at least a minute
SECONDARY_LIMIT_WAIT = 60.0


class GitHubActionsBackend(RemoteBackend):
    """Dispatches ``{WorkflowName}-{action}.yml`` in the compute server's repository."""

    platform = "GitHubActions"  # key of monitor.platforms.INVOCATION_PATTERNS
    faas_type = "GitHubActions"
    service = "the GitHub API"

    def __init__(self, workflow, server_name=None, *, token=None, api_url=None, payload_path=None,
                 payload_url=None, session=None, **common):
        # common: server, timeout, max_retries, backoff, retry_after_cap, environ, sleep, clock,
        # require_secret_store (see RemoteBackend)
        super().__init__(workflow, server_name, **common)
        self._require("UserName", "ActionRepoName", "Branch")
        self.user = str(self.server["UserName"])
        self.repo_name = str(self.server["ActionRepoName"])
        self.branch = str(self.server["Branch"])
        self.repository = f"{self.user}/{self.repo_name}"
        self.api_url = (api_url or (self.environ.get(ENV_API_URL) or "").strip()
                        or DEFAULT_API_URL).rstrip("/")
        self.token_variable = f"{self.server_name}_PAT"
        if token:
            self._token, self.token_source = str(token).strip(), "the token given to faasr-easypy"
        else:
            self._token, var = env_credential([self.token_variable, "GITHUB_TOKEN"], self.environ)
            self.token_source = f"the environment variable {var}" if var else None
        if not self._token:
            raise BackendError(
                f"No GitHub token for compute server {self.server_name!r}: set the environment variable "
                f"{self.token_variable} (or GITHUB_TOKEN) to a personal access token that may run "
                f"workflows in {self.repository} (classic: scopes repo and workflow; fine-grained: "
                "Actions read and write).")
        check_header_value(self._token, self.token_source)
        self._remember_secret(self._token)
        self.payload_url = payload_url or (self.environ.get(ENV_PAYLOAD_URL) or "").strip() or \
            github_payload_url(self.user, self.repo_name, self.branch,
                               payload_path or default_payload_path(workflow))
        self._session = session or requests.Session()
        self._own_session = session is None

    # -- the request ----------------------------------------------------------------
    def workflow_file(self, invocation, action):
        return f"{self.function_name(invocation, action)}.yml"

    def dispatch_url(self, workflow_file):
        return (f"{self.api_url}/repos/{quote(self.user, safe='')}/{quote(self.repo_name, safe='')}"
                f"/actions/workflows/{quote(workflow_file, safe='')}/dispatches")

    def request_body(self, invocation, action):
        return {"ref": self.branch,
                "inputs": {"OVERWRITTEN": json.dumps(self.overwritten(invocation, action)),
                           "PAYLOAD_URL": self.payload_url}}

    def headers(self):
        return {"Authorization": f"token {self._token}", "Accept": ACCEPT,
                "X-GitHub-Api-Version": API_VERSION}

    def trigger(self, invocation, action=None):
        """Dispatch the action's workflow; return once GitHub queued it (HTTP 204)."""
        action = self._action(invocation, action)
        wf_file = self.workflow_file(invocation, action)
        response, attempts = self._send(self._session, "POST", self.dispatch_url(wf_file),
                                        json=self.request_body(invocation, action), headers=self.headers())
        if response.status_code == 204:
            log.info("GitHub Actions: dispatched %s in %s on %s (InvocationID %s)",
                     wf_file, self.repository, self.branch, invocation.invocation_id)
            self.triggered.append((action, invocation.invocation_id))
            return {"platform": self.platform, "action": action, "workflow_file": wf_file,
                    "repository": self.repository, "status": response.status_code}
        raise BackendError(self._clean(self._explain(response, attempts, wf_file)))

    def _base_url(self):
        return self.api_url

    # -- errors ---------------------------------------------------------------------
    def _rate_limit_wait(self, response):
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        wait = retry_after_seconds(headers.get("Retry-After"), self._clock())
        if wait is not None:
            return wait
        if headers.get("X-RateLimit-Remaining") == "0":
            try:
                return max(0.0, float(headers.get("X-RateLimit-Reset")) - self._clock())
            except (TypeError, ValueError):
                return SECONDARY_LIMIT_WAIT
        if response.status_code == 429 or "rate limit" in response_message(response).lower():
            return SECONDARY_LIMIT_WAIT
        return None

    def _explain(self, response, attempts, wf_file):
        status = response.status_code
        message = response_message(response)
        quoted = f", \"{message}\"" if message else ""
        where = f"{wf_file} in {self.repository}"
        path = f".github/workflows/{wf_file}"
        if self._rate_limit_wait(response) is not None:
            return self._explain_rate_limit(response, wf_file, message, attempts)
        if status == 401:
            return (f"GitHub rejected the token from {self.token_source} (HTTP 401{quoted}) when "
                    f"dispatching {where}: it is wrong, expired or revoked. Create a new personal access "
                    f"token (classic: scopes repo and workflow; fine-grained: Actions read and write on "
                    f"{self.repository}) and set the environment variable {self.token_variable} to it.")
        if status == 403:
            return (f"GitHub refused to dispatch {where} (HTTP 403{quoted}): the token from "
                    f"{self.token_source} may not run workflows there. Give it the repo and workflow scopes "
                    f"(fine-grained: Actions read and write on {self.repository}), check that the "
                    "organisation allows personal access tokens, and set the environment variable "
                    f"{self.token_variable} again.")
        if status == 404:
            return (f"GitHub cannot find workflow file {path} in repository {self.repository} "
                    f"(HTTP 404{quoted}). Check UserName and ActionRepoName of compute server "
                    f"{self.server_name!r}, that {path} exists on the default branch (FaaSr names it "
                    f"<WorkflowName>-<action>.yml), and that the token from {self.token_source} can see "
                    "the repository: GitHub answers 404, not 403, for a private repository a token "
                    "cannot read.")
        if status == 422:
            return self._explain_422(message, where, path)
        if status >= 500:
            return (f"GitHub failed the dispatch of {where} {attempts} times (HTTP {status}{quoted}). "
                    "GitHub may be having an outage (see https://www.githubstatus.com); try again later.")
        return (f"GitHub did not accept the dispatch of {where} on branch {self.branch!r} (HTTP "
                f"{status}{quoted}); faasr-easypy expected 204 No Content.")

    def _explain_422(self, message, where, path):
        low = message.lower()
        if "workflow_dispatch" in low:
            return (f"GitHub cannot dispatch {where} (HTTP 422 \"{message}\"): {path} on branch "
                    f"{self.branch!r} has no workflow_dispatch trigger. Add `on: workflow_dispatch:` with "
                    "the inputs OVERWRITTEN and PAYLOAD_URL to it and push it (a new workflow file must be "
                    "on the default branch before GitHub accepts dispatches).")
        if "no ref found" in low or ("ref" in low and "not found" in low):
            return (f"GitHub cannot dispatch {where} (HTTP 422 \"{message}\"): branch {self.branch!r} "
                    f"does not exist in {self.repository}. Set Branch of compute server "
                    f"{self.server_name!r} to an existing branch.")
        if "unexpected inputs" in low or "required input" in low or "input" in low:
            return (f"GitHub cannot dispatch {where} (HTTP 422 \"{message}\"): the workflow_dispatch "
                    f"inputs of {path} do not match what FaaSr sends. Declare exactly the inputs "
                    "OVERWRITTEN and PAYLOAD_URL (no other required input).")
        if "disabled" in low:
            return (f"GitHub cannot dispatch {where} (HTTP 422 \"{message}\"): enable GitHub Actions and "
                    f"the workflow {path} in the repository settings, then run again.")
        return (f"GitHub cannot dispatch {where} on branch {self.branch!r} (HTTP 422 \"{message}\"). "
                f"Check {path} and the branch.")

    def _explain_rate_limit(self, response, wf_file, message, attempts):
        wait = self._rate_limit_wait(response)
        when = datetime.fromtimestamp(self._clock() + wait, tz=timezone.utc).strftime("%H:%M:%S UTC")  # 3.10 lacks .UTC
        headers = response.headers
        if headers.get("X-RateLimit-Remaining") == "0":
            kind = "its API rate limit is used up (X-RateLimit-Remaining: 0)"
        elif "secondary" in message.lower():
            kind = "it hit a secondary rate limit (too many requests in a short time)"
        else:
            kind = "it is rate limited"
        detail = f"\"{message}\", " if message else ""
        return (f"GitHub refused to dispatch {wf_file} in {self.repository} because {kind} for the token "
                f"from {self.token_source} (HTTP {response.status_code}, {detail}retry after "
                f"{wait:.0f} s, at {when}). "
                + (f"That is longer than the {self.retry_after_cap:.0f} s faasr-easypy waits"
                   if wait > self.retry_after_cap else f"faasr-easypy already waited {attempts - 1} times")
                + ": run again after that time, or use another token.")

    def close(self):
        if self._own_session:
            self._session.close()
