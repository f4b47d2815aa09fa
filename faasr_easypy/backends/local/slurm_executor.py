"""The cluster executor: the local scheduler's actions run as SLURM jobs instead of forks.

The local backend's scheduler (scheduler.py) talks to its executor over a Unix socket with
newline-delimited JSON: it sends `run` (one job: an action or one rank of it), `cancel`
(an InvocationID) and `close`; the executor answers `ready`, `finished` (job id, ok,
triggered successors, error) and `closed`. The fork server (forkserver.py) is one executor;
SlurmExecutor is the other: same protocol, same scheduler, same monitor. Per `run` it submits
a batch job through slurmrestd named `faasr-<WorkflowName>-<action>[.<rank>]-<InvocationID>`
whose script runs slurm_action.py (one action, as action_process.py runs it); the job's report
comes back through S3 (one LIST per tick of this executor's result prefix). Jobs that end
without a report (scancel, node failure, time limit) are reported failed with SLURM's state
and reason, and an ERROR line in the action's log. cancel and close scancel exactly the
invocation's (or the connection's) jobs.

    LocalBackend(functions, stores, executor=functools.partial(SlurmExecutor, endpoint=...,
                 token=..., user="root", partition="faasr"))
"""

import json
import logging
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid

import requests

from ..slurm_jobs import TERMINAL, SlurmJobs, lost_reason
from .error_line import append_did_not_finish

log = logging.getLogger(__name__)

RESULT_PREFIX = "faasr-easypy-slurm"
#: seconds a finished job's report may take to show in S3 before the job counts as lost
REPORT_GRACE = 3.0
TICK = 0.25
PASSED_ON = ("FAASR_EASYPY_RSCRIPT", "FAASR_EASYPY_TEST_TAG")


class _Job:
    def __init__(self, conn, job, name, result_key):
        self.conn = conn
        self.job = job
        self.name = name
        self.result_key = result_key
        self.slurm_id = None
        self.submitted = time.monotonic()
        self.started = None  # monotonic time SLURM reported it RUNNING
        self.ended = None  # monotonic time SLURM reported a terminal state
        self.state = "PENDING"
        self.reason = ""
        self.kill_reason = None
        self.reported = False


class SlurmExecutor:
    """A fork-server stand-in that runs every job on a SLURM cluster (see the module doc)."""

    def __init__(self, endpoint, token, user="root", partition="faasr", api_version="v0.0.37",
                 python=None, working_dir=None, cpus_per_task=1, memory_mb=512):
        self.slurm = SlurmJobs(endpoint, token, user, api_version)  # states and scancel, shared with FaaSr mode
        self.endpoint = self.slurm.endpoint
        self.user = user
        self.partition = partition
        self.python = python or sys.executable  # the project, installed where the nodes see it
        self.working_dir = working_dir or tempfile.gettempdir()
        self.cpus_per_task = cpus_per_task
        self.memory_mb = memory_mb
        self.id = uuid.uuid4().hex[:12]
        self.folder = None
        self.address = None
        self.log_path = None
        self._listener = None
        self._lock = threading.Lock()
        self._jobs = {}  # (conn id, job id) -> _Job
        self._stop = threading.Event()
        self._threads = []
        self._clients = {}  # bucket/endpoint -> boto3 client, for reports

    # -- the ForkServerProcess surface the scheduler uses --------------------------
    def start(self):
        self.folder = tempfile.mkdtemp(prefix="faasr-easypy-slurm-executor-")
        self.address = os.path.join(self.folder, "socket")
        self.log_path = os.path.join(self.folder, "executor.log")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.address)
        self._listener.listen(16)
        for target, name in ((self._accept, "slurm-executor-accept"), (self._poll, "slurm-executor-poll")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def alive(self):
        return self._listener is not None and not self._stop.is_set()

    def stop(self, timeout=15.0):
        """scancel whatever still runs, wait for SLURM to end it, stop the threads."""
        if self._listener is None:
            return
        with self._lock:
            left = [j for j in self._jobs.values() if not j.reported]
        self._cancel(left, "the harness stopped")
        self._wait_ended(left, timeout)
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        for t in self._threads:
            t.join(5)
        self.slurm.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        self._listener = None

    def __repr__(self):
        return f"SlurmExecutor({self.endpoint!r}, partition={self.partition!r})"

    # -- connections ---------------------------------------------------------------
    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), name="slurm-executor-conn", daemon=True)
            t.start()

    def _send(self, conn, message):
        try:
            conn.sendall((json.dumps(message) + "\n").encode())
        except OSError:
            pass

    def _serve(self, conn):
        self._send(conn, {"op": "ready", "pid": os.getpid()})
        try:
            for line in conn.makefile("rb"):
                message = json.loads(line)
                op = message.get("op")
                if op == "run":
                    self._run(conn, message["job"])
                elif op == "cancel":
                    with self._lock:
                        victims = [j for j in self._jobs.values() if j.conn is conn and not j.reported
                                   and j.job["payload"]["InvocationID"] == message["invocation_id"]]
                    self._cancel(victims, "cancelled")
                elif op in ("close", "shutdown"):
                    with self._lock:
                        victims = [j for j in self._jobs.values() if j.conn is conn and not j.reported]
                    self._cancel(victims, "the harness closed the backend")
                    self._wait_ended(victims, 15)
                    self._send(conn, {"op": "closed"})
                    break
        except (OSError, ValueError):
            pass
        with self._lock:  # the scheduler is gone: nothing of its jobs may go on running
            orphans = [j for j in self._jobs.values() if j.conn is conn and not j.reported]
        self._cancel(orphans, "the harness disconnected")

    # -- SLURM ---------------------------------------------------------------------
    def job_name(self, job):
        label = job["action"] + (f".{job['rank']}" if job.get("rank") else "")
        return f"faasr-{job['payload']['WorkflowName']}-{label}-{job['payload']['InvocationID']}"

    def _run(self, conn, job):
        name = self.job_name(job)
        result_key = f"{RESULT_PREFIX}/{self.id}/{id(conn)}-{job['job_id']}.json"
        entry = _Job(conn, job, name, result_key)
        with self._lock:
            self._jobs[(id(conn), job["job_id"])] = entry
        limit = job.get("time_limit")
        minutes = max(1, math.ceil(float(limit) / 60) + 1) if limit else 60  # SLURM's own backstop
        body = {"job": {"name": name, "partition": self.partition, "nodes": "1", "tasks": "1",
                        "cpus_per_task": str(self.cpus_per_task), "memory_per_cpu": str(self.memory_mb),
                        "time_limit": str(minutes), "current_working_directory": self.working_dir,
                        "standard_output": os.path.join(self.working_dir, "faasr-easypy-%j.out"),
                        "environment": dict(_passed_on(), FAASR_EASYPY_ACTION_JOB=json.dumps(job),
                                            FAASR_EASYPY_RESULT_KEY=result_key,
                                            PATH="/usr/local/bin:/usr/bin:/bin", PYTHONUNBUFFERED="1")},
                "script": f"#!/bin/bash\nexec {self.python} -m faasr_easypy.backends.local.slurm_action\n"}
        try:
            r = self.slurm.session.post(f"{self.slurm.api}/job/submit", json=body, headers=self.slurm.headers(),
                                        timeout=30)
            data = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            errors = [e.get("error") for e in data.get("errors") or [] if isinstance(e, dict)]
            slurm_id = data.get("job_id") if r.status_code == 200 else None
            if slurm_id is None:
                raise RuntimeError(f"HTTP {r.status_code}" + (f": {'; '.join(errors)}" if errors else ""))
        except (requests.exceptions.RequestException, ValueError, RuntimeError) as exc:
            reason = (f"slurmrestd at {self.endpoint} did not accept its job "
                      f"({exc.__class__.__name__ if not str(exc) else _short(exc)})")
            self._fail(entry, reason)
            return
        with self._lock:
            entry.slurm_id = slurm_id
        log.info("SLURM executor: %s is job %s", name, slurm_id)

    def _cancel(self, jobs, reason):
        for j in jobs:
            with self._lock:
                if j.kill_reason is None:
                    j.kill_reason = reason
                slurm_id = j.slurm_id
            if slurm_id is not None:
                self.slurm.cancel(slurm_id)

    def _wait_ended(self, jobs, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(not j.reported and j.slurm_id for j in jobs):
            time.sleep(0.1)

    # -- polling: SLURM states + reports in S3 ------------------------------------------
    def _poll(self):
        while not self._stop.wait(TICK):
            try:
                self._tick()
            except Exception:  # one bad tick must not end the executor
                log.exception("SLURM executor: poll failed")

    def _tick(self):
        with self._lock:
            open_jobs = [j for j in self._jobs.values() if not j.reported and j.slurm_id is not None]
        if not open_jobs:
            return
        self._read_reports(open_jobs)
        states = self.slurm.states()
        now = time.monotonic()
        for j in open_jobs:
            if j.reported:
                continue
            info = states.get(j.slurm_id) if states is not None else None
            if info is not None:
                j.state, j.reason = info.state, info.reason
                if j.state == "RUNNING" and j.started is None:
                    j.started = now
                if j.state in TERMINAL and j.ended is None:
                    j.ended = now
            limit = j.job.get("time_limit")
            if limit and j.started is not None and j.kill_reason is None and now - j.started > float(limit):
                self._cancel([j], f"time limit of {float(limit):g} s")
            if j.ended is not None and now - j.ended > REPORT_GRACE:
                self._read_reports([j])
                if not j.reported:
                    self._fail(j, self._lost_reason(j))

    def _client(self, store):
        from ...s3.client import DataStore, make_client

        key = (store["endpoint"], store["access_key"])
        if key not in self._clients:
            self._clients[key] = make_client(DataStore(**store))
        return self._clients[key]

    def _read_reports(self, jobs):
        by_store = {}
        for j in jobs:
            store = j.job["stores"][j.job["log_store"]]
            by_store.setdefault((store["endpoint"], store["bucket"]), (store, []))[1].append(j)
        for store, group in by_store.values():
            client = self._client(store)
            try:
                listing = client.list_objects_v2(Bucket=store["bucket"], Prefix=f"{RESULT_PREFIX}/{self.id}/")
            except Exception:  # S3 briefly unreachable: next tick
                continue
            present = {o["Key"] for o in listing.get("Contents") or []}
            for j in group:
                if j.result_key not in present or j.reported:
                    continue
                try:
                    report = json.loads(client.get_object(Bucket=store["bucket"], Key=j.result_key)["Body"].read())
                    client.delete_object(Bucket=store["bucket"], Key=j.result_key)
                except Exception:
                    continue
                self._report(j, report)

    def _lost_reason(self, j):
        if j.kill_reason:
            return f"{j.kill_reason} (SLURM job {j.slurm_id} ended {j.state})"
        return lost_reason(j.slurm_id, j.name, j.state, j.reason)

    def _fail(self, j, reason):
        job = j.job
        try:  # the same ERROR line a fork server writes for an action that died
            store = job["stores"][job["log_store"]]
            append_did_not_finish(self._client(store), store["bucket"], job["log_key"], time.monotonic() - j.submitted,
                                  job["action"], job.get("rank"), reason)
        except Exception as exc:
            reason += f" (and its ERROR line could not be written to S3: {_short(exc)})"
        self._report(j, {"job_id": job["job_id"], "ok": False, "triggered": [], "error": reason,
                         "seconds": round(time.monotonic() - j.submitted, 4)})

    def _report(self, j, report):
        with self._lock:
            if j.reported:
                return
            j.reported = True
        self._send(j.conn, dict(report, op="finished", job_id=j.job["job_id"]))


def _passed_on():
    """The harness's settings a job needs as well: the Rscript an R action's R server runs
    (like the interpreter, at the same path on the nodes) and the test suite's process tag."""
    return {name: os.environ[name] for name in PASSED_ON if os.environ.get(name)}


def _short(exc):
    text = str(exc)
    return text if len(text) < 200 else text[:197] + "..."
