"""What the remote trigger backends (GitHub Actions, Lambda, OpenWhisk) share.

A remote backend only *starts* the entry action the way FaaSr's own scheduler
starts a successor (faasr-py 2.1.0 ``engine/scheduler.py``): same URL, same
headers, same body. Everything after that is seen through S3 by the monitor.

Shared here: which compute server (the workflow's, or a testbed's override),
where its credential comes from (the environment variable names FaaSr itself
uses), the PAYLOAD_URL, and HTTP with timeouts and bounded retries.
Credentials never appear in a message, a log line or a repr.
"""

import email.utils
import logging
import os
import time
from pathlib import PurePath

import requests

from ..errors import BackendError
from ..redact import Redactor
from .base import Backend

log = logging.getLogger(__name__)

#: (connect, read) seconds for every request
DEFAULT_TIMEOUT = (10.0, 30.0)
#: retries after the first attempt, for 5xx answers and connection failures only
DEFAULT_RETRIES = 3
#: first back-off in seconds; doubles per retry, capped at MAX_BACKOFF
DEFAULT_BACKOFF = 1.0
MAX_BACKOFF = 30.0
#: longest Retry-After / rate-limit reset we wait for before giving up with a message
DEFAULT_RETRY_AFTER_CAP = 60.0
#: overrides the PAYLOAD_URL of every remote backend: "owner/repo/branch/path.json"
ENV_PAYLOAD_URL = "FAASR_EASYPY_PAYLOAD_URL"


def resolve_server(workflow, server_name=None, server=None):
    """(name, spec) of the compute server that runs the entry action.

    `server` (a dict with the workflow JSON's field names) replaces the
    workflow's own ComputeServers entry, for testbeds that point a workflow's
    server name at another account.
    """
    name = server_name or workflow.actions[workflow.entry].faas_server
    if server is not None:
        return name, dict(server)
    servers = workflow.data.get("ComputeServers") or {}
    if name not in servers:
        known = ", ".join(sorted(servers)) or "(none)"
        raise BackendError(
            f"Compute server {name!r} is not defined in {workflow.source} (ComputeServers has {known}). "
            f"Name one of them, or add {name!r} to ComputeServers or to the testbed.")
    return name, dict(servers[name])


def env_credential(names, environ=None):
    """(value, variable name) of the first variable in `names` set to a non-blank value."""
    environ = os.environ if environ is None else environ
    for var in names:
        value = (environ.get(var) or "").strip()
        if value:
            return value, var
    return None, None


def check_header_value(value, where):
    """Refuse a credential that cannot go into an HTTP header, without echoing it.

    requests would raise InvalidHeader with the whole header value (the token)
    in its message; we say what is wrong and where, never the value.
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or not value.isascii():
        raise BackendError(
            f"The credential in {where} contains a line break, control character or non-ASCII "
            "character, so it cannot be sent in an HTTP header. Set it again, copying only the "
            "token itself.")


def check_secret_store(workflow, name, spec):
    """Refuse to trigger an entry action that would start without credentials.

    faasr-easypy never puts credentials into OVERWRITTEN (GitHub shows a run's
    inputs to everyone who can read the repository). FaaSr's entry point
    (faasr_entry.py) then reads them from the platform's secret store (GitHub:
    the job's environment, i.e. repository secrets; Lambda: Secrets Manager)
    only if the server says "UseSecretStore": true; otherwise it expects them
    in OVERWRITTEN, finds none, and the action fails on its first S3 call. FaaSr's
    own invoke script refuses the same way ("UseSecretStore must be true for
    initial action").
    """
    published = (workflow.data.get("ComputeServers") or {}).get(name) or {}
    if spec.get("UseSecretStore") is True or published.get("UseSecretStore") is True:
        return
    raise BackendError(
        f"Compute server {name!r} does not set \"UseSecretStore\": true, so FaaSr's runtime would "
        "look for the first action's credentials in the trigger's OVERWRITTEN input, where "
        "faasr-easypy never puts them. Add \"UseSecretStore\": true to ComputeServers."
        f"{name} in the workflow JSON (and in the copy the platform reads from PAYLOAD_URL), store "
        "the credentials as the platform's secrets, and run again.")


def default_payload_path(workflow):
    """The workflow JSON's path in the repository: the file's own name, else <WorkflowName>.json."""
    source = str(getattr(workflow, "source", "") or "")
    if source.lower().endswith(".json") and not source.startswith("<"):
        return PurePath(source).name
    return f"{workflow.name}.json"


def github_payload_url(user, repo, branch, path):
    """FaaSr's PAYLOAD_URL form: owner/repo/branch/path/in/repo.json."""
    return f"{user}/{repo}/{branch}/{str(path).lstrip('/')}"


def payload_url_for(workflow, explicit=None, environ=None, server_hint=None):
    """The PAYLOAD_URL a non-GitHub backend sends.

    Lambda and OpenWhisk actions still fetch the workflow JSON from GitHub
    (faasr_entry.py reads PAYLOAD_URL on every platform), so the URL comes from
    `explicit`, else FAASR_EASYPY_PAYLOAD_URL, else the workflow's first
    GitHubActions compute server (its repository and branch).
    """
    environ = os.environ if environ is None else environ
    url = explicit or (environ.get(ENV_PAYLOAD_URL) or "").strip()
    if url:
        return url
    for spec in (workflow.data.get("ComputeServers") or {}).values():
        if isinstance(spec, dict) and spec.get("FaaSType") == "GitHubActions" and all(
                spec.get(k) for k in ("UserName", "ActionRepoName", "Branch")):
            return github_payload_url(spec["UserName"], spec["ActionRepoName"], spec["Branch"],
                                      default_payload_path(workflow))
    raise BackendError(
        f"{server_hint or 'This'} action reads the workflow JSON from GitHub, but faasr-easypy does not "
        f"know where {workflow.name}'s JSON is published. Pass payload_url=\"owner/repo/branch/"
        f"{default_payload_path(workflow)}\" or set the environment variable {ENV_PAYLOAD_URL} to it "
        "(the file must be pushed to that repository first).")


def retry_after_seconds(value, now=None):
    """Seconds a Retry-After header asks for (delta-seconds or HTTP-date); None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RemoteBackend(Backend):
    """Common constructor arguments and the HTTP retry loop of the remote backends."""

    platform = "remote"
    faas_type = ""
    service = "the platform"
    #: what to check when the platform cannot be reached at all
    unreachable_hint = "Check the network, proxy settings and the endpoint"

    def __init__(self, workflow, server_name=None, *, server=None, timeout=DEFAULT_TIMEOUT,
                 max_retries=DEFAULT_RETRIES, backoff=DEFAULT_BACKOFF,
                 retry_after_cap=DEFAULT_RETRY_AFTER_CAP, environ=None, sleep=time.sleep, clock=time.time,
                 require_secret_store=True):
        self.workflow = workflow
        self.server_name, self.server = resolve_server(workflow, server_name, server)
        ftype = self.server.get("FaaSType")
        if self.faas_type and ftype not in (None, self.faas_type):
            raise BackendError(
                f"Compute server {self.server_name!r} has FaaSType {ftype!r}, but the {self.faas_type} "
                f"backend was asked to trigger it. Use faasr_easypy.backends.registry.backend_for(), "
                "which picks the backend from FaaSType.")
        if require_secret_store:
            check_secret_store(workflow, self.server_name, self.server)
        self.timeout = _timeout(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff = max(0.0, float(backoff))
        self.retry_after_cap = max(0.0, float(retry_after_cap))
        self.environ = os.environ if environ is None else environ
        self._sleep = sleep
        self._clock = clock
        self._redactor = Redactor(include_environment=False)  # only what this backend holds
        self.triggered = []  # (action, invocation_id) of every accepted trigger, for tests and reports

    # -- helpers for subclasses ---------------------------------------------------
    def _require(self, *keys):
        missing = [k for k in keys if not self.server.get(k)]
        if missing:
            raise BackendError(
                f"Compute server {self.server_name!r} ({self.faas_type}) lacks {', '.join(missing)}: "
                f"add {' and '.join(repr(k) for k in missing)} to it in the workflow's ComputeServers "
                "or in the testbed.")

    def _remember_secret(self, value):
        self._redactor.add(value)

    def _clean(self, text):
        """`text` with every credential this backend holds replaced by ***."""
        return self._redactor.redact(str(text))

    def function_name(self, invocation, action):
        """FaaSr's name for an action on every platform: <WorkflowName>-<action>."""
        return f"{invocation.workflow.name}-{action}"

    def overwritten(self, invocation, action):
        """The OVERWRITTEN keys: InvocationID, InvocationTimestamp, FunctionInvoke, overrides."""
        return invocation.overwritten(action)

    def _action(self, invocation, action):
        action = action or invocation.workflow.entry
        if action not in invocation.workflow.actions:
            raise BackendError(f"{invocation.workflow.name} has no action {action!r} to trigger.")
        return action

    def _backoff(self, attempt):
        return min(MAX_BACKOFF, self.backoff * (2 ** (attempt - 1)))

    def _rate_limit_wait(self, response):
        """Seconds to wait if `response` is a rate-limit answer, else None."""
        if response.status_code != 429:
            return None
        wait = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
        return self._backoff(1) if wait is None else wait

    def _send(self, session, method, url, **kwargs):
        """Send with timeouts; retry 5xx, connection failures and short rate limits.

        Returns (response, attempts). Raises BackendError when the platform
        cannot be reached at all. A response that is still an error after the
        retries is returned for the caller to explain.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.exceptions.ConnectionError as exc:  # includes ConnectTimeout
                if attempt <= self.max_retries:
                    log.info("%s: cannot connect (attempt %d), retrying", self.service, attempt)
                    self._sleep(self._backoff(attempt))
                    continue
                raise BackendError(
                    f"Cannot reach {self.service} at {self._base_url()} after {attempt} attempts "
                    f"({self._clean(_reason(exc))}). {self.unreachable_hint}, then run again.") from None
            except requests.exceptions.Timeout:
                raise BackendError(
                    f"{self.service} did not answer within {self.timeout[1]:g} s at {self._base_url()}. "
                    "The trigger may or may not have been accepted; check the platform before "
                    "running again.") from None
            except requests.exceptions.RequestException as exc:
                raise BackendError(f"The request to {self.service} failed: "
                                   f"{self._clean(_reason(exc))}.") from None
            wait = self._rate_limit_wait(response)
            if wait is not None:
                if wait <= self.retry_after_cap and attempt <= self.max_retries:
                    log.info("%s: rate limited, waiting %.1f s (attempt %d)", self.service, wait, attempt)
                    self._sleep(wait)
                    continue
                return response, attempt
            if self._retryable(response) and attempt <= self.max_retries:
                log.info("%s: HTTP %d (attempt %d), retrying", self.service, response.status_code, attempt)
                self._sleep(self._backoff(attempt))
                continue
            return response, attempt

    def _retryable(self, response):
        """True for an answer worth sending again (a server error that may pass)."""
        return response.status_code >= 500

    def _base_url(self):
        return ""

    def trigger(self, invocation, action=None):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.server_name!r})"


def _timeout(value):
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    connect, read = value
    return (float(connect), float(read))


def _reason(exc):
    """A short reason for a requests exception, without the urllib3 noise."""
    text = str(exc)
    marker = "Failed to establish a new connection: "
    if marker in text:
        return text.split(marker, 1)[1].rstrip(")'\"]") or text
    if any(m in text for m in ("NameResolutionError", "Name or service not known", "nodename nor servname",
                               "getaddrinfo failed")):
        return "the host name could not be resolved"
    if any(m in text for m in ("Connection aborted", "RemoteDisconnected", "Connection reset")):
        return "the connection was closed before an answer came"
    return text if len(text) < 300 else text[:297] + "..."


def response_message(response):
    """The error text of a JSON error body ({"message": ...} or {"error": ...}), else the raw text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error", "Message", "errorMessage"):
            if isinstance(data.get(key), str) and data[key].strip():
                return data[key].strip()
    text = (response.text or "").strip()
    return text if len(text) < 300 else text[:297] + "..."
