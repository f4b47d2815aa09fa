"""Which jobfile this pyATS run has, whether it uses faasr_easypy, and its project folder."""

import os
import sys
from pathlib import Path

# Archive, testbed and config defaults apply to jobfiles that use faasr_easypy.
MARKER = "faasr_easypy"


def is_faasr_jobfile(path):
    """True when the jobfile at `path` uses faasr_easypy (read as text, not imported)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(200_000)
    except (OSError, TypeError):
        return False


def find_jobfile(argv=None):
    """The jobfile named on a `pyats run job` / `easypy` command line, or None."""
    argv = list(sys.argv if argv is None else argv)
    for i, arg in enumerate(argv[1:], 1):
        if arg.endswith(".py") and not argv[i - 1].startswith("-") and os.path.isfile(arg):
            return arg
    for arg in argv[1:]:
        if arg.endswith(".py") and os.path.isfile(arg):
            return arg
    return None


def project_root(jobfile):
    """The project a jobfile belongs to: the nearest folder above it with archives/,
    setup.py, pyproject.toml or .git; else the current folder."""
    if jobfile:
        here = Path(jobfile).resolve().parent
        for folder in [here, *here.parents]:
            if any((folder / marker).exists() for marker in ("archives", "setup.py", "pyproject.toml", ".git")):
                return folder
    return Path.cwd()
