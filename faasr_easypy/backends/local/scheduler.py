"""LocalBackend: runs FaaSr workflows on this machine.

The scheduler plays the part FaaSr's platforms play: it receives triggers
(from `trigger()` for the entry action, then from each finished action for
its successors) and starts actions in the fork server, at most
`max_parallel` at a time across all invocations. The fork server is its own
(started on the first trigger), or one shared with other backends, e.g. by
every workflow task of a pyATS job (`fork_server=`). Fan-in follows FaaSr: the
action runs once, after every predecessor instance has finished; it never
runs when a predecessor failed (a failed action triggers nothing).
"""

import itertools
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections import deque
from pathlib import Path

from ...defaults import DEFAULTS
from ...errors import BackendError
from ...layout import instance_label
from ..base import Backend, without_run
from .action_env import named_secrets
from .forkserver import ACTIONS_ROOT_PREFIX
from .packages import container_note, package_folder, workflow_packages
from .server_process import ForkServerProcess

log = logging.getLogger(__name__)


def default_parallelism():
    return max(4, 4 * (os.cpu_count() or 1))


def default_action_memory_mib():
    """A sane share of the machine for one action: a quarter of its RAM."""
    try:
        return max(256, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4 // 2**20)
    except (ValueError, OSError):
        return 4096


class _Run:
    """Scheduler state of one invocation."""

    def __init__(self, invocation, payload):
        self.invocation = invocation
        self.workflow = invocation.workflow
        self.payload = payload
        self.started = set()  # (action, rank) dispatched or queued
        self.finished = {}  # (action, rank) -> ok
        self.waiting = set()  # fan-in actions triggered at least once, not yet started
        # fan-in action -> its predecessor instances not yet finished ok; kept up to date as
        # they finish, so a fan-in of 1,000 is not re-checked against all 1,000 on every finish
        self.unfinished_preds = {}
        self.active = 0  # queued + running jobs
        self.cancelled = False
        self.done = threading.Event()
        self.results = {}  # label -> finished message (error, seconds)


class LocalBackend(Backend):
    platform = "local"
    logs_final_at_done = True  # action_process: final log flush, then .done

    def __init__(self, functions_dir, data_stores, max_parallel=None, action_timeout=DEFAULTS["action_timeout"],
                 secrets=None, keep_workdirs=False, workdir_root=None, fork_server=None, executor=None,
                 action_memory_mib=None):
        self.functions_dir = str(Path(functions_dir).resolve())
        self.data_stores = dict(data_stores)  # name -> DataStore
        self.max_parallel = max_parallel or default_parallelism()
        self.action_timeout = action_timeout
        # MiB an action may allocate beyond the warm fork server's size (RLIMIT_AS)
        self.action_memory_mib = int(action_memory_mib or default_action_memory_mib())
        self.secrets = dict(secrets or {})
        self.keep_workdirs = keep_workdirs
        self._own_root = workdir_root is None
        self.workdir_root = workdir_root
        self._lock = threading.RLock()
        self._runs = {}  # InvocationID -> _Run
        self._jobs = {}  # job id -> (_Run, (action, rank))
        self._queue = deque()
        self._running = 0
        self._ids = itertools.count(1)
        self._shared = fork_server  # a started ForkServerProcess someone else owns, or None
        # what runs our jobs when no shared server is given: a fork server, or e.g. a SlurmExecutor
        # (slurm_executor.py); anything whose start() returns an object speaking the fork server's protocol
        self._executor = executor or ForkServerProcess
        self._proc = None  # the ForkServerProcess in use
        self._sock = None  # our connection to it
        self._send_lock = threading.Lock()
        self._reader = None
        self._ready = threading.Event()
        self._closed = False
        if not Path(self.functions_dir).is_dir():
            raise BackendError(f"The functions folder {functions_dir} does not exist: pass the folder "
                               "that holds the workflow's Python function files (--functions DIR).")

    # -- public -------------------------------------------------------------
    def trigger(self, invocation):
        wf = invocation.workflow
        missing = [n for n in wf.data["DataStores"] if n not in self.data_stores]
        if missing:
            raise BackendError(f"Workflow {wf.name} ({wf.source}) uses data store(s) "
                               f"{', '.join(missing)}, which this testbed does not provide: map them "
                               "to an S3 server in the testbed, or run on the embedded default.")
        self._ensure_server()
        if container_note(wf):
            log.warning("%s", container_note(wf))
        packages = workflow_packages(wf)  # installed once, cached; imported by the actions only
        python_path = [str(package_folder(packages, progress=log.info))] if packages else []
        payload = invocation.payload()
        for name, store in self.data_stores.items():
            if name in payload["DataStores"]:
                payload["DataStores"][name].update(store.as_workflow_spec())
        run = _Run(invocation, payload)
        run.python_path = python_path
        with self._lock:
            if invocation.invocation_id in self._runs:
                raise BackendError(f"InvocationID {invocation.invocation_id} was already triggered")
            self._runs[invocation.invocation_id] = run
            self._enqueue(run, wf.entry, None)
            self._pump()

    def wait(self, invocation, timeout=None):
        """Block until the local run of `invocation` has nothing left to do."""
        return self._runs[invocation.invocation_id].done.wait(timeout)

    def results(self, invocation):
        return dict(self._runs[invocation.invocation_id].results)

    def cancel(self, invocation):
        with self._lock:
            run = self._runs.get(invocation.invocation_id)
            if run is None:
                return
            run.cancelled = True
            self._queue, dropped = without_run(self._queue, run)
            run.active -= dropped
            if run.active == 0:
                run.done.set()
        self._send({"op": "cancel", "invocation_id": invocation.invocation_id})

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sock, reader = self._sock, self._reader
        if sock is not None:
            # The server kills and reaps what still runs for us, then says `closed`.
            self._send({"op": "close"})
            if reader is not None:
                reader.join(8)
            try:
                sock.shutdown(socket.SHUT_RDWR)  # if it did not answer: it kills them on EOF
            except OSError:
                pass
            sock.close()
        if self._proc is not None and self._proc is not self._shared:
            self._proc.stop()
        if self._reader:
            self._reader.join(5)
        for run in self._runs.values():
            run.done.set()
        if self._own_root and self.workdir_root and not self.keep_workdirs:
            shutil.rmtree(self.workdir_root, ignore_errors=True)

    # -- fork server --------------------------------------------------------
    def _replace_own_server(self):
        if self._proc is not None:
            self._proc.stop()  # died or dying: reap it and clean its folder up
        self._proc = self._executor().start()

    def _connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self._proc.address)
        except OSError:
            sock.close()
            raise
        return sock

    def _ensure_server(self):
        with self._lock:
            if self._closed:
                raise BackendError("the local backend was already closed")
            if self._sock is not None and self._reader is not None and self._reader.is_alive():
                return
            if self.workdir_root is None:
                self.workdir_root = tempfile.mkdtemp(prefix=ACTIONS_ROOT_PREFIX)
            if self._shared is not None:
                self._proc = self._shared
            elif self._proc is None or not self._proc.alive():
                self._replace_own_server()
            self._ready.clear()
            try:
                sock = self._connect()
            except OSError as exc:
                if self._shared is not None:
                    raise BackendError(f"The local backend's worker process is not running ({exc}); see "
                                       f"{self._proc.log_path}") from None
                # Our own server may be dying (killed, not reaped yet, so still "alive"): replace it.
                self._replace_own_server()
                try:
                    sock = self._connect()
                except OSError as exc2:
                    raise BackendError(f"The local backend's worker process is not running ({exc2}); "
                                       f"see {self._proc.log_path}") from None
            self._sock = sock
            self._reader = threading.Thread(target=self._read, args=(sock,),
                                            name="faasr-local-scheduler", daemon=True)
            self._reader.start()
        if not self._ready.wait(60):
            raise BackendError(f"The local backend's worker process did not start; see "
                               f"{self._proc.log_path}")

    def _send(self, message):
        sock = self._sock
        if sock is None:
            return False
        try:
            with self._send_lock:
                sock.sendall((json.dumps(message) + "\n").encode())
            return True
        except OSError:
            return False

    def _read(self, sock):
        try:
            for line in sock.makefile("rb"):
                message = json.loads(line)
                if message["op"] == "ready":
                    self._ready.set()
                elif message["op"] == "finished":
                    self._on_finished(message)
                elif message["op"] == "closed":
                    break
        except (OSError, ValueError):
            pass
        # The connection is gone (closed, or the server was killed): whatever ran there failed.
        with self._lock:
            if self._sock is sock:
                self._sock = None
            lost = [jid for jid in self._jobs]
        for jid in lost:
            self._on_finished({"job_id": jid, "ok": False, "triggered": [],
                               "error": "the local backend's worker process died"})
        self._ready.set()

    # -- scheduling -----------------------------------------------------------
    def _enqueue(self, run, action, rank):
        key = (action, rank)
        if key in run.started or run.cancelled:
            return
        run.started.add(key)
        run.active += 1
        self._queue.append((run, action, rank))

    def _pump(self):
        while self._queue and self._running < self.max_parallel:
            run, action, rank = self._queue.popleft()
            job = self._job(run, action, rank)
            self._jobs[job["job_id"]] = (run, (action, rank))
            self._running += 1
            if not self._send({"op": "run", "job": job}):
                self._jobs.pop(job["job_id"])
                self._running -= 1
                self._finish(run, (action, rank), {"ok": False, "triggered": [],
                                                   "error": "the local backend's worker process is not running"})

    def _on_finished(self, message):
        with self._lock:
            entry = self._jobs.pop(message["job_id"], None)
            if entry is None:
                return
            run, key = entry
            self._running -= 1
            self._finish(run, key, message)
            self._pump()

    def _finish(self, run, key, message):
        run.finished[key] = message["ok"]
        run.results[instance_label(*key)] = {k: message.get(k) for k in
                                             ("ok", "error", "seconds", "first_log_at", "done_at")}
        if message["ok"]:
            for preds in run.unfinished_preds.values():
                preds.discard(key)
        if not run.cancelled:
            for target, rank in message.get("triggered", []):
                if run.workflow.is_fan_in(target):
                    if target not in run.waiting and target not in run.unfinished_preds:
                        run.unfinished_preds[target] = {p for p in run.workflow.predecessor_instances(target)
                                                        if run.finished.get(p) is not True}
                    run.waiting.add(target)
                else:
                    self._enqueue(run, target, rank)
            self._start_ready_fan_ins(run)
        run.active -= 1
        if run.active == 0:
            run.done.set()

    def _start_ready_fan_ins(self, run):
        for target in sorted(run.waiting):
            if not run.unfinished_preds[target]:  # every predecessor instance finished ok
                run.waiting.discard(target)
                self._enqueue(run, target, None)

    def _job(self, run, action, rank):
        wf = run.workflow
        spec = wf.actions[action]
        layout = run.invocation.layout
        stores = {}
        for name, store in self.data_stores.items():
            if name in wf.data["DataStores"]:
                stores[name] = {"name": name, "bucket": store.bucket, "endpoint": store.endpoint,
                                "region": store.region, "anonymous": store.anonymous,
                                "access_key": store.access_key, "secret_key": store.secret_key}
        return {
            "job_id": next(self._ids),
            "action": action,
            "rank": rank,
            "max_rank": wf.rank_count(action),
            "function_name": spec.function_name,
            "type": spec.type,
            "arguments": run.invocation.arguments(action),
            "payload": run.payload,
            "edges": [{"target": e.target, "ranks": e.ranks, "ranked": e.ranked,
                       "condition": e.condition} for e in spec.edges],
            "log_store": wf.logging_data_store,
            "log_key": layout.log_key(action, rank),
            "done_key": layout.done_key(action, rank),
            "stores": stores,
            "secrets": named_secrets(wf.data, self.secrets),  # only those the workflow names
            "functions_dir": self.functions_dir,
            "python_path": run.python_path,  # PyPIPackageDownloads (packages.py)
            "local_file": (wf.data.get("FunctionLocalFile") or {}).get(spec.function_name),
            "cran_packages": (wf.data.get("FunctionCRANPackage") or {}).get(spec.function_name) or [],
            "time_limit": self.action_timeout,
            "memory_limit_mib": self.action_memory_mib,
            "workdir_root": self.workdir_root,
            "own_root": self._own_root and not self.keep_workdirs,  # the server may remove it
            "keep_workdir": self.keep_workdirs,
        }
