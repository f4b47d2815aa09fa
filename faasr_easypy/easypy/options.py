"""Option precedence in a pyATS job: --faasr-* argument > jobfile value > testbed setting > default
(the defaults and the testbed keys are faasr_easypy/defaults.py's, shared with every entry point)."""

from .. import defaults

# The job's option names (the plugin's --faasr-parallel and --faasr-task-grace) onto the shared table.
DEFAULTS = {
    "timeout": defaults.DEFAULTS["timeout"],
    "check_interval": defaults.DEFAULTS["check_interval"],
    "action_timeout": defaults.DEFAULTS["action_timeout"],
    "parallel": defaults.DEFAULTS["max_parallel_tasks"],
    "grace": defaults.DEFAULTS["task_grace"],
    "runtime_margin": defaults.DEFAULTS["runtime_margin"],
}


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
    testbed_key = defaults.TESTBED_KEYS.get(name)
    if testbed_key and testbed_key in testbed.options:
        return testbed.options[testbed_key]
    return options.get(name)
