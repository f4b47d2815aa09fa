"""pyATS's git information about a testscript, looked up once per job.

aetest's reporter calls ``pyats.reporter.utils.get_git_info(path, sha256)``
for every section of a testscript. Its lru_cache is keyed by the section's
source hash, so every section misses and runs GitPython again (a repository
scan and several ``git`` processes: ~15 ms each, ~0.3 CPU-s for a testscript
of 14 sections, in every task). The answer depends only on the file (commit,
branch, path, modified or not), so :func:`install` swaps in a lookup cached by
path, and :func:`warm` fills it in the job process before a task forks: the
task inherits the answer and runs no ``git`` at all.
"""

import gc
import logging
import os

from ..forksafe import ForkSafeLock

log = logging.getLogger(__name__)

# Modules that imported get_git_info by name (Cython modules look it up at call time).
USERS = ("pyats.aetest.reporter.aereport", "pyats.easypy.utils")

_original = None
_cache = {}
_warmed = set()  # paths looked up in this process (and their git children reaped)
_lock = ForkSafeLock()


def install():
    """Replace get_git_info where aetest and easypy use it (idempotent, best effort)."""
    global _original
    if _original is not None:
        return True
    try:
        import importlib

        from pyats.reporter import utils
    except Exception as exc:  # another pyATS version: leave it alone
        log.debug("pyATS get_git_info not found: %s", exc)
        return False
    _original = utils.get_git_info
    for name in ("pyats.reporter.utils", *USERS):
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        if getattr(module, "get_git_info", None) is _original:
            module.get_git_info = get_git_info
    return True


def get_git_info(path, sha256=None):
    """Same answer as pyATS's get_git_info, computed once per file."""
    key = os.path.abspath(str(path))
    with _lock:
        if key not in _cache:
            _cache[key] = _original(path, sha256) if sha256 is not None else _original(path)
        return _cache[key]


def warm(path):
    """Job process, before forking: look `path` up so the task inherits the answer
    (once install() has run: pyats_patches.install())."""
    if _original is not None:
        key = os.path.abspath(str(path))
        try:
            get_git_info(key)
        except Exception as exc:  # not fatal: the task asks again
            log.debug("git information of %s: %s", path, exc)
        if key not in _warmed:
            _warmed.add(key)
            # GitPython keeps a `git cat-file --batch-check` child per Repo until the Repo
            # (a reference cycle) is collected. Left alone it lives to the end of the job,
            # where pyATS waits a second for it before killing it.
            gc.collect()
