"""How each FaaSr platform's invoker says, in its log, that it triggered a successor.

A conditional branch that is not taken leaves nothing in S3; the only
evidence of which successors ran is these lines in the invoker's log. The
wording comes from faasr-py 2.x's scheduler (OpenWhisk's "Succesfully" is
its spelling, not ours). GitHub Actions, Lambda and OpenWhisk write one
line per rank with the bare action name, so a bare name of a ranked action
means every rank; the local backend names the rank: `work(2)`.
"""

import re

from ..workflow import ACTION_NAME_PATTERN

_TARGET = rf"(?P<target>{ACTION_NAME_PATTERN})(?:\((?P<rank>\d+)\))?"

# The one table: platform -> pattern of an invoker line's message (the part after
# "[elapsed] [LEVEL] [file] "). Keys match Backend.platform.
INVOCATION_PATTERNS = {
    "GitHubActions": re.compile(rf"^GitHub Action: Successfully invoked: {_TARGET}\s*$"),
    "Lambda": re.compile(rf"^Lambda: Successfully invoked: {_TARGET}\s*$"),
    "OpenWhisk": re.compile(rf"^OpenWhisk: Succes{{1,2}}fully invoked:? {_TARGET}\s*$"),
    # Google Cloud names the job `<WorkflowName>-<action>`; the state machine strips the prefix.
    "GoogleCloud": re.compile(rf"^GoogleCloud: Successfully invoked:? {_TARGET}\s*$"),
    # the job id (slurmrestd's job_id, or "unknown") tells the SLURM backend which jobs are this run's
    "SLURM": re.compile(rf"^SLURM: Successfully submitted job: {_TARGET} \(Job ID(?:: (?P<job_id>\d+)\))?"),
    # faasr-py logs this one as a Python tuple, hence the optional "('".
    "Kubernetes": re.compile(rf"^\(?'?Kubernetes: Successfully submitted jobs: {_TARGET} \(Job ID"),
    "local": re.compile(rf"^Local: Successfully invoked: {_TARGET}\s*$"),
}


def parse_invocation(message, platform=None):
    """(action, rank or None) if `message` says a successor was triggered, else None.

    Tries every platform unless `platform` names one: a workflow may mix
    compute servers, and the monitor cannot know which one wrote a line.
    """
    if "invoked" not in message and "submitted" not in message:
        return None  # cheap exit: most log lines are user output
    patterns = [INVOCATION_PATTERNS[platform]] if platform else INVOCATION_PATTERNS.values()
    for pattern in patterns:
        m = pattern.match(message)
        if m:
            return m["target"], int(m["rank"]) if m["rank"] else None
    return None


# When a predecessor FAILED or was SKIPPED, may the platform still start an action it has
# triggered (and how long may that take)? docs/STATUSES.md, "Blocked upstream".
#   None: never. The local backend's scheduler starts nothing below a failed or skipped
#         instance (a failed action triggers nothing; a fan-in starts when all succeeded),
#         so such an action is SKIPPED as soon as the blocked predecessor is final.
#   seconds: the runtime may still start it (faasr-py's fan-in election only looks for
#         .done files, which it writes for failed actions too): SKIPPED once every
#         predecessor is final and it has not started within this grace.
START_GRACE = {
    "local": None,
    "faasr-py": 20.0,        # one action at a time on this host, ~1-3 s to start each
    "GitHubActions": 180.0,  # a queued runner plus a container start
    "Lambda": 60.0,
    "OpenWhisk": 60.0,
    "GoogleCloud": 180.0,
    "SLURM": 120.0,
    "Kubernetes": 180.0,
}
DEFAULT_START_GRACE = 180.0  # a platform the table does not know


def start_grace(platform):
    """START_GRACE of `platform` (see above); unknown platforms get DEFAULT_START_GRACE."""
    return START_GRACE.get(platform, DEFAULT_START_GRACE) if platform else DEFAULT_START_GRACE
