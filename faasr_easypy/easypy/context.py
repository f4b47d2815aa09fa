"""What one pyATS job shares with its workflow tasks.

The plugin builds a :class:`JobContext` in ``pre_job`` and hangs it on the
runtime (``runtime.faasr``). Tasks are forked from the job process, so they
inherit it: the testbed, the options from the ``--faasr-*`` arguments, the
embedded S3 server's endpoint and keys (kept out of every repr, log and
environment variable), the job's fork server (one for all tasks, see
``backends/local/server_process.py``), and the live status dict in
``runtime.synchro``.
"""

import atexit
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)

DEFAULTS = {
    "timeout": 300.0,          # seconds one workflow may run
    "check_interval": 0.5,     # seconds between S3 polls
    "action_timeout": 600.0,   # seconds one action may run
    "parallel": 16,            # workflow tasks at once
    "grace": 30.0,             # post_task_exit_grace_period of every task
    "runtime_margin": 120.0,   # max_runtime = timeout + this, unless given
}

# Archive, testbed and config defaults apply to jobfiles that use faasr_easypy.
MARKER = "faasr_easypy"


class S3Access:
    """Endpoint and keys of the job's S3 server; never printed."""

    __slots__ = ("access_key", "endpoint", "region", "secret_key")

    def __init__(self, endpoint, access_key, secret_key, region="us-east-1"):
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region

    def service(self):
        from ..environment import S3Service

        return S3Service(self.endpoint, self.access_key, self.secret_key, region=self.region)

    def __repr__(self):
        return f"S3Access({self.endpoint!r}, keys hidden)"


class JobContext:
    def __init__(self, testbed, options=None, statuses=None, directory=None, project_root=None,
                 faasr_args=None, job_name="job"):
        self.testbed = testbed
        self.options = dict(DEFAULTS)
        self.options.update({k: v for k, v in (options or {}).items() if v is not None})
        self.statuses = statuses if statuses is not None else {}
        self.directory = directory
        self.project_root = Path(project_root or os.getcwd())
        self.faasr_args = list(faasr_args or [])    # [(action, key, value)] from --faasr-arg
        self.job_name = job_name
        self.s3 = None               # S3Access once the server runs
        self.server = None           # the EmbeddedS3Server (job process only)
        self.s3_data_dir = None
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

    # -- options -----------------------------------------------------------------
    def option(self, name, given=None):
        """CLI argument > value given in the jobfile > testbed setting > default."""
        cli = self.options.get("cli_" + name)
        if cli is not None:
            return cli
        if given is not None:
            return given
        testbed_key = {"timeout": "Timeout", "check_interval": "CheckInterval",
                       "action_timeout": "ActionTimeout"}.get(name)
        if testbed_key and testbed_key in self.testbed.options:
            return self.testbed.options[testbed_key]
        return self.options.get(name)

    @property
    def keep_s3(self):
        return bool(self.options.get("keep_s3"))

    # -- the S3 server -----------------------------------------------------------
    # The server is started and stopped by one "keeper" thread that lives as long as
    # the job: `weed` dies with the thread that started it (PR_SET_PDEATHSIG), and
    # starting it in the background overlaps its ~1 s start with pyATS's own start-up.

    def start_s3_background(self):
        """Job process: start the job's S3 server (if the testbed asks for one) without waiting."""
        if not self.testbed.needs_embedded_s3 or self.s3 is not None or self._keeper is not None:
            return
        if os.getpid() != self.owner_pid:
            return
        self._s3_ready = threading.Event()
        self._s3_stop = threading.Event()

        def keep():
            try:
                self._start_s3_now()
            except BaseException as exc:  # reported by ensure_s3(), in the jobfile
                self._s3_error = exc
            finally:
                self._s3_ready.set()
            self._s3_stop.wait()
            self._stop_server_now()

        self._keeper = threading.Thread(target=keep, name="faasr-easypy-s3", daemon=True)
        self._keeper.start()
        self._register_atexit()

    def ensure_s3(self):
        """The job's S3 access (starting the server if needed); job process only."""
        if not self.testbed.needs_embedded_s3:
            return None
        if self._keeper is not None:
            self._s3_ready.wait()
            if self._s3_error is not None:
                raise self._s3_error
            return self.s3
        if self.s3 is None:
            if os.getpid() != self.owner_pid:
                raise UserError("The job's embedded S3 server is not running, and a task cannot start one: "
                                "start workflow tasks through faasr_easypy.easypy (run_workflow, "
                                "WorkflowPool) from the jobfile, with the faasr_easypy Easypy plugin enabled.")
            with self._lock:
                if self.s3 is None:
                    self._start_s3_now()
                    self._register_atexit()
        return self.s3

    def _start_s3_now(self):
        from ..environment import start_s3

        data_dir = None
        if self.keep_s3:
            data_dir = tempfile.mkdtemp(prefix="faasr-easypy-s3-kept-")
            self.s3_data_dir = data_dir
        started = time.monotonic()
        service = start_s3(data_dir=data_dir)
        self.server = service.server
        self.s3 = S3Access(service.endpoint, service.access_key, service.secret_key, service.region)
        self.redactor  # noqa: B018 -- the keys are masked from now on, also in the log filter
        what = "embedded S3 server (SeaweedFS)" if self.server else "external S3 (FAASR_EASYPY_S3_ENDPOINT)"
        log.info("faasr-easypy: %s at %s, ready in %.2f s", what, service.endpoint, time.monotonic() - started)

    def _register_atexit(self):
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def warm_up(self):
        """Job process, before the first fork: import what every task needs, and let
        botocore load its lazily imported modules once, so tasks inherit them."""
        if self._warm or os.getpid() != self.owner_pid:
            return
        self._warm = True
        from .. import runner, tester  # noqa: F401
        from ..backends import local  # noqa: F401
        from ..monitor import watch  # noqa: F401
        from ..s3.client import DataStore, make_client

        # Parses the S3 model into the process-wide boto3 session that tasks inherit.
        make_client(DataStore(name="warm-up", bucket="warm-up", endpoint="http://127.0.0.1:9",
                              access_key="warm-up", secret_key="warm-up"))

    def prepare_buckets(self, workflow_path):
        """Job process: create the embedded S3's buckets a workflow needs, once per bucket,
        so tasks need not (a task that cannot load its workflow reports that itself)."""
        self.warm_up()
        if self.s3 is None or os.getpid() != self.owner_pid:
            return
        try:
            from ..placement.place import bucket_for
            from ..s3.client import DataStore
            from ..workflow import load_workflow

            workflow = load_workflow(workflow_path)
            resolved = self.testbed.resolve(workflow)
        except Exception:  # the task reports it, with its own message
            return
        for name, spec in resolved.stores.items():
            if not spec.embedded:
                continue
            bucket = bucket_for(workflow, name, spec)
            if bucket in self.ensured_buckets:
                continue
            store = DataStore(name=name, bucket=bucket, endpoint=self.s3.endpoint, region=self.s3.region,
                              access_key=self.s3.access_key, secret_key=self.s3.secret_key)
            try:
                self.s3.service().ensure_bucket(store)
                self.ensured_buckets.add(bucket)
            except Exception as exc:
                log.debug("could not create bucket %s before forking: %s", bucket, exc)
            self._prepare_clients(store)

    def _prepare_clients(self, store):
        """The S3 clients a task's runner and tester use, built once here and inherited,
        with botocore's paginator model loaded (else every task reads it from disk)."""
        from ..runner import monitor_client
        from ..s3.client import prime, shared_client

        try:
            prime(monitor_client(store))
            prime(shared_client(store))
        except Exception as exc:  # the task builds them itself
            log.debug("could not prepare S3 clients before forking: %s", exc)

    def stop_s3(self):
        """Stop the embedded server; safe to call twice and from atexit."""
        if os.getpid() != self.owner_pid:
            return
        keeper = self._keeper
        if keeper is not None:
            self._s3_ready.wait(60)
            self._s3_stop.set()
            keeper.join(20)
        else:
            self._stop_server_now()

    def _stop_server_now(self):
        with self._lock:
            server, self.server = self.server, None
        if server is None:
            return
        try:
            # Without --faasr-keep-s3 the data is thrown away: no need for a clean stop.
            server.stop(timeout=5.0 if self.keep_s3 else 0)
        except Exception:  # never let a stop failure hide the job's own result
            log.exception("stopping the embedded S3 server failed")
        if self.s3_data_dir:
            log.info("faasr-easypy: S3 data kept in %s (serve it again with: faasr-easypy s3 serve "
                     "--data-dir %s)", self.s3_data_dir, self.s3_data_dir)

    # -- the fork server ---------------------------------------------------------
    # One per job instead of one per task: a task would otherwise start an interpreter
    # and import boto3 (~0.5 CPU-s, ~38 MiB) just to fork its actions.

    def ensure_fork_server(self):
        """Job process, before forking a task: the job's fork server (started once)."""
        if not self.testbed.runs_local or os.getpid() != self.owner_pid:
            return self.fork_server
        with self._lock:
            if self.fork_server is None or not self.fork_server.alive():
                from ..backends.local.server_process import ForkServerProcess

                self.fork_server = ForkServerProcess().start()
                log.info("faasr-easypy: local fork server pid %d", self.fork_server.pid)
                self._register_atexit()
        return self.fork_server

    def stop_fork_server(self):
        """Stop the job's fork server (it kills what still runs); safe to call twice."""
        if os.getpid() != self.owner_pid:
            return
        with self._lock:
            server, self.fork_server = self.fork_server, None
        if server is not None:
            try:
                server.stop()
            except Exception:
                log.exception("stopping the local fork server failed")

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

    # -- Ctrl-C and SIGTERM ---------------------------------------------------------
    def install_sigint_handler(self):
        """Job process: on the first Ctrl-C stop starting tasks and pass it to the running
        ones (so `kill -INT <job>` acts like Ctrl-C at the terminal); then let pyATS's own
        handler decide (its second Ctrl-C aborts the job). SIGTERM is handled the same way
        (see _install_sigterm_handler)."""
        if os.getpid() != self.owner_pid or threading.current_thread() is not threading.main_thread():
            return
        current = signal.getsignal(signal.SIGINT)
        if current is self._sigint_handler and current is not None:
            self._install_sigterm_handler()
            return
        previous = current

        def on_sigint(signum, frame):
            first = not self.interrupted
            self.interrupted = True
            if first:
                self.interrupted_by = self.interrupted_by or "Ctrl-C"
                log.warning("faasr-easypy: %s: stopping the running workflow tasks, starting no new "
                            "ones (Ctrl-C again aborts the job)", self.interrupted_by)
                for task in list(self.running):
                    try:
                        if task.is_alive():
                            os.kill(task.pid, signal.SIGINT)
                    except (OSError, ValueError, AssertionError):
                        pass
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt

        self._sigint_handler = on_sigint
        try:
            signal.signal(signal.SIGINT, on_sigint)
        except ValueError:
            pass
        self._install_sigterm_handler()

    def _install_sigterm_handler(self):
        """pyATS leaves SIGTERM at its default: the job process died at once, its tasks and
        their fork servers ran on as orphans, and no archive was written. SIGTERM now goes the
        Ctrl-C way: tasks stop, verdicts, archive and report are written, the S3 server stops."""
        if signal.getsignal(signal.SIGTERM) is self._sigterm_handler and self._sigterm_handler is not None:
            return

        def on_sigterm(signum, frame):
            if os.getpid() != self.owner_pid:
                # A forked task inherited this handler: there SIGTERM keeps its meaning (pyATS
                # terminates a task that overran its max_runtime with it).
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self.interrupted_by = self.interrupted_by or "SIGTERM"
            handler = self._sigint_handler
            if handler is not None:
                handler(signal.SIGINT, frame)

        self._sigterm_handler = on_sigterm
        try:
            signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:
            pass

    # -- shared statuses ---------------------------------------------------------
    def publish(self, taskid, **changes):
        """Update the shared status entry of `taskid` (reassigned whole: nested dicts don't sync).

        A running task is the only writer of its own entry, so in a task the entry is
        read from the manager once and then kept here: one round trip per change, not
        two. The job process always reads it first (the task may have changed it)."""
        in_task = os.getpid() != self.owner_pid
        try:
            with self._publish_lock():
                entry = self._entries.get(taskid) if in_task else None
                if entry is None:
                    entry = dict(self.statuses.get(taskid) or {})
                entry.update(changes)
                entry["updated"] = time.time()
                self.statuses[taskid] = entry
                if in_task:
                    self._entries[taskid] = entry
        except Exception as exc:  # the manager is gone (job ending): statuses are best effort
            log.debug("could not publish status of %s: %s", taskid, exc)

    def _publish_lock(self):
        # One lock and one entry cache per process: a task's monitor thread and its
        # testscript publish concurrently, and a fork must not inherit a held lock.
        if self._entries_pid != os.getpid():
            self._entries_pid = os.getpid()
            self._entries = {}
            self._entries_lock = threading.Lock()
        return self._entries_lock

    def snapshot(self):
        # copy() is one round trip to the manager; dict(proxy) would be one per entry,
        # which made starting the n-th task cost n round trips.
        try:
            entries = self.statuses.copy()
            return {k: dict(v) for k, v in entries.items()}
        except Exception:
            return {}

    def entry(self, taskid):
        """The status entry of one task ({} if none), in one round trip."""
        try:
            return dict(self.statuses.get(taskid) or {})
        except Exception:
            return {}

    def known(self, taskid):
        """Whether `taskid` has a status entry (one round trip, not a snapshot)."""
        try:
            return taskid in self.statuses
        except Exception:
            return False

    def __repr__(self):
        return f"JobContext({self.testbed!r}, s3={self.s3!r})"


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


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)
