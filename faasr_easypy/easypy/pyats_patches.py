"""Every change faasr-easypy makes to pyATS internals, installed in one place.

pyATS has no hooks for these, so each replaces a name inside a pyATS module. They only
save CPU (the results are pyATS's own), so each applies only where its premise holds, and
declines with a warning otherwise: the job then runs at pyATS's own speed. The patch
bodies live in their modules; this module is the only one that installs them:

- ``reporter_worker``: pyATS's reporter server handles its messages on one thread kept
  for the life of the process, instead of starting a thread per message.
- ``git_info``: ``get_git_info`` (rebound where aetest and easypy imported it by name)
  looked up once per testscript file, in the job process before tasks fork.
- ``source_cache``: ``inspect`` in two pyATS modules finds a testscript's class sources
  once per file. Python 3.13's inspect locates a class by ``__firstlineno__`` instead of
  parsing the file, so there the premise fails and the patch declines.
- ``task_run``: not a patch but a premise: ``WorkflowTask`` overrides pyATS's private
  ``Task._run(**kwargs)`` to set up the workflow and pass the testscript its ``tester``.
- ``reporter_redaction``: ``ReportClient._socket_wrapper`` (every message a task sends
  pyATS's reporter: section reasons, assertion messages, details) redacts its strings and
  TestResult reasons first (``redaction.py``), so results.json and ResultsDetails.xml hold
  no secret. Not a speed-up: when it declines, the error says secrets may reach them (the
  archive folder is still masked before the zip).
- ``mail_encoding``: ``EmailMsg.message``/``send`` build every part encoded for SMTP and
  redacted, and say why a send failed (``pyats_mail.py``).

:func:`for_job` (pre_job) gives these two the job's redactor and wraps this job's
``runtime.runinfo.archive()`` so the archive folder is masked right before pyATS zips it.

:func:`install` is called by the Easypy plugin when a FaaSr job starts (its registration,
before easypy forks the reporter process, and pre_job), never on import.
tests/test_pyats_patches.py holds a canary per patch: it fails on a pyATS or Python upgrade
that removes what a patch replaces or changes how it behaves.
"""

import inspect
import logging
import sys
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

#: the pyATS minor version the patches were written and tested against (setup.py pins it)
PYATS_TESTED = (26, 9)

_installed = {}  # patch name -> applied (True) or declined (False), in this process


@dataclass(frozen=True)
class Patch:
    name: str
    premise: Callable[[], str | None]  # None when the premise holds, else why it does not
    apply: Callable[[], bool]          # True when installed


def pyats_version():
    """(major, minor) of the installed pyATS, or None."""
    from importlib import metadata

    try:
        parts = metadata.version("pyats").split(".")
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except Exception:
        return None


def _tested_pyats():
    found = pyats_version()
    if found != PYATS_TESTED:
        return (f"pyATS {'.'.join(map(str, found)) if found else '(not found)'} is not the tested "
                f"{'.'.join(map(str, PYATS_TESTED))}")
    return None


def reporter_premise():
    import concurrent.futures

    from . import reporter_worker

    try:
        from pyats.reporter import server
    except Exception as exc:
        return f"pyats.reporter.server cannot be imported ({exc})"
    current = getattr(server, "ThreadPoolExecutor", None)
    if current not in (concurrent.futures.ThreadPoolExecutor, reporter_worker.OneWorkerExecutor):
        return f"pyats.reporter.server.ThreadPoolExecutor is {current!r}, not concurrent.futures'"
    return None


def git_info_premise():
    import importlib

    from . import git_info

    try:
        from pyats.reporter import utils
    except Exception as exc:
        return f"pyats.reporter.utils cannot be imported ({exc})"
    original = getattr(utils, "get_git_info", None)
    if not callable(original):
        return "pyats.reporter.utils.get_git_info does not exist"
    if original is git_info.get_git_info:
        return None  # installed already
    for name in git_info.USERS:
        module = importlib.import_module(name)
        if getattr(module, "get_git_info", None) is not original:
            return f"{name} no longer imports get_git_info by name"
    return None


def source_cache_premise(version_info=None):
    import importlib

    from . import source_cache

    version_info = sys.version_info if version_info is None else version_info
    if tuple(version_info[:2]) >= (3, 13):
        return (f"Python {version_info[0]}.{version_info[1]}'s inspect finds a class by "
                "__firstlineno__, so the per-file class table would answer differently")
    for name in source_cache.USERS:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            return f"{name} cannot be imported ({exc})"
        if getattr(module, "inspect", None) not in (inspect, source_cache._substitute):
            return f"{name} no longer uses the inspect module by name"
    return None


def task_run_premise():
    try:
        from pyats.easypy.tasks import Task
    except Exception as exc:
        return f"pyats.easypy.tasks.Task cannot be imported ({exc})"
    run = getattr(Task, "_run", None)
    if run is None:
        return "pyats.easypy.tasks.Task has no _run"
    try:
        params = inspect.signature(run).parameters.values()
    except (TypeError, ValueError):
        return "the signature of Task._run cannot be read"
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return "Task._run no longer takes the testscript's parameters as **kwargs"
    return None


def _apply_reporter():
    from . import reporter_worker

    return reporter_worker.install()


def _apply_git_info():
    from . import git_info

    return git_info.install()


def _apply_source_cache():
    from . import source_cache

    return source_cache.install()


def _reporter_redaction_premise():
    from . import redaction

    return redaction.reporter_premise()


def _apply_reporter_redaction():
    from . import redaction

    return redaction.install_reporter_masking()


def _mail_premise():
    from . import pyats_mail

    return pyats_mail.premise()


def _apply_mail():
    from . import pyats_mail

    return pyats_mail.install()


PATCHES = (
    Patch("reporter_worker", reporter_premise, _apply_reporter),
    Patch("git_info", git_info_premise, _apply_git_info),
    Patch("source_cache", source_cache_premise, _apply_source_cache),
    Patch("task_run", task_run_premise, lambda: True),
    Patch("reporter_redaction", _reporter_redaction_premise, _apply_reporter_redaction),
    Patch("mail_encoding", _mail_premise, _apply_mail),
)
#: patches whose absence is a correctness or secrecy problem, not only a slower job
CRITICAL = ("task_run", "reporter_redaction", "mail_encoding")


def install():
    """Install every patch whose premise holds, once per process; {name: installed}.
    A patch that declines logs a warning saying why."""
    for patch in PATCHES:
        if patch.name in _installed:
            continue
        reason = _tested_pyats() or patch.premise()
        applied = False
        if reason is None:
            try:
                applied = bool(patch.apply())
            except Exception as exc:  # a broken patch must not break the job
                reason = f"{type(exc).__name__}: {exc}"
            else:
                reason = None if applied else "its install() found nothing to replace"
        if reason is not None:
            level = logging.ERROR if patch.name in CRITICAL else logging.WARNING
            log.log(level, "faasr-easypy: pyATS patch %s not applied: %s", patch.name, reason)
        _installed[patch.name] = applied
    return dict(_installed)


def installed(name):
    return _installed.get(name, False)


def for_job(runtime, redactor):
    """pre_job: the job's redactor for the reporter and mail patches, and its archive folder
    masked right before pyATS zips it."""
    from . import archive_writing, pyats_mail, redaction

    redaction.use(redactor)
    pyats_mail.use(redactor)
    redaction.mask_archive_folder(runtime, redactor)
    archive_writing.guard(runtime)  # a full archive folder: one paragraph, no cut zip


def warm(testscript):
    """Job process, before a task forks: fill the installed caches for `testscript`."""
    if installed("git_info"):
        from . import git_info

        git_info.warm(testscript)  # else every section of the testscript runs git
    if installed("source_cache"):
        from . import source_cache

        source_cache.warm(testscript)  # else aetest parses it again for every section
