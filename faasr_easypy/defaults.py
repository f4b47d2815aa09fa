"""The one table of defaults (and of the names) every entry point shares: WorkflowRunner, WorkflowTester,
`faasr-easypy run`, the pytest fixture and pyATS jobs.

Precedence, wherever a value can come from several places: what the caller gives (a
keyword, a CLI flag, a --faasr-* argument) > the testbed's ``custom: faasr:`` setting
(Timeout, CheckInterval, ActionTimeout) when a testbed is given > this table.
"""

DEFAULTS = {
    "timeout": 300.0,              # seconds one workflow run may take
    # 0.2 s: a LIST of the embedded server takes ~25 ms, and a finished run is seen 1 s sooner
    # than at 0.5 s (one poll plus the 1.5-poll grace before a status counts as settled).
    # A testbed for real S3 sets its own CheckInterval.
    "check_interval": 0.2,         # seconds between S3 polls
    "action_timeout": 600.0,       # seconds one action may run
    "max_parallel_actions": None,  # actions at once on this machine (None: 4 per core)
    "max_parallel_tasks": 16,      # workflow tasks at once in a pyATS job
    "task_grace": 30.0,            # post_task_exit_grace_period of every pyATS task
    "runtime_margin": 120.0,       # a task's max_runtime = timeout + this, unless given
}

#: the option each testbed-level ``custom: faasr:`` key sets
TESTBED_KEYS = {"timeout": "Timeout", "check_interval": "CheckInterval", "action_timeout": "ActionTimeout"}

#: the bucket a data store uses when neither the testbed nor the workflow names one
DEFAULT_BUCKET = "faasr"

#: what runs actions on this machine: a testbed's Local device's Runtime, `faasr-easypy run --backend`
RUNTIMES = ("local", "faasr-py")


def setting(name, given=None, testbed=None):
    """`given` if not None, else the testbed's setting for `name` (if any), else DEFAULTS[name]."""
    if given is not None:
        return given
    key = TESTBED_KEYS.get(name)
    options = getattr(testbed, "options", None) or {}
    if key and key in options:
        return options[key]
    return DEFAULTS[name]
