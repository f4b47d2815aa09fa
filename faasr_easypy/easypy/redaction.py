"""Where a pyATS job writes what it shows, and the job's one Redactor at each place.

pyATS keeps a section's result reason (``self.failed(...)``, an assertion's
message, the generic testscript's "Last log lines ...") outside of logging: a
task sends it to the reporter process (``ReportClient._socket_wrapper``), which
writes results.json, ResultsDetails.xml and the job report after post_job.
And the archive folder also holds files pyATS copies in (testbed.static.yaml,
the user's testbed file as it was given). So a job gets:

* install_reporter_masking (a patch installed by pyats_patches, in the job
  process before tasks fork): every message a task or the job sends to the
  reporter has its strings and TestResult reasons redacted, with the redactor
  :func:`use` gave it, before it leaves the process;
* mask_archive_folder (pre_job, for this job's runtime): right before pyATS
  zips the archive folder (after the reporter wrote its files), every member
  is redacted in place: JSON and YAML value by value, other text line by line;
* the logging filter on every handler (JobContext.mask_secrets_in_logs).

Each uses faasr_easypy.redact; nothing here masks text itself.
"""

import inspect
import logging
import os

log = logging.getLogger(__name__)

_current = {"redactor": None}   # the job's Redactor, read when a message is sent
_original = []


def use(redactor):
    """The job's redactor, applied to every reporter message from now on."""
    _current["redactor"] = redactor


def reporter_premise():
    try:
        from pyats.reporter.client import ReportClient
        from pyats.results import Failed
    except Exception as exc:
        return f"pyats.reporter.client.ReportClient cannot be imported ({exc})"
    wrapper = getattr(ReportClient, "_socket_wrapper", None)
    if not callable(wrapper):
        return "ReportClient no longer sends its messages through _socket_wrapper"
    try:
        params = list(inspect.signature(wrapper).parameters.values())
    except (TypeError, ValueError):
        return "the signature of ReportClient._socket_wrapper cannot be read"
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return "ReportClient._socket_wrapper no longer takes the message as **kwargs"
    if not callable(getattr(Failed, "clone", None)):
        return "pyATS's TestResult has no clone(reason, data)"
    return None


def install_reporter_masking():
    """Redact what this process (and the tasks it forks) sends to pyATS's reporter."""
    if _original:
        return True
    from pyats.reporter.client import ReportClient

    _original.append(ReportClient._socket_wrapper)

    def _socket_wrapper(self, _name, **kwargs):
        active = _current["redactor"]
        if active:
            kwargs = {key: _clean(active, value) for key, value in kwargs.items()}
        return _original[0](self, _name, **kwargs)

    ReportClient._socket_wrapper = _socket_wrapper
    return True


def _clean(redactor, value):
    """A reporter argument with its secrets masked; TestResult objects keep their type."""
    reason = getattr(value, "reason", None)
    if hasattr(value, "clone") and hasattr(value, "value") and (reason is not None or
                                                                getattr(value, "data", None) is not None):
        return value.clone(reason=redactor.redact(reason) if isinstance(reason, str) else reason,
                           data=redactor.redact_value(value.data))
    return redactor.redact_value(value)


def testbed_file_secrets(path):
    """Values under credential-looking keys of a testbed file, %ENV{VAR} references resolved."""
    from ..placement.fields import ENV_REF
    from ..redact import secrets_in_data

    try:
        import yaml

        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except Exception:
        return []
    out = []
    for value in secrets_in_data(raw):
        names = ENV_REF.findall(value) if isinstance(value, str) else []
        if names:
            out.extend(os.environ.get(name) for name in names)
        else:
            out.append(value)
    return [v for v in out if v]


def mask_archive_folder(runtime, redactor):
    """Have pyATS redact its archive folder right before it zips it (runinfo.archive())."""
    runinfo = getattr(runtime, "runinfo", None)
    original = getattr(runinfo, "archive", None)
    if not callable(original):
        log.error("faasr-easypy: pyATS's runinfo has no archive() to mask the archive folder before; "
                  "files pyATS copies into the archive (testbed.static.yaml) keep their credentials")
        return
    if getattr(original, "_faasr_masks", False):
        return

    def archive(*args, **kwargs):
        redact_folder(runtime.directory, redactor)
        return original(*args, **kwargs)

    archive._faasr_masks = True
    runinfo.archive = archive


def redact_folder(folder, redactor):
    """Redact every member of `folder` in place; return the paths that changed."""
    if not folder or not os.path.isdir(folder):
        return []
    try:
        changed = redactor.redact_tree(folder)
    except Exception:
        log.exception("faasr-easypy: masking the secrets in the archive folder %s failed", folder)
        raise
    if changed:
        names = ", ".join(sorted(os.path.relpath(p, folder) for p in changed))
        log.info("faasr-easypy: masked credentials in %d archive file(s): %s", len(changed), names)
    return changed
