"""The S3 key layout of one FaaSr invocation: the only thing a monitor sees.

    {FaaSrLog}/{WorkflowName}/{InvocationTimestamp}/{InvocationID}/
        <action>.txt | <action>(<rank>).txt          the action's log
        function_completions/<action>.done | <action>.<rank>.done   body "True"
        <action>.candidate                           fan-in election
"""

import re
from dataclasses import dataclass
from typing import Optional

TIMESTAMP_FORMAT = "%Y-%m-%dT%H-%M-%S"
COMPLETIONS = "function_completions"

_LOG = re.compile(r"^(?P<action>[a-zA-Z][a-zA-Z0-9-]*)(?:\((?P<rank>\d+)\))?\.txt$")
_DONE = re.compile(r"^(?P<action>[a-zA-Z][a-zA-Z0-9-]*)(?:\.(?P<rank>\d+))?\.done$")
_CANDIDATE = re.compile(r"^(?P<action>[a-zA-Z][a-zA-Z0-9-]*)\.candidate$")
# One log line: "[<seconds since action start>] [<LEVEL>] [<file.py>] <message>"
LOG_LINE = re.compile(r"^\[(?P<elapsed>\d+(?:\.\d+)?)\] \[(?P<level>[A-Z]+)\] \[(?P<file>[^\]]*)\] (?P<message>.*)$")


@dataclass(frozen=True)
class KeyInfo:
    """What a key inside an invocation folder is: kind in log|done|candidate."""

    kind: str
    action: str
    rank: Optional[int]


class InvocationLayout:
    def __init__(self, log_root, workflow_name, timestamp, invocation_id):
        self.log_root = (log_root or "FaaSrLog").strip("/")
        self.folder = f"{self.log_root}/{workflow_name}/{timestamp}/{invocation_id}"
        self.prefix = self.folder + "/"

    @classmethod
    def for_invocation(cls, invocation):
        wf = invocation.workflow
        return cls(wf.log_root, wf.name, invocation.timestamp, invocation.invocation_id)

    def log_key(self, action, rank=None):
        return f"{self.prefix}{log_name(action, rank)}"

    def done_key(self, action, rank=None):
        suffix = f".{rank}" if rank is not None else ""
        return f"{self.prefix}{COMPLETIONS}/{action}{suffix}.done"

    def candidate_key(self, action):
        return f"{self.prefix}{action}.candidate"

    def classify(self, key) -> Optional[KeyInfo]:
        """What `key` is within this invocation, or None for anything else."""
        if not key.startswith(self.prefix):
            return None
        rest = key[len(self.prefix):]
        if rest.startswith(COMPLETIONS + "/"):
            m = _DONE.match(rest[len(COMPLETIONS) + 1:])
            return KeyInfo("done", m["action"], _rank(m)) if m else None
        m = _LOG.match(rest)
        if m:
            return KeyInfo("log", m["action"], _rank(m))
        m = _CANDIDATE.match(rest)
        if m:
            return KeyInfo("candidate", m["action"], None)
        return None


def log_name(action, rank=None):
    return f"{action}({rank}).txt" if rank is not None else f"{action}.txt"


def instance_label(action, rank=None):
    """How people see one run of an action: `name` or `name(3)`."""
    return f"{action}({rank})" if rank is not None else action


def format_log_line(elapsed, level, filename, message):
    return f"[{elapsed:.3f}] [{level}] [{filename}] {message}"


def parse_log_line(line):
    """(elapsed, level, file, message) for a FaaSr log line, or None."""
    m = LOG_LINE.match(line)
    if not m:
        return None
    return float(m["elapsed"]), m["level"], m["file"], m["message"]


def _rank(match):
    return int(match["rank"]) if match["rank"] else None
