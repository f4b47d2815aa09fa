"""Trigger a FaaSr action on SLURM: one batch job submitted through slurmrestd.

Exactly what faasr-py 2.1.0's scheduler (``invoke_slurm``, with
``helpers/slurm_helper.py``) sends to start a successor::

    POST {Endpoint}/slurm/{APIVersion}/job/submit
    X-SLURM-USER-TOKEN: <JWT>        X-SLURM-USER-NAME: <UserName, default ubuntu>
    {"job": {"name": "<WorkflowName>-<action>", "partition", "nodes", "tasks",
             "cpus_per_task", "memory_per_cpu", "time_limit" (all strings),
             "current_working_directory", "environment": {PAYLOAD_URL, OVERWRITTEN[, GH_PAT]}},
     "script": "#!/bin/bash ... docker run --rm --network=host -e ... <image>"}

slurmrestd answers 200 with a ``job_id``. The JWT comes from
``<ServerName>_Token`` (FaaSr-Docker's ``faasr_entry.py`` fills a SLURM
server's ``Token`` from that secret), else ``SLURM_JWT`` (what ``scontrol
token`` prints); it is never logged nor put into a message.

SLURM differs from the other platforms in one way that matters: FaaSr's job
script passes only PAYLOAD_URL, OVERWRITTEN and GH_PAT into the container, so
``UseSecretStore`` cannot work there. Like faasr-py, this backend therefore
puts the compute servers' and data stores' credentials into OVERWRITTEN (the
job's environment on the cluster, readable by its owner and root), and refuses
a server that says ``"UseSecretStore": true``.
"""

import base64
import json
import logging
from datetime import datetime

import requests

from ..errors import BackendError
from .remote import RemoteBackend, check_header_value, env_credential, payload_url_for, response_message
from .slurm_jobs import SlurmJobs
from .slurm_watch import JobWatcher

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "v0.0.37"  # FaaSr's default; slurmrestd 22.05 serves v0.0.36..v0.0.38
DEFAULT_IMAGE = "faasr/slurm-r:latest"  # FaaSr's image when ActionContainers names none
DEFAULT_USER = "ubuntu"  # FaaSr's UserName default
#: slurmrestd refuses one environment value of this size or more
MAX_ENV_VALUE = 256 * 1024
#: the secret each FaaSType's credential comes from, and the ComputeServers field faasr-py reads it from
SERVER_SECRETS = {
    "GitHubActions": (("_PAT", "Token"),),
    "Lambda": (("_AccessKey", "AccessKey"), ("_SecretKey", "SecretKey")),
    "GoogleCloud": (("_SecretKey", "SecretKey"),),
    "SLURM": (("_Token", "Token"),),
    "OpenWhisk": (("_APIkey", "APIkey"),),
    "Kubernetes": (("_Token", "Token"),),
}


def resource_requirements(workflow_data, function, server):
    """FaaSr's get_resource_requirements: action Resources, then server, then defaults."""
    action = (workflow_data.get("ActionList") or {}).get(function) or {}
    res = action.get("Resources") or {}

    def pick(key, default):
        return res.get(key) or server.get(key) or default

    return {"partition": pick("Partition", "faasr"), "nodes": pick("Nodes", 1), "tasks": pick("Tasks", 1),
            "cpus_per_task": pick("CPUsPerTask", 1), "memory_mb": pick("Memory", 1024),
            "time_limit": pick("TimeLimit", 60), "working_dir": pick("WorkingDirectory", "/tmp")}


def job_script(workflow_data, function, job_name, environment):
    """FaaSr's create_job_script, line for line (its quirks included, see docs/SLURM.md)."""
    containers = workflow_data.get("ActionContainers") or {}
    image = containers.get(function) or DEFAULT_IMAGE
    exports = ""
    flags = ""
    if environment:
        exports += "\n# Set environment variables\n"
        for key, value in environment.items():
            escaped = str(value).replace("'", "'\"'\"'").replace("$", "\\$")
            exports += f"export {key}='{escaped}'\n"
            flags += f"  -e {key} \\\n"
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --output={job_name}-%j.out",
        f"#SBATCH --error={job_name}-%j.err",
        "#SBATCH --exclusive",
        "",
        f'echo "Starting FaaSr job: {job_name}"',
        'echo "Job ID: $SLURM_JOB_ID"',
        'echo "Node: $SLURMD_NODENAME"',
        'echo "Time: $(date)"',
        "",
        exports,
        "",
        'echo "Environment variables set:"',
        'echo "PAYLOAD_URL: $PAYLOAD_URL"',
        'echo "OVERWRITTEN length: ${#OVERWRITTEN}"',
        'echo "FAASR_PLATFORM: $FAASR_PLATFORM"',
        "",
        f'echo "Using container image: {image}"',
        "",
        "docker run --rm --network=host \\",
        flags.rstrip(" \\\n") + " \\",
        f"  {image}",
        "",
        f'echo "FaaSr job completed: {job_name}"',
        'echo "End time: $(date)"',
    ]
    return "\n".join(lines)


def jwt_expiry(token):
    """The `exp` claim of a JWT (seconds since the epoch), None if absent; ValueError if unreadable."""
    parts = token.split(".")
    if len(parts) < 2:
        raise ValueError("not a JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload))
    exp = claims.get("exp")
    return float(exp) if exp is not None else None


class SlurmBackend(RemoteBackend):
    """Submits ``<WorkflowName>-<action>`` as a batch job through slurmrestd, as faasr-py does."""

    platform = "SLURM"  # key of monitor.platforms.INVOCATION_PATTERNS
    faas_type = "SLURM"
    service = "slurmrestd"
    unreachable_hint = ("Is slurmrestd running and listening there? (`bash scripts/slurm-cluster status` "
                        "for the test cluster.) Check Endpoint of the compute server")

    def __init__(self, workflow, server_name=None, *, token=None, endpoint=None, payload_url=None,
                 data_stores=None, gh_pat=None, server_overrides=None, session=None, **common):
        # common: server, timeout, max_retries, backoff, retry_after_cap, environ, sleep, clock
        common["require_secret_store"] = False  # SLURM passes credentials in OVERWRITTEN, see above
        super().__init__(workflow, server_name, **common)
        self._require("Endpoint")
        if self.server.get("UseSecretStore") is True:
            raise BackendError(
                f"Compute server {self.server_name!r} is FaaSType SLURM with \"UseSecretStore\": true, which "
                "cannot work: FaaSr's SLURM job script passes only PAYLOAD_URL, OVERWRITTEN and GH_PAT into "
                "the container, so the action would find no credentials. Remove UseSecretStore (or set it to "
                "false) for SLURM servers; faasr-easypy then passes the credentials in OVERWRITTEN, as "
                "faasr-py does for its SLURM successors.")
        endpoint = str(endpoint or self.server["Endpoint"]).rstrip("/")
        self.endpoint = endpoint if endpoint.startswith("http") else f"http://{endpoint}"
        self.api_version = str(self.server.get("APIVersion") or DEFAULT_API_VERSION)
        self.user = str(self.server.get("UserName") or DEFAULT_USER)
        self.token_variables = (f"{self.server_name}_Token", "SLURM_JWT")
        if token:
            tok, self.token_source = str(token).strip(), "the token given to faasr-easypy"
        else:
            tok, var = env_credential(self.token_variables, self.environ)
            self.token_source = f"the environment variable {var}" if var else None
        if not tok:
            raise BackendError(
                f"No SLURM token for compute server {self.server_name!r}: set the environment variable "
                f"{self.token_variables[0]} (FaaSr's secret name) to a JWT that `scontrol token "
                f"username={self.user} lifespan=SECONDS` prints (the part after SLURM_JWT=).")
        self._remember_secret(tok)
        check_header_value(tok, self.token_source)
        self.token = tok
        self._check_token()
        self.data_stores = dict(data_stores or {})
        # ComputeServers entries that replace the workflow's in OVERWRITTEN (a testbed's mapping)
        self.server_overrides = dict(server_overrides or {})
        self.gh_pat = gh_pat if gh_pat is not None else (self.environ.get("GH_PAT") or "").strip() or None
        if self.gh_pat:
            self._remember_secret(self.gh_pat)
        self.payload_url = payload_url_for(workflow, payload_url, self.environ, "A SLURM")
        self._session = session or requests.Session()
        self._own_session = session is None
        # the invocations' jobs, known exactly and watched for abnormal ends (slurm_watch.py)
        self.jobs = SlurmJobs(self.endpoint, self.token, self.user, self.api_version, session=self._session,
                              timeout=self.timeout)
        self.watcher = JobWatcher(self.jobs)

    def _check_token(self):
        """FaaSr's validate_jwt_token, with the fix in the message."""
        how = f"`scontrol token username={self.user} lifespan=SECONDS` on the cluster prints a new one"
        if not self.token.startswith("eyJ"):
            raise BackendError(
                f"The SLURM token in {self.token_source} is not a JWT (a JWT starts with \"eyJ\"; faasr-py "
                f"refuses anything else). Set {self.token_variables[0]} to the value after SLURM_JWT= that "
                f"{how}.")
        try:
            exp = jwt_expiry(self.token)
        except (ValueError, UnicodeDecodeError):
            raise BackendError(f"The SLURM token in {self.token_source} is not a readable JWT; {how}.") from None
        if exp is not None and exp <= self._clock():
            raise BackendError(
                f"The SLURM token in {self.token_source} expired at "
                f"{datetime.fromtimestamp(exp):%Y-%m-%d %H:%M:%S}; {how}.")

    # -- what is sent ---------------------------------------------------------------
    def submit_url(self):
        return f"{self.endpoint}/slurm/{self.api_version}/job/submit"

    def overwritten(self, invocation, action):
        """OVERWRITTEN as faasr-py sends it to a SLURM server without UseSecretStore: the run's keys
        plus ComputeServers and DataStores with their credentials filled in."""
        out = dict(invocation.overwritten(action))
        data = invocation.workflow.data
        servers = json.loads(json.dumps(data.get("ComputeServers") or {}))
        servers.update(json.loads(json.dumps(self.server_overrides)))
        for name, spec in servers.items():
            if name == self.server_name:
                spec.update(self.server)
                spec["Endpoint"] = self.endpoint
            for suffix, field in SERVER_SECRETS.get(spec.get("FaaSType"), ()):
                same_cluster = spec.get("FaaSType") == "SLURM" and spec.get("Endpoint") == self.endpoint
                value = self.token if (same_cluster and field == "Token") else \
                    (self.environ.get(f"{name}{suffix}") or "").strip()
                if value:
                    spec[field] = value
                    self._remember_secret(value)
        stores = json.loads(json.dumps(data.get("DataStores") or {}))
        for name, spec in stores.items():
            store = self.data_stores.get(name)
            if store is not None:
                spec.update(Endpoint=store.endpoint, Bucket=store.bucket, Region=store.region or "us-east-1")
                spec.pop("Anonymous", None)  # faasr-py tests `if Anonymous:`: "FALSE" would be anonymous
                if store.anonymous:
                    spec["Anonymous"] = True
                keys = (store.access_key, store.secret_key)
            else:
                keys = tuple((self.environ.get(f"{name}_{k}") or "").strip() for k in ("AccessKey", "SecretKey"))
            for field, value in zip(("AccessKey", "SecretKey"), keys, strict=True):
                if value:
                    spec[field] = value
                    self._remember_secret(value)
        out["ComputeServers"] = servers
        out["DataStores"] = stores
        return out

    def job_request(self, invocation, action):
        """The body faasr-py's invoke_slurm posts."""
        function = self.function_name(invocation, action)
        data = invocation.workflow.data
        environment = {"PAYLOAD_URL": self.payload_url,
                       "OVERWRITTEN": json.dumps(self.overwritten(invocation, action), separators=(",", ":"))}
        if self.gh_pat:
            environment["GH_PAT"] = self.gh_pat
        self._check_environment(environment)
        function_name = invocation.workflow.actions[action].function_name
        res = resource_requirements(data, action, self.server)
        return {"job": {"name": function, "partition": res["partition"], "nodes": str(res["nodes"]),
                        "tasks": str(res["tasks"]), "cpus_per_task": str(res["cpus_per_task"]),
                        "memory_per_cpu": str(res["memory_mb"]), "time_limit": str(res["time_limit"]),
                        "current_working_directory": res["working_dir"], "environment": environment},
                "script": job_script(data, function_name, function, environment)}

    def _check_environment(self, environment):
        for key, value in environment.items():
            if "$" in value:
                # FaaSr's script exports it as '...\$...' in single quotes: the action would read a
                # backslash before every $ and (for OVERWRITTEN) invalid JSON.
                raise BackendError(
                    f"The SLURM job's {key} would contain a \"$\" (in a credential, an argument or a "
                    "name): FaaSr's job script escapes it as \\$ inside single quotes, so the action would "
                    "read it altered and fail. Remove the $ from the value (rotate a credential that has "
                    "one), then run again.")
            if len(value.encode()) >= MAX_ENV_VALUE:
                raise BackendError(
                    f"The SLURM job's {key} is {len(value.encode()) // 1024} KiB; slurmrestd refuses an "
                    "environment value of 256 KiB or more. Pass fewer argument overrides.")

    # -- submit ------------------------------------------------------------------------
    def trigger(self, invocation, action=None):
        """Submit the action's job; return once slurmrestd accepted it (a job id)."""
        action = self._action(invocation, action)
        function = self.function_name(invocation, action)
        body = self.job_request(invocation, action)
        response, attempts = self._send(self._session, "POST", self.submit_url(), json=body,
                                        headers=self.jobs.headers())
        job_id = _job_id(response) if response.status_code in (200, 201, 202) else None
        if job_id is not None:
            log.info("SLURM: submitted %s as job %s (partition %s, InvocationID %s)", function, job_id,
                     body["job"]["partition"], invocation.invocation_id)
            self.triggered.append((action, invocation.invocation_id))
            self._follow(invocation)
            self.watcher.submitted(invocation, job_id, action)
            return {"platform": self.platform, "action": action, "function": function,
                    "status": response.status_code, "job_id": job_id}
        raise BackendError(self._clean(self._explain(response, attempts, function, body["job"]["partition"])))

    def _retryable(self, response):
        # slurmrestd answers every refusal with 500 and an "errors" list: those are final
        return super()._retryable(response) and not _slurm_errors(response)

    def _base_url(self):
        return self.endpoint

    def _explain(self, response, attempts, function, partition):
        status = response.status_code
        errors = _slurm_errors(response)
        message = "; ".join(errors) if errors else response_message(response)
        quoted = f", \"{message}\"" if message else ""
        where = f"slurmrestd at {self.endpoint}"
        fix_token = (f"Set {self.token_variables[0]} to a fresh token: `scontrol token username={self.user} "
                     "lifespan=SECONDS` on the cluster prints one (the part after SLURM_JWT=)")
        if status == 401:
            return (f"{where} refused the request as unauthenticated (HTTP 401{quoted}): it got no token or "
                    f"no user name. {fix_token}, and UserName of compute server {self.server_name!r}.")
        if status == 403:
            return (f"{where} does not let user {self.user!r} submit jobs with the token from "
                    f"{self.token_source} (HTTP 403{quoted}). Use a token issued for that user, or fix "
                    f"UserName of compute server {self.server_name!r}.")
        if status == 404:
            return (f"{where} has no {self.submit_url()[len(self.endpoint):]} (HTTP 404{quoted}). Slurm 22.05 "
                    f"serves APIVersion v0.0.36 to v0.0.38 (FaaSr's default is v0.0.37); fix APIVersion "
                    f"{self.api_version!r} or Endpoint of compute server {self.server_name!r}.")
        if any("partition" in e.lower() for e in errors):
            return (f"{where} refused job {function}: partition {partition!r} does not exist (HTTP "
                    f"{status}{quoted}). Set Partition of compute server {self.server_name!r} (or the "
                    "action's Resources.Partition) to one `sinfo -s` lists.")
        if any(("Zero Bytes" in e or "authentication" in e.lower() or "credential" in e.lower()) for e in errors):
            return (f"{where} accepted the request but slurmctld rejected the token from {self.token_source} "
                    f"(HTTP {status}{quoted}): it is expired, revoked or signed with another cluster's key. "
                    f"{fix_token}.")
        if status >= 500:
            return (f"{where} failed the submission of {function} after {attempts} attempts (HTTP "
                    f"{status}{quoted}). Check `sinfo` and slurmctld's log, then run again.")
        return (f"{where} did not accept job {function} (HTTP {status}{quoted}); faasr-easypy expected 200 "
                "with a job_id.")

    def follow_invocation(self, invocation, data_store, check_interval=None):
        """The runner's hook (see runner.py): watch `invocation`'s jobs every check interval,
        writing to its logs in `data_store`; returns the callback for the log lines the monitor
        reads (they name the successors' job ids)."""
        self._follow(invocation, data_store, check_interval)
        return lambda action, rank, line: self.watcher.observe_line(invocation.invocation_id, action, rank, line)

    def _follow(self, invocation, data_store=None, interval=None):
        from ..s3.client import shared_client

        store = data_store or self.data_stores.get(invocation.workflow.logging_data_store)
        known = self.watcher.record(invocation.invocation_id)
        if store is None or (known is not None and known.client is not None and data_store is None):
            self.watcher.follow(invocation, interval=interval)
            return
        self.watcher.follow(invocation, shared_client(store, max_attempts=2, connect_timeout=2, read_timeout=10),
                            store.bucket, interval)

    def cancel(self, invocation):
        """scancel exactly the invocation's jobs SLURM still has: the entry job this backend
        submitted and the successors faasr-py logged (slurm_watch.py); never another run's
        jobs of the same names."""
        self.watcher.cancel(invocation.invocation_id)

    def close(self):
        self.watcher.close()
        if self._own_session:
            self._session.close()


def _slurm_errors(response):
    """The texts of slurmrestd's {"errors": [{"error": ...}]} list, [] if none."""
    try:
        data = response.json()
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    out = []
    for item in data.get("errors") or []:
        if isinstance(item, dict) and (item.get("error") or item.get("description")):
            out.append(str(item.get("error") or item.get("description")))
    return out


def _job_id(response):
    """FaaSr reads job_id, jobId, id or job.job_id."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    job = data.get("job") if isinstance(data.get("job"), dict) else {}
    for value in (data.get("job_id"), data.get("jobId"), data.get("id"), job.get("job_id")):
        if value not in (None, ""):
            return value
    return None


__all__ = ["SlurmBackend", "job_script", "jwt_expiry", "resource_requirements"]
