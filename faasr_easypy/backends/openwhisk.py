"""Trigger a FaaSr action on Apache OpenWhisk: one non-blocking action invocation.

Exactly what faasr-py 2.1.0's scheduler sends to start a successor::

    POST {Endpoint}/api/v1/namespaces/{Namespace}/actions/{WorkflowName}-{action}?blocking=false&result=false
    Authorization: Basic base64(user:password)
    {"OVERWRITTEN": {...}, "PAYLOAD_URL": "owner/repo/branch/path.json"}

(On OpenWhisk OVERWRITTEN is a JSON object, not a string: FaaSr-Docker's
``faasr_entry.py`` ``handle_ow`` uses it as is.) OpenWhisk answers 202 Accepted
with an activation id. The API key ("user:password", as ``wsk property get
--auth`` prints it) comes from ``<ServerName>_APIkey`` (FaaSr's name) or
``<ServerName>_API_KEY``; it is never logged nor put into a message.
"""

import logging
from urllib.parse import quote

import requests

from ..errors import BackendError
from .remote import (
    RemoteBackend,
    check_header_value,
    env_credential,
    payload_url_for,
    response_message,
)

log = logging.getLogger(__name__)


class OpenWhiskBackend(RemoteBackend):
    """Invokes ``{WorkflowName}-{action}`` in the compute server's namespace, non-blocking."""

    platform = "OpenWhisk"  # key of monitor.platforms.INVOCATION_PATTERNS
    faas_type = "OpenWhisk"
    service = "OpenWhisk"

    def __init__(self, workflow, server_name=None, *, api_key=None, endpoint=None, payload_url=None,
                 verify=None, session=None, **common):
        # common: server, timeout, max_retries, backoff, retry_after_cap, environ, sleep, clock,
        # require_secret_store (see RemoteBackend)
        super().__init__(workflow, server_name, **common)
        self._require("Endpoint", "Namespace")
        endpoint = str(endpoint or self.server["Endpoint"]).rstrip("/")
        self.endpoint = endpoint if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"
        self.namespace = str(self.server["Namespace"])
        self.key_variables = (f"{self.server_name}_APIkey", f"{self.server_name}_API_KEY")
        if api_key:
            key, self.key_source = str(api_key).strip(), "the API key given to faasr-easypy"
        else:
            key, var = env_credential(self.key_variables, self.environ)
            self.key_source = f"the environment variable {var}" if var else None
        if not key:
            raise BackendError(
                f"No OpenWhisk API key for compute server {self.server_name!r}: set the environment "
                f"variable {self.key_variables[0]} (or {self.key_variables[1]}) to the key that "
                "`wsk property get --auth` prints (user:password).")
        check_header_value(key, self.key_source)
        user, sep, password = key.partition(":")
        if not sep or not user or not password:
            raise BackendError(
                f"The OpenWhisk API key in {self.key_source} is not of the form user:password. Set it "
                "to the value `wsk property get --auth` prints.")
        self._auth = (user, password)
        for secret in (key, user, password):
            self._remember_secret(secret)
        if verify is None:  # FaaSr's AllowSelfSignedCertificate switches certificate checks off
            verify = not bool(self.server.get("AllowSelfSignedCertificate"))
        self.verify = verify
        self.payload_url = payload_url_for(workflow, payload_url, self.environ, "An OpenWhisk")
        self._session = session or requests.Session()
        self._own_session = session is None

    def action_url(self, function):
        return (f"{self.endpoint}/api/v1/namespaces/{quote(self.namespace, safe='')}"
                f"/actions/{quote(function, safe='')}")

    def request_body(self, invocation, action):
        return {"OVERWRITTEN": self.overwritten(invocation, action), "PAYLOAD_URL": self.payload_url}

    def trigger(self, invocation, action=None):
        """Invoke the action without waiting; return once OpenWhisk accepted it (202)."""
        action = self._action(invocation, action)
        function = self.function_name(invocation, action)
        response, attempts = self._send(
            self._session, "POST", self.action_url(function),
            params={"blocking": "false", "result": "false"}, auth=self._auth,
            json=self.request_body(invocation, action), headers={"Accept": "application/json"},
            verify=self.verify)
        if response.status_code in (200, 202):
            try:
                activation = response.json().get("activationId")
            except (ValueError, AttributeError):
                activation = None
            log.info("OpenWhisk: invoked %s in %s (activation %s, InvocationID %s)",
                     function, self.namespace, activation, invocation.invocation_id)
            self.triggered.append((action, invocation.invocation_id))
            return {"platform": self.platform, "action": action, "function": function,
                    "status": response.status_code, "activation_id": activation}
        raise BackendError(self._clean(self._explain(response, attempts, function)))

    def _base_url(self):
        return self.endpoint

    def _explain(self, response, attempts, function):
        status = response.status_code
        message = response_message(response)
        quoted = f", \"{message}\"" if message else ""
        if status == 401:
            return (f"OpenWhisk at {self.endpoint} rejected the API key from {self.key_source} "
                    f"(HTTP 401{quoted}). Set {self.key_variables[0]} to the key `wsk property get --auth` "
                    "prints for this host.")
        if status == 403:
            return (f"OpenWhisk at {self.endpoint} does not let the API key from {self.key_source} use "
                    f"namespace {self.namespace!r} (HTTP 403{quoted}). Check Namespace of compute server "
                    f"{self.server_name!r} and the key.")
        if status == 404:
            return (f"OpenWhisk at {self.endpoint} has no action {function} in namespace "
                    f"{self.namespace!r} (HTTP 404{quoted}). Deploy the action under exactly that name "
                    "(FaaSr names actions <WorkflowName>-<action>) or fix Namespace.")
        if status == 429:
            return (f"OpenWhisk throttled the invocation of {function} (HTTP 429{quoted}) after "
                    f"{attempts} attempts: the namespace's invocation limit is reached. Run again later.")
        if status >= 500:
            return (f"OpenWhisk at {self.endpoint} failed the invocation of {function} {attempts} times "
                    f"(HTTP {status}{quoted}); try again later.")
        return (f"OpenWhisk did not accept the invocation of {function} (HTTP {status}{quoted}); "
                "faasr-easypy expected 202 Accepted.")

    def close(self):
        if self._own_session:
            self._session.close()
