"""The report and pyATS archives.

* :func:`report_hook` — the Easypy plugin's report hook
  (``fn(results, directory, runtime) -> path``): writes ``faasr_report.html``
  next to ``faasr_results.json`` in the run directory (so it lands in the
  archive) and puts the FaaSr section into the report mail.
* :func:`read_results` — faasr_results.json from an archive zip (or a run
  directory, or the JSON file itself).
* :func:`report_from_archive` — what ``faasr-easypy report ARCHIVE.zip`` does.
"""

import json
import logging
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import UserError
from .render import write_html
from .results_file import RESULTS_FILE

log = logging.getLogger(__name__)

REPORT_FILE = "faasr_report.html"
MAX_RESULTS_BYTES = 256 * 1024 * 1024


def read_results(source):
    """The results dict stored in `source`: a pyATS archive .zip, a run directory or a .json file."""
    path = Path(source)
    if not path.exists():
        raise UserError(f"{path} does not exist: give the archive zip a pyATS job wrote "
                        f"(archives/<job>/...zip) or a {RESULTS_FILE} file.")
    if path.is_dir():
        candidates = sorted(path.rglob(RESULTS_FILE), key=lambda p: (len(p.parts), str(p)))
        if not candidates:
            raise UserError(f"{path} holds no {RESULTS_FILE}: the job did not run the faasr-easypy "
                            f"plugin, or it was killed before the plugin's post_job.")
        return _parse(candidates[0].read_bytes(), candidates[0])
    if zipfile.is_zipfile(path):
        return _from_zip(path)
    if path.suffix.lower() == ".zip":
        raise UserError(f"{path} is not a readable zip archive (damaged or not fully written).")
    return _parse(path.read_bytes(), path)


def _from_zip(path):
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist()
                       if PurePosixPath(i.filename).name == RESULTS_FILE and not i.is_dir()]
            if not members:
                raise UserError(
                    f"{path} has no {RESULTS_FILE}: it was written by a job that did not use the "
                    f"faasr-easypy Easypy plugin, or the job was killed before the plugin's post_job "
                    f"could write it. Re-run the job to get a report.")
            member = min(members, key=lambda i: (i.filename.count("/"), i.filename))
            if member.file_size > MAX_RESULTS_BYTES:
                raise UserError(f"{path}: {member.filename} is {member.file_size} bytes, more than the "
                                f"{MAX_RESULTS_BYTES} a report reads.")
            data = archive.read(member)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{path} is not a readable zip archive ({exc}).") from None
    return _parse(data, f"{path}:{member.filename}")


def _parse(data, where):
    from ..strict_json import NotJSON, loads

    try:
        # Not strict (the harness wrote it), but a 200,000-deep file is refused, not a crash.
        results = loads(data.decode("utf-8", "replace"), str(where), strict=False)
    except NotJSON as exc:
        raise UserError(f"{where} is not valid JSON ({exc.reason}); the job may have been killed while "
                        "writing it.") from None
    if not isinstance(results, dict):
        raise UserError(f"{where} does not hold a JSON object, so it is not a {RESULTS_FILE}.")
    return results


def default_output(source):
    """Where `faasr-easypy report SOURCE` writes without -o: next to the archive, named after it."""
    path = Path(source)
    if path.is_dir():
        return path / REPORT_FILE
    stem = path.name[:-4] if path.name.lower().endswith(".zip") else path.stem
    if path.suffix.lower() == ".json":
        return path.with_name(REPORT_FILE)
    return path.with_name(f"{stem}.{REPORT_FILE}")


def write_report(results, output, **options):
    """Render `results` to `output` (atomic write); return the Path."""
    return write_html(results, output, **options)


def report_from_archive(source, output=None, **options):
    """Read faasr_results.json from `source` and write the HTML report; return its Path."""
    results = read_results(source)
    out = Path(output) if output else default_output(source)
    try:
        return write_report(results, out, **options)
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}.") from None


HISTORY_RUNS = 20


def archives_folder(archive):
    """The folder whose archives make a job's history: the archive's own folder, or its
    parent when pyATS put it in a month subfolder (archives/26-12/x.zip -> archives/)."""
    import re

    folder = Path(archive).parent
    return folder.parent if re.fullmatch(r"\d\d-\d\d", folder.name) else folder


def _history_for(results, directory, runtime):
    """faasr_summary.json into the run directory (so it lands in the archive), and the history
    of the last runs in the archives folder with this one as the newest."""
    from .history import SUMMARY_FILE, analyse, load_runs, summary_of
    from .render import write_atomic

    archive = getattr(runtime, "archive", None) if runtime is not None else None
    summary = summary_of(results, archive=str(archive) if archive else None)
    write_atomic(Path(directory) / SUMMARY_FILE, json.dumps(summary, indent=1))
    if not archive or getattr(getattr(runtime, "args", None), "no_archive", False):
        return None
    earlier = load_runs(archives_folder(archive), limit=HISTORY_RUNS - 1, exclude=[archive])
    return analyse(earlier + [summary])


def report_hook(results, directory, runtime=None):
    """Easypy plugin hook: faasr_report.html and faasr_junit.xml into the run directory, the
    FaaSr section into the mail, a Markdown summary into $GITHUB_STEP_SUMMARY when it is set.

    Register with ``faasr_easypy.easypy.plugin.register_report_hook(report_hook)``.
    Returns the report's path. The mail section is best effort: a failure there is
    logged and the report is still returned.
    """
    from .junit import JUNIT_FILE, write_junit
    from .step_summary import append_step_summary

    history = None
    try:
        history = _history_for(results, directory, runtime)
    except Exception:
        log.exception("faasr-easypy: reading the history of earlier runs failed")
    path = write_report(results, Path(directory) / REPORT_FILE, history=history)
    try:
        junit = write_junit(results, Path(directory) / JUNIT_FILE)
        log.info("faasr-easypy: JUnit XML %s (in the archive)", junit)
    except Exception:
        log.exception("faasr-easypy: writing the JUnit XML failed")
    try:
        summary = append_step_summary(results, report_name=f"{REPORT_FILE} in the archive")
        if summary:
            log.info("faasr-easypy: summary appended to %s", summary)
    except Exception:
        log.exception("faasr-easypy: appending the step summary failed")
    if runtime is not None:
        try:
            from .mail import attach_to_mail_report

            attach_to_mail_report(runtime, results, path)
        except Exception:
            log.exception("faasr-easypy: adding the FaaSr section to the report mail failed")
    return path
