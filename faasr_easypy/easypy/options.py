"""Option precedence in a pyATS job: --faasr-* argument > jobfile value > testbed setting > default."""

DEFAULTS = {
    "timeout": 300.0,          # seconds one workflow may run
    "check_interval": 0.5,     # seconds between S3 polls
    "action_timeout": 600.0,   # seconds one action may run
    "parallel": 16,            # workflow tasks at once
    "grace": 30.0,             # post_task_exit_grace_period of every task
    "runtime_margin": 120.0,   # max_runtime = timeout + this, unless given
}

TESTBED_KEYS = {"timeout": "Timeout", "check_interval": "CheckInterval", "action_timeout": "ActionTimeout"}


def job_options(options):
    """DEFAULTS updated with the given (not None) options."""
    out = dict(DEFAULTS)
    out.update({k: v for k, v in (options or {}).items() if v is not None})
    return out


def option(options, testbed, name, given=None):
    """CLI argument > value given in the jobfile > testbed setting > default."""
    cli = options.get("cli_" + name)
    if cli is not None:
        return cli
    if given is not None:
        return given
    testbed_key = TESTBED_KEYS.get(name)
    if testbed_key and testbed_key in testbed.options:
        return testbed.options[testbed_key]
    return options.get(name)
