"""SLURM job states and cancellation through slurmrestd: what both SLURM modes need.

The FaaSr-runtime mode (FaaSr submits the jobs, slurm_watch.py watches them) and the
cluster executor (local/slurm_executor.py, one job per action of our runtime) both ask
slurmrestd for the states of their jobs (one GET /jobs for all of them), cancel single
jobs (DELETE /job/{id}, scancel over REST) and explain a job that ended without finishing
its function in the same words.
"""

import logging
from typing import NamedTuple

import requests

log = logging.getLogger(__name__)

#: states in which a job will not change any more
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
            "BOOT_FAIL", "DEADLINE")
#: terminal states in which the job's function cannot have finished normally
LOST = tuple(s for s in TERMINAL if s != "COMPLETED")
#: states in which a job still holds or waits for a node
ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING")

_WHAT = {"TIMEOUT": "it ran over its SLURM time limit", "CANCELLED": "it was cancelled (scancel)",
         "NODE_FAIL": "its node failed", "PREEMPTED": "it was preempted",
         "OUT_OF_MEMORY": "it ran out of memory", "BOOT_FAIL": "its node failed to boot",
         "DEADLINE": "it missed its deadline", "FAILED": "its script exited non-zero"}


class JobState(NamedTuple):
    state: str
    reason: str
    name: str
    start_time: float  # epoch seconds, 0 if it never started
    end_time: float

    @property
    def run_seconds(self):
        return max(0.0, self.end_time - self.start_time) if self.start_time and self.end_time else 0.0


class SlurmJobs:
    """GET /jobs and DELETE /job/{id} of one slurmrestd, with a token and user name."""

    def __init__(self, endpoint, token, user, api_version="v0.0.37", session=None, timeout=10):
        self.endpoint = endpoint.rstrip("/")
        self.api = f"{self.endpoint}/slurm/{api_version}"
        self._token = token
        self.user = user
        self.timeout = timeout
        self.session = session or requests.Session()
        self._own_session = session is None

    def headers(self):
        return {"X-SLURM-USER-TOKEN": self._token, "X-SLURM-USER-NAME": self.user, "Accept": "application/json"}

    def states(self):
        """{job id: JobState} of the jobs slurmctld still knows (finished ones for MinJobAge),
        or None when slurmrestd cannot be asked right now."""
        try:
            r = self.session.get(f"{self.api}/jobs", headers=self.headers(), timeout=self.timeout)
            jobs = r.json().get("jobs") if r.status_code == 200 else None
        except (requests.exceptions.RequestException, ValueError, AttributeError):
            return None
        if not isinstance(jobs, list):
            return None
        return {j.get("job_id"): JobState(str(j.get("job_state") or ""), str(j.get("state_reason") or ""),
                                          str(j.get("name") or ""), float(j.get("start_time") or 0),
                                          float(j.get("end_time") or 0))
                for j in jobs if isinstance(j, dict)}

    def cancel(self, job_id):
        """scancel one job; False when slurmrestd could not be reached."""
        try:
            self.session.delete(f"{self.api}/job/{job_id}", headers=self.headers(), timeout=self.timeout)
            return True
        except requests.exceptions.RequestException:
            log.info("SLURM: could not cancel job %s (slurmrestd unreachable)", job_id)
            return False

    def close(self):
        if self._own_session:
            self.session.close()


def lost_reason(job_id, name, state, reason=""):
    """Why the function of a job that SLURM ended in `state` did not finish, in one sentence."""
    what = _WHAT.get(state, f"it ended {state or 'unknown'}")
    why = f" ({reason})" if reason and reason != "None" else ""
    return f"SLURM job {job_id} ({name}) ended {state or 'unknown'} without finishing the function: {what}{why}"


__all__ = ["ACTIVE", "LOST", "TERMINAL", "JobState", "SlurmJobs", "lost_reason"]
