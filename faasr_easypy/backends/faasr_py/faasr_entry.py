"""Run ONE FaaSr action with the real faasr-py 2.1.0 runtime (inside its own virtualenv).

Started by FaaSrPyBackend as `<faasr-py venv>/bin/python faasr_entry.py` (named after FaaSr-Docker's entry
script so its log lines read `[faasr_entry.py]` as on GitHub); it must not
import faasr_easypy (whose dependencies are not installed there). It does what
FaaSr-Docker's faasr_entry.py does on GitHub Actions (FAASR_PLATFORM=github,
UseSecretStore: secrets from the environment), with ONE substitution: requests
to https://api.github.com go to the loopback GitHub API stand-in named by
FAASR_EASYPY_GITHUB_API. Through it the real runtime code fetches the workflow
JSON (contents API), downloads the functions (tarball API) and triggers the
next actions (workflow_dispatch). Everything else - payload, schema check,
start(), fan-in election, S3 log handler, executor, RPC server on
127.0.0.1:8000, the user function, .done, scheduler - is faasr-py's own code.

Environment: FAASR_PLATFORM, OVERWRITTEN, PAYLOAD_URL, GH_PAT, <Server>_PAT,
<DataStore>_AccessKey/_SecretKey, FAASR_EASYPY_GITHUB_API.
"""

import json
import logging
import os
import signal
import sys
from datetime import datetime

GITHUB_API = "https://api.github.com"
DRIVER_PID = os.getpid()


def _kill_group_on_sigterm():
    # The runtime forks an RPC server and the user function; when we are told to
    # stop (time limit, cancel, harness gone), they must go too, or port 8000 stays taken.
    def handler(signum, frame):
        if os.getpid() == DRIVER_PID:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    signal.signal(signal.SIGTERM, handler)


def _redirect_github_api(base):
    """The one substitution: api.github.com -> the loopback stand-in (real HTTP)."""
    import requests

    original = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        if isinstance(url, str) and url.startswith(GITHUB_API + "/"):
            url = base.rstrip("/") + url[len(GITHUB_API):]
        return original(self, method, url, *args, **kwargs)

    requests.Session.request = request


def main():
    _kill_group_on_sigterm()
    _redirect_github_api(os.environ["FAASR_EASYPY_GITHUB_API"])

    # From here on this mirrors faasr_entry.handler() for FAASR_PLATFORM=github.
    from FaaSr_py import Executor, FaaSrPayload, S3LogSender, Scheduler, global_config

    logger = logging.getLogger("FaaSr_py")
    start_time = datetime.now()

    payload = FaaSrPayload(os.getenv("PAYLOAD_URL"), json.loads(os.getenv("OVERWRITTEN")))
    current = payload["FunctionInvoke"]
    server = payload["ActionList"][current]["FaaSServer"]
    if payload["ComputeServers"][server].get("UseSecretStore"):
        logger.info("Fetching secrets from secret store")
        payload.replace_secrets(_secrets_from_env(payload, logger))
    else:
        logger.debug("UseSecretStore off - using overwritten")

    if not global_config.SKIP_WF_VALIDATE:
        payload.start()
    global_config.add_s3_log_handler(payload, start_time)

    result = Executor(payload).run_func(current, start_time)
    logger.debug(f"Finished execution of {current} with result {result}")
    Scheduler(payload).trigger_all(workflow_name=payload["WorkflowName"], return_val=result)

    S3LogSender.get_log_sender().flush_log()
    # faasr_entry logs this after the last flush, so it reaches stdout only.
    logger.info(f"Finished action - InvocationID: {payload['InvocationID']}")


def _secrets_from_env(payload, logger):
    """faasr_entry.fetch_derived_secrets for GitHub Actions: repository secrets are env vars."""
    names = []
    for name, fields in payload["ComputeServers"].items():
        kind = fields["FaaSType"]
        if kind == "GitHubActions":
            names.append(f"{name}_PAT")
        elif kind == "Lambda":
            names += [f"{name}_AccessKey", f"{name}_SecretKey"]
        elif kind == "GoogleCloud":
            names.append(f"{name}_SecretKey")
        elif kind == "SLURM":
            names.append(f"{name}_Token")
        elif kind == "OpenWhisk":
            names.append(f"{name}_APIkey")
        else:
            logger.warning(f"Unknown FaaSType for {name}: {kind}")
    for name in payload["DataStores"]:
        names += [f"{name}_AccessKey", f"{name}_SecretKey"]
    secrets = {}
    for key in names:
        secrets[key] = os.getenv(key)
        if secrets[key] is None:
            logger.warning(f"{key} is missing from env")
    return secrets


if __name__ == "__main__":
    sys.exit(main())
