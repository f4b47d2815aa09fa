"""What one pyATS job shares with its workflow tasks.

The plugin builds a :class:`JobContext` in ``pre_job`` and hangs it on the
runtime (``runtime.faasr``). Tasks are forked from the job process, so they
inherit it: the testbed, the options from the ``--faasr-*`` arguments, the
embedded S3 server's endpoint and keys (kept out of every repr, log and
environment variable), the job's fork server (one for all tasks, see
``backends/local/server_process.py``), and the live status dict in
``runtime.synchro``.

Each concern is a module of its own, mixed into JobContext: ``options.py``
(option precedence), ``s3_keeper.py`` (the job's S3 server), ``before_fork.py``
(warm-up and buckets), ``fork_server_owner.py``, ``job_signals.py`` (Ctrl-C,
SIGTERM), ``shared_statuses.py``; ``jobfile.py`` finds the jobfile and its project.
Redaction stays here.
"""

import atexit
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from .before_fork import BeforeFork
from .fork_server_owner import ForkServerOwner
from .job_signals import JobSignals
from .jobfile import MARKER, find_jobfile, is_faasr_jobfile, project_root
from .options import DEFAULTS, job_options, option
from .s3_keeper import S3Keeper
from .shared_statuses import SharedStatuses

__all__ = ["DEFAULTS", "MARKER", "JobContext", "find_jobfile", "get_context", "is_faasr_jobfile",
           "project_root"]

log = logging.getLogger(__name__)


class JobContext(S3Keeper, BeforeFork, ForkServerOwner, JobSignals, SharedStatuses):
    def __init__(self, testbed, options=None, statuses=None, directory=None, project_root=None,
                 faasr_args=None, job_name="job"):
        self.testbed = testbed
        self.options = job_options(options)
        self.statuses = statuses if statuses is not None else {}
        self.directory = directory
        self.project_root = Path(project_root or os.getcwd())
        self.faasr_args = list(faasr_args or [])    # [(action, key, value)] from --faasr-arg
        self.job_name = job_name
        self.s3 = None               # environment.S3Service (endpoint, keys) once the server runs
        self.server = None           # the EmbeddedS3Server (job process only)
        self.s3_data_dir = None
        self.s3_notice = None        # s3_keeper.DeathNotice: why the embedded server died, for tasks
        self.started = time.time()
        self.owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._atexit = False
        self.used_args = set()       # indexes of faasr_args some workflow used
        self.interrupted = False     # Ctrl-C (or SIGTERM) seen by the job process
        self.interrupted_by = None   # "Ctrl-C" or "SIGTERM": what the results and report say
        self.running = set()         # WorkflowTasks started and not yet reaped (job process)
        self._sigint_handler = None
        self._sigterm_handler = None
        self._redactor = None
        self._log_filter = None
        self.ensured_buckets = set()  # buckets of the embedded S3 known to exist (set before forking)
        self._warm = False
        self._keeper = None
        self._s3_ready = None
        self._s3_stop = None
        self._s3_error = None
        self.fork_server = None      # the local backend's ForkServerProcess, shared by every task
        self._entries_pid = None     # publish(): the process the entry cache and lock belong to
        self._entries = {}
        self._entries_lock = None

    def option(self, name, given=None):
        """CLI argument > value given in the jobfile > testbed setting > default."""
        return option(self.options, self.testbed, name, given)

    def _register_atexit(self):
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def stop(self):
        """Everything the job started for its tasks: fork server, then S3 server."""
        self.stop_fork_server()
        self.stop_s3()

    def secrets(self):
        out = list(self.testbed.secrets())
        if self.s3 is not None:
            out += [self.s3.access_key, self.s3.secret_key]
        return [s for s in out if s]

    @property
    def redactor(self):
        """Masks the testbed's and the S3 server's keys and every credential in the job's
        environment (a function may print those into its log, and logs reach the archive)."""
        from ..redact import Redactor
        from .redaction import testbed_file_secrets

        if self._redactor is None:
            self._redactor = Redactor()
            # also what the testbed file holds under any credential key (unused devices too):
            # pyATS copies the file into the archive
            self._redactor.add(*testbed_file_secrets(self.testbed.source),
                               source=f"the testbed file {self.testbed.source}")
        self._redactor.add(*self.secrets(), source="the testbed or the S3 server")  # S3 keys come later
        return self._redactor

    def redact(self, text):
        return self.redactor.redact(text)

    def redact_data(self, data):
        """`data` as JSON types, its strings redacted value by value (never as JSON text)."""
        return self.redactor.redact_value(json.loads(json.dumps(data, default=str)))

    def mask_secrets_in_logs(self):
        """Put a redacting filter on every logging handler of this process (screen, job log,
        task log), and redact every record as it is made (handlers added later, by pyATS or
        a testscript): streamed function log lines must not carry credentials into them."""
        from ..redact import RedactingFilter, install_record_factory

        if self._log_filter is None:
            self._log_filter = RedactingFilter(self.redactor)
            install_record_factory(self.redactor)
        else:
            self.redactor  # noqa: B018 -- picks up S3 keys that arrived since
        handlers = set(logging.root.handlers)
        for logger in list(logging.Logger.manager.loggerDict.values()):
            handlers.update(getattr(logger, "handlers", None) or ())
        for handler in handlers:
            if self._log_filter not in handler.filters:
                handler.addFilter(self._log_filter)

    def mask_output(self):
        """Task process: what a testscript print()s to stdout/stderr is masked too."""
        from ..redact import RedactingStream

        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, RedactingStream):
                setattr(sys, name, RedactingStream(stream, self.redactor))

    def __repr__(self):
        return f"JobContext({self.testbed!r}, s3={self.s3!r})"


_fallback = None  # the default context of a job the plugin did not set up


def get_context(runtime=None):
    """The job's context: runtime.faasr (set by the plugin), else a default one."""
    global _fallback
    ctx = getattr(runtime, "faasr", None) if runtime is not None else None
    if ctx is not None:
        return ctx
    if _fallback is None:
        from .pyats_testbed import load_builtin

        log.warning("faasr-easypy: the faasr_easypy Easypy plugin did not set up this job; using the "
                    "built-in local testbed and default options (is the plugin disabled?)")
        directory = getattr(runtime, "directory", None) or tempfile.mkdtemp(prefix="faasr-easypy-job-")
        statuses = None
        synchro = getattr(runtime, "synchro", None)
        if synchro is not None:
            try:
                statuses = synchro.dict()
            except Exception:
                statuses = None
        _fallback = JobContext(load_builtin(), statuses=statuses, directory=directory)
        if runtime is not None:
            try:
                runtime.faasr = _fallback
            except Exception:
                pass
    return _fallback


