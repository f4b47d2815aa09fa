"""FaaSr's own runtime on a SLURM cluster of this machine, GitHub played by a loopback stand-in.

The SLURM trigger backend (backends/slurm.py) submits the entry action exactly
as faasr-py would; from there every job is FaaSr's: its script runs `docker
run ... <image>`, the nodes' docker stand-in (docker_standin.py) runs
faasr-py 2.1.0, and faasr-py submits the successors through slurmrestd.
What a real deployment gets from GitHub (the workflow JSON at PAYLOAD_URL,
the functions of FunctionGitRepo) comes from a GitHub API stand-in that this
backend starts and registers under each InvocationID for the nodes.

Used by a testbed's SLURM device with `GitHubStandIn: true` (testbeds/slurm_local.yaml).
The workflow's compute servers all become this SLURM server, as the testbed maps them.
"""

import json
import logging
import secrets

from ..base import Backend
from ..remote import default_payload_path, github_payload_url
from ..slurm import SlurmBackend
from .backend import publish_functions
from .docker_standin import register, unregister
from .github_api import GitHubAPIStandIn

log = logging.getLogger(__name__)

#: where the published JSON lives in the stand-in (owner/repo/branch)
OWNER, REPO, BRANCH = "faasr-easypy", "slurm-standin", "main"


class FaaSrPyOnSlurmBackend(Backend):
    platform = "SLURM"  # faasr-py writes "SLURM: Successfully submitted job: X (Job ID ...)"

    def __init__(self, workflow, server_name, functions_dir, **slurm_options):
        self.workflow = workflow
        self.functions_dir = functions_dir
        self._gh_token = "ghp_" + secrets.token_hex(18)  # what the stand-in accepts; never logged
        self._api = GitHubAPIStandIn(self._gh_token, lambda dispatch: "Not Found: SLURM runs no GitHub jobs")
        self._published = []  # (invocation, path of its JSON in the stand-in)
        try:
            self.slurm = SlurmBackend(workflow, server_name, gh_pat=self._gh_token,
                                      payload_url=github_payload_url(OWNER, REPO, BRANCH, "placeholder.json"),
                                      **slurm_options)
        except BaseException:
            self._api.close()
            raise
        self.server_name = self.slurm.server_name

    def _publishable(self):
        """The workflow JSON as the nodes fetch it: every compute server is this SLURM server."""
        data = self.workflow.copy_data()
        for key in ("InvocationID", "InvocationTimestamp"):
            data.pop(key, None)
        spec = {k: v for k, v in self.slurm.server.items() if k != "Token"}
        spec.update(FaaSType="SLURM", Endpoint=self.slurm.endpoint)
        data["ComputeServers"] = {name: dict(spec) for name in data.get("ComputeServers") or {}}
        return data

    def trigger(self, invocation):
        wf = invocation.workflow
        path = f".faasr-easypy/{invocation.invocation_id}/{default_payload_path(wf)}"
        self._api.publish_file(OWNER, REPO, BRANCH, path, json.dumps(self._publishable()).encode())
        publish_functions(self._api, wf, self.functions_dir)
        self._published.append((invocation, path))
        register(invocation.invocation_id, self._api.url)
        self.slurm.payload_url = github_payload_url(OWNER, REPO, BRANCH, path)
        # successors must also go to SLURM: OVERWRITTEN's ComputeServers are the published ones + Token
        self.slurm.server_overrides = {name: dict(spec) for name, spec in self._publishable()["ComputeServers"].items()}
        return self.slurm.trigger(invocation)

    def follow_invocation(self, invocation, data_store, check_interval=None):
        return self.slurm.follow_invocation(invocation, data_store, check_interval)

    def cancel(self, invocation):
        self.slurm.cancel(invocation)

    def close(self):
        for invocation, path in self._published:
            self.slurm.cancel(invocation)  # whatever of it SLURM still has (none after a normal end)
            unregister(invocation.invocation_id)
            self._api.unpublish_file(OWNER, REPO, BRANCH, path)
        self._published.clear()
        self._api.close()
        self.slurm.close()
