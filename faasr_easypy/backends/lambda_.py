"""Trigger a FaaSr action on AWS Lambda: one asynchronous Invoke per action.

Exactly what faasr-py 2.1.0's scheduler does to start a successor::

    boto3.client("lambda", region_name=Region, ...).invoke(
        FunctionName="{WorkflowName}-{action}", InvocationType="Event",
        Payload=json.dumps({"OVERWRITTEN": "<json string>", "PAYLOAD_URL": "owner/repo/branch/path.json"}))

The Lambda entry point (FaaSr-Docker ``faasr_entry.py``, ``handle_lambda``)
reads ``event["PAYLOAD_URL"]`` and ``json.loads(event["OVERWRITTEN"])``, so the
event must have that shape; it then fetches the workflow JSON from GitHub.
Lambda answers 202 Accepted. Credentials come from ``<ServerName>_AccessKey`` /
``<ServerName>_SecretKey`` (FaaSr's names), else AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY; they are never logged nor put into a message.
"""

import json
import logging

from ..errors import BackendError
from .remote import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    RemoteBackend,
    env_credential,
    payload_url_for,
)

log = logging.getLogger(__name__)

ENV_ENDPOINT = "FAASR_EASYPY_LAMBDA_ENDPOINT"

_BAD_CREDENTIALS = ("UnrecognizedClientException", "InvalidSignatureException",
                    "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature",
                    "ExpiredTokenException", "InvalidAccessKeyId")
_ACCESS_DENIED = ("AccessDeniedException", "AccessDenied")


class LambdaBackend(RemoteBackend):
    """Invokes ``{WorkflowName}-{action}`` asynchronously in the compute server's Region."""

    platform = "Lambda"  # key of monitor.platforms.INVOCATION_PATTERNS
    faas_type = "Lambda"
    service = "AWS Lambda"

    def __init__(self, workflow, server_name=None, *, server=None, access_key=None, secret_key=None,
                 session_token=None, endpoint_url=None, payload_url=None, client=None,
                 timeout=DEFAULT_TIMEOUT, max_retries=DEFAULT_RETRIES, environ=None, require_secret_store=True):
        super().__init__(workflow, server_name, server=server, timeout=timeout, max_retries=max_retries,
                         environ=environ, require_secret_store=require_secret_store)
        self._require("Region")
        self.region = str(self.server["Region"])
        self.endpoint_url = endpoint_url or (self.environ.get(ENV_ENDPOINT) or "").strip() or None
        names = (f"{self.server_name}_AccessKey", f"{self.server_name}_SecretKey")
        self.credential_variables = names
        if access_key and secret_key:
            self._access_key, self._secret_key = str(access_key).strip(), str(secret_key).strip()
            self.credential_source = "the keys given to faasr-easypy"
        else:
            self._access_key, _ = env_credential([names[0]], self.environ)
            self._secret_key, _ = env_credential([names[1]], self.environ)
            self.credential_source = f"the environment variables {names[0]} and {names[1]}"
            if not (self._access_key and self._secret_key):
                ak, _ = env_credential(["AWS_ACCESS_KEY_ID"], self.environ)
                sk, _ = env_credential(["AWS_SECRET_ACCESS_KEY"], self.environ)
                if ak and sk:
                    self._access_key, self._secret_key = ak, sk
                    self.credential_source = "the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        if not (self._access_key and self._secret_key):
            raise BackendError(
                f"No AWS credentials for compute server {self.server_name!r}: set the environment "
                f"variables {names[0]} and {names[1]} (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) "
                "to the access key of an IAM user allowed lambda:InvokeFunction on the workflow's "
                "functions.")
        if not session_token and "AWS_ACCESS_KEY_ID" in self.credential_source:
            session_token = (self.environ.get("AWS_SESSION_TOKEN") or "").strip()
        self._session_token = session_token or None
        for secret in (self._access_key, self._secret_key, self._session_token):
            self._remember_secret(secret)
        self.payload_url = payload_url_for(workflow, payload_url, self.environ, "A Lambda")
        self._client = client or self._make_client()

    def _make_client(self):
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id=self._access_key,
                                        aws_secret_access_key=self._secret_key,
                                        aws_session_token=self._session_token,
                                        region_name=self.region)
        config = Config(connect_timeout=self.timeout[0], read_timeout=self.timeout[1],
                        retries={"max_attempts": self.max_retries + 1, "mode": "standard"})
        return session.client("lambda", endpoint_url=self.endpoint_url, config=config)

    def event(self, invocation, action):
        """The event FaaSr's Lambda entry point expects."""
        return {"OVERWRITTEN": json.dumps(self.overwritten(invocation, action)),
                "PAYLOAD_URL": self.payload_url}

    def trigger(self, invocation, action=None):
        """Invoke the action's function asynchronously; return once Lambda accepted it (202)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        action = self._action(invocation, action)
        function = self.function_name(invocation, action)
        try:
            response = self._client.invoke(FunctionName=function, InvocationType="Event",
                                           Payload=json.dumps(self.event(invocation, action)).encode())
        except ClientError as exc:
            raise BackendError(self._clean(self._explain(exc, function))) from None
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise BackendError(self._clean(
                f"Cannot reach AWS Lambda at {self._where()} after {self.max_retries + 1} attempts "
                f"({exc}). Check the network, proxy settings and Region {self.region!r}.")) from None
        except ReadTimeoutError:
            raise BackendError(
                f"AWS Lambda did not answer within {self.timeout[1]:g} s when invoking {function}. The "
                "invocation may or may not have been accepted; check CloudWatch before running "
                "again.") from None
        except BotoCoreError as exc:
            raise BackendError(self._clean(f"Invoking {function} on AWS Lambda failed: {exc}.")) from None
        status = response.get("StatusCode")
        if not (isinstance(status, int) and 200 <= status < 300):
            raise BackendError(self._clean(
                f"AWS Lambda answered {status} to the asynchronous invocation of {function}; "
                f"faasr-easypy expected 202 Accepted ({response.get('FunctionError') or 'no detail'})."))
        log.info("Lambda: invoked %s in %s (InvocationID %s)", function, self.region, invocation.invocation_id)
        self.triggered.append((action, invocation.invocation_id))
        return {"platform": self.platform, "action": action, "function": function, "status": status}

    def _where(self):
        return self.endpoint_url or f"region {self.region}"

    def _explain(self, exc, function):
        error = exc.response.get("Error", {}) or {}
        code = error.get("Code") or "Unknown"
        message = (error.get("Message") or "").strip()
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        quoted = f": {message}" if message else ""
        if code == "ResourceNotFoundException" or status == 404:
            return (f"AWS Lambda has no function {function} in {self._where()} ({code}{quoted}). Deploy "
                    f"the action as a Lambda function named exactly {function} (FaaSr names functions "
                    f"<WorkflowName>-<action>), or fix Region of compute server {self.server_name!r}.")
        if code in _ACCESS_DENIED:
            return (f"AWS refused to let the access key from {self.credential_source} invoke {function} "
                    f"({code}{quoted}). Allow that IAM user lambda:InvokeFunction on {function} in "
                    f"{self.region}, or set {self.credential_variables[0]} and "
                    f"{self.credential_variables[1]} to a key that has it.")
        if code in _BAD_CREDENTIALS:
            return (f"AWS does not accept the access key from {self.credential_source} ({code}{quoted}): "
                    "the key is wrong, inactive or does not match its secret. Set "
                    f"{self.credential_variables[0]} and {self.credential_variables[1]} again.")
        if code in ("TooManyRequestsException", "ThrottlingException") or status == 429:
            return (f"AWS Lambda throttled the invocation of {function} ({code}{quoted}) after "
                    f"{self.max_retries + 1} attempts: the account or function concurrency limit is "
                    "reached. Run again later or raise the limit.")
        if status and status >= 500:
            return (f"AWS Lambda failed to accept the invocation of {function} (HTTP {status}, {code}"
                    f"{quoted}) after {self.max_retries + 1} attempts; try again later.")
        return f"AWS Lambda refused to invoke {function} (HTTP {status}, {code}{quoted})."

    def close(self):
        close = getattr(self._client, "close", None)
        if close:
            close()

