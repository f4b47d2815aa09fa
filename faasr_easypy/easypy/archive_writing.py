"""The archive pyATS zips at the end of a job, when it cannot be written.

A full (or read-only) archive folder made pyATS print tracebacks and leave a zip that is
empty or cut, which `pyats logs view` and `faasr-easypy report` then fail on. Here the
zip is removed, one paragraph names the folder, says where the run's files still are (pyATS
keeps its run folder when the archive fails) and how to fix it, and the job exits 2.
"""

import errno
import logging
import os
import shutil

log = logging.getLogger(__name__)

EXIT_CODE = 2
_failed = []  # why, once an archive could not be written (the job's last words say so)


def guard(runtime):
    """pre_job: wrap pyATS's runinfo.archive() (after the masking wrapper)."""
    runinfo = getattr(runtime, "runinfo", None)
    original = getattr(runinfo, "archive", None)
    if not callable(original) or getattr(original, "_faasr_guards", False):
        return

    def archive(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except OSError as exc:
            failed(runinfo, exc)

    archive._faasr_guards = True
    archive._faasr_masks = getattr(original, "_faasr_masks", False)
    runinfo.archive = archive


def failed(runinfo, exc):
    """Remove what pyATS left of the zip, say why in one paragraph, end the job with EXIT_CODE."""
    zip_file = str(getattr(runinfo, "archive_file", "") or "")
    if zip_file and not zip_file.endswith(".zip"):
        zip_file += ".zip"
    folder = os.path.dirname(zip_file) or "the archive folder"
    for partial in {zip_file, zip_file[:-4]} - {""}:
        try:
            os.unlink(partial)
        except OSError:
            pass
    run_folder = getattr(runinfo, "runinfo_dir", None) or getattr(runinfo, "directory", None)
    why = describe(exc, folder)
    message = (f"the archive {zip_file} could not be written: {why}. No archive is "
               f"left (pyATS had written part of it)" + (f"; the run's files stay in {run_folder} "
                                                         "(faasr_results.json, faasr_report.html, the task logs)"
                                                         if run_folder else "")
               + f". Fix: {fix(exc, folder)}.")
    _failed.append(why + (f"; the run's files are in {run_folder}" if run_folder else ""))
    log.error("faasr-easypy: %s", message)
    raise SystemExit(EXIT_CODE)  # pyATS prints no traceback for it; the job exits non-zero


def describe(exc, folder):
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(folder).free
            return f"the disk of {folder} is full ({free // 1024} KiB free)"
        except OSError:
            return f"the disk of {folder} is full"
    return f"{exc.strerror or exc} ({folder})"


def fix(exc, folder):
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"free space on the disk of {folder}, or give pyats run job --archive-dir a folder on a disk "
                "with room")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make {folder} writable, or give pyats run job --archive-dir a writable folder"
    return f"check {folder}, or give pyats run job --archive-dir another folder"


def failure():
    """Why the archive could not be written, in short, or None."""
    return _failed[-1] if _failed else None
