"""Command-line arguments of FaaSr jobs, read strictly: a typo is an error, with a "did you mean".

pyATS parses the arguments it knows (its own and the plugins' ``--faasr-*``, also
abbreviated) and leaves the rest in ``sys.argv`` for the jobfile and, as script
parameters, for every task. So an unknown ``--faasr-timout 5`` used to vanish
there and the job ran with the default. Two users of this module:

* the Easypy plugin refuses any ``--faasr-*`` left over (:func:`refuse_unknown_faasr`),
  before the job starts;
* a jobfile with arguments of its own parses them with :func:`parse_job_args`,
  which refuses anything it does not know (``regression_job.py``).

Both end the job the same way: one line naming the argument and the closest
known one, exit code 2, no traceback (:func:`refuse`).
"""

import logging
import sys

from ..arguments import ArgumentError, StrictParser, parse_args_strictly, unknown_argument

log = logging.getLogger(__name__)

__all__ = ["ArgumentError", "StrictParser", "parse_job_args", "refuse", "refuse_unknown_faasr"]

FAASR_PREFIX = "--faasr-"
# pyATS reads -C/--configuration FILE on its own and leaves it in sys.argv for everyone.
PYATS_LEFTOVERS = ("-C", "--configuration")


def refuse(exc):
    """End the job on a user mistake: the paragraph, exit code 2, no traceback (pyATS prints one
    for any other exception from a plugin or a jobfile; SystemExit passes through it)."""
    log.error("faasr-easypy: %s", exc)
    raise SystemExit(exc.exit_code)


def unknown_faasr_args(argv, known):
    """The ``--faasr-*`` options in `argv` (what pyATS left over) that are not in `known`."""
    out = []
    for token in argv:
        option = token.split("=", 1)[0]
        if option.startswith(FAASR_PREFIX) and option not in known:
            out.append(option)
    return out


def refuse_unknown_faasr(known, argv=None):
    """Refuse the job (exit 2) if an unknown --faasr-* argument was given."""
    argv = sys.argv[1:] if argv is None else argv
    unknown = unknown_faasr_args(argv, known)
    if unknown:
        refuse(unknown_argument(unknown[0], known, "pyats run job"))


def without_pyats_leftovers(argv):
    """`argv` without the pyATS options every jobfile sees (-C FILE, --configuration=FILE)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in PYATS_LEFTOVERS:
            skip = "=" not in token
            continue
        out.append(token)
    return out


def parse_job_args(parser, argv=None):
    """In a jobfile: its own arguments from what pyATS left in sys.argv; anything unknown
    or malformed ends the job before it starts a task (exit 2, one line)."""
    try:
        return parse_args_strictly(parser, without_pyats_leftovers(sys.argv[1:] if argv is None else argv))
    except ArgumentError as exc:
        refuse(exc)
