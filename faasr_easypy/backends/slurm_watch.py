"""The SLURM jobs of a FaaSr-runtime invocation, known exactly and watched.

In FaaSr's own runtime on SLURM (backends/slurm.py) the harness submits the entry action's
job and faasr-py submits every successor from inside the cluster. A job that SLURM ends
abnormally (scancel, its time limit, its node failing) leaves its action's log without a
`.done` and with nothing that says why: the S3-only monitor would report it only at the
workflow's timeout. So the backend watches this invocation's jobs:

- which jobs are this run's: the entry job (its job id from the submission) and every
  successor whose job id faasr-py logged, "SLURM: Successfully submitted job: <action>
  (Job ID: N)", in the lines the monitor reads from S3 and hands on (on_log_line). The
  n-th such line of a ranked action in one log is rank n (faasr-py submits ranks in order);
  a fan-in action gets one job per predecessor instance, the election lets one of them run.
  Job names cannot tell two runs of one workflow apart (FaaSr names jobs
  <WorkflowName>-<action>), and slurmrestd 22.05 shows neither a job's environment nor its
  script, where the InvocationID is; the ids are exact.
- every check interval, one GET /jobs (slurm_jobs.SlurmJobs, shared with the cluster
  executor). When a job ended in a LOST state (CANCELLED, TIMEOUT, NODE_FAIL, ...), no
  other job of its action instance can still finish it and the instance has no `.done` in
  S3, the watcher appends the ERROR line an executor writes for an action that died
  ("Action start did not finish: SLURM job 57 (NapFlow-start) ended CANCELLED ..."), so
  the monitor fails the action with the true reason at its next tick, and the report and
  the log say it. Everything else the monitor sees in S3 as before.
- cancel() scancels exactly these jobs, after one more read of their logs in S3 for
  successors the monitor has not read yet, until none of them is left.
"""

import logging
import threading
import time

from ..monitor.platforms import INVOCATION_PATTERNS
from ..s3.client import is_missing
from .local.error_line import append_did_not_finish
from .slurm_jobs import ACTIVE, LOST, TERMINAL, lost_reason

log = logging.getLogger(__name__)

#: how the harness's lines in an action's log name their writer
SOURCE = "faasr-easypy"
JOB_LINE = INVOCATION_PATTERNS["SLURM"]
DEFAULT_INTERVAL = 1.0


class InvocationJobs:
    """The job ids of one invocation and the action instance each runs."""

    def __init__(self, invocation, client=None, bucket=None):
        self.invocation = invocation
        self.workflow = invocation.workflow
        self.layout = invocation.layout
        self.client = client  # S3 of the logging data store: .done checks, ERROR lines
        self.bucket = bucket
        self.jobs = {}  # job id -> (action, rank)
        self._lines = {}  # (logging instance, target action) -> [job ids in the order logged]
        self.judged = set()  # instances the watcher has decided about
        self.cancelled = set()  # job ids the harness scancel'ed
        self.closed = False  # the run is over (cancelled or closed): nothing more is judged

    def learn(self, job_id, action, rank=None):
        self.jobs.setdefault(int(job_id), (action, rank))

    def observe_line(self, action, rank, line):
        """A log line of instance (action, rank): learn the successor job it names, if any."""
        if "Successfully submitted job" not in line:
            return
        message = line.split("] ", 3)[-1]  # after "[elapsed] [LEVEL] [file] "
        m = JOB_LINE.match(message)
        if not m or not m["job_id"] or m["target"] not in self.workflow.actions:
            return
        target, job_id = m["target"], int(m["job_id"])
        order = self._lines.setdefault(((action, rank), target), [])
        if job_id in order:
            return  # a line read again (the log was rewritten)
        order.append(job_id)
        self.learn(job_id, target, len(order) if self.workflow.is_ranked(target) else None)

    def instances(self):
        """{(action, rank): [job ids]}."""
        out = {}
        for job_id, key in self.jobs.items():
            out.setdefault(key, []).append(job_id)
        return out

    def expected_jobs(self, action):
        """Jobs one instance of `action` gets: one per predecessor instance (the entry: one)."""
        return max(1, len(self.workflow.predecessor_instances(action)))

    def has_done(self, action, rank):
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.layout.done_key(action, rank))
            return True
        except Exception as exc:  # absent, or (anything else) S3 cannot tell
            if is_missing(exc):
                return False
            raise

    def log_lines(self, keys):
        """[(action, rank, line)] of the logs of instances `keys` as S3 has them now (lines
        the monitor may not have read yet)."""
        out = []
        for action, rank in keys if self.client is not None else ():
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.layout.log_key(action, rank))["Body"]
                text = body.read().decode("utf-8", "replace")
            except Exception:  # no log yet, or S3 unreachable: nothing to learn from it
                continue
            out.extend((action, rank, line) for line in text.splitlines())
        return out


class JobWatcher:
    """One thread per backend: judges the jobs of every invocation it follows (see above)."""

    def __init__(self, jobs_api):
        self.api = jobs_api
        self.interval = None
        self._records = {}  # InvocationID -> InvocationJobs
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def follow(self, invocation, client=None, bucket=None, interval=None):
        """Know `invocation` (its S3 client and bucket for logs); returns its record."""
        with self._lock:
            rec = self._records.get(invocation.invocation_id)
            if rec is None:
                rec = self._records[invocation.invocation_id] = InvocationJobs(invocation, client, bucket)
            elif client is not None:
                rec.client, rec.bucket = client, bucket
            if interval:
                self.interval = min(self.interval or interval, float(interval))
        return rec

    def observe_line(self, invocation_id, action, rank, line):
        with self._lock:
            rec = self._records.get(invocation_id)
            if rec is not None:
                rec.observe_line(action, rank, line)

    def submitted(self, invocation, job_id, action, rank=None):
        """The backend's own submission (the entry action): watched from now on."""
        rec = self.follow(invocation)
        with self._lock:
            rec.learn(job_id, action, rank)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="slurm-job-watcher", daemon=True)
                self._thread.start()

    def record(self, invocation_id):
        with self._lock:
            return self._records.get(invocation_id)

    # -- judging ---------------------------------------------------------------------
    def _run(self):
        while not self._stop.wait(self.interval or DEFAULT_INTERVAL):
            try:
                self.check()
            except Exception:  # one bad check must not end the watching
                log.exception("SLURM job watcher: check failed")

    def check(self):
        """One look at the jobs of every open invocation; ERROR lines for the lost ones."""
        with self._lock:
            open_records = [r for r in self._records.values() if not r.closed and r.client is not None]
            work = [(r, r.instances()) for r in open_records]
        work = [(r, {k: ids for k, ids in inst.items() if k not in r.judged}) for r, inst in work]
        if not any(inst for _, inst in work):
            return
        states = self.api.states()
        if states is None:
            return  # slurmrestd unreachable: the jobs go on; ask again next time
        for rec, instances in work:
            for key, job_ids in instances.items():
                self._judge(rec, key, job_ids, states)

    def _judge(self, rec, key, job_ids, states):
        seen = {j: states.get(j) for j in job_ids}
        lost = [j for j, s in seen.items() if s is not None and s.state in LOST]
        if not lost:
            if all(s is not None and s.state == "COMPLETED" for s in seen.values()) \
                    and len(job_ids) >= rec.expected_jobs(key[0]):
                with self._lock:
                    rec.judged.add(key)  # every job ended normally: the monitor has the rest in S3
            return
        if any(s is not None and s.state in ACTIVE for s in seen.values()):
            return  # another job of the instance (a fan-in) may still finish it
        if len(job_ids) < rec.expected_jobs(key[0]):
            return  # a fan-in whose other predecessors have not submitted theirs yet
        with self._lock:
            if rec.closed or key in rec.judged:
                return
        try:
            done = rec.has_done(*key)
        except Exception:  # S3 cannot tell right now: ask again next time
            return
        if done:
            with self._lock:
                rec.judged.add(key)
            return
        job_id = min(lost)
        state = seen[job_id]
        reason = lost_reason(job_id, state.name, state.state, state.reason)
        with self._lock:
            if rec.closed:  # the harness cancelled the run meanwhile: its own doing, not a fault
                return
            rec.judged.add(key)
        append_did_not_finish(rec.client, rec.bucket, rec.layout.log_key(*key), state.run_seconds,
                              key[0], key[1], reason, source=SOURCE)
        log.info("SLURM: %s of InvocationID %s: %s", key[0], rec.invocation.invocation_id, reason)

    # -- cancelling ------------------------------------------------------------------
    def cancel(self, invocation_id, wait=10.0):
        """scancel every job of the invocation SLURM still runs or holds, and what they submitted."""
        rec = self.record(invocation_id)
        if rec is None:
            return
        with self._lock:
            rec.closed = True
        for _ in range(5):  # each round may learn successors from the logs of the round before
            with self._lock:
                keys = list(rec.instances())
            lines = rec.log_lines(keys)
            with self._lock:
                for action, rank, line in lines:
                    rec.observe_line(action, rank, line)
            states = self.api.states()
            with self._lock:
                known = [j for j in rec.jobs if j not in rec.cancelled]
            victims = [j for j in known if states is None or (j in states and states[j].state not in TERMINAL)]
            if not victims:
                return
            for job_id in sorted(victims):
                rec.cancelled.add(job_id)
                self.api.cancel(job_id)
            if states is None:
                return  # slurmrestd is not answering: nothing to wait for
            self._wait_ended(victims, wait)

    def _wait_ended(self, job_ids, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.api.states()
            if states is not None and all(j not in states or states[j].state in TERMINAL for j in job_ids):
                return
            time.sleep(0.2)

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
