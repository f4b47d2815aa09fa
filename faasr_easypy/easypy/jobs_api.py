"""The jobfile API: workflow tasks, a bounded pool, and run_workflow().

    from faasr_easypy.easypy import run_workflow, WorkflowPool

    def main(runtime):
        # one workflow, like easypy.run(): blocks, returns the task's result
        run_workflow(workflow="workflows/data_pipeline.json", runtime=runtime)

        # many, at most N at a time
        pool = WorkflowPool(runtime, max_parallel=8)
        for path in sorted(Path("workflows").glob("*.json")):
            pool.submit(workflow=path)
        pool.run()

Each task is a pyATS Task (a forked process). In the task, before its aetest
testscript runs, it loads the workflow, maps its DataStores and
ComputeServers through the testbed, triggers one invocation and starts
monitoring it; the testscript gets a ``tester`` parameter (a
:class:`~faasr_easypy.tester.WorkflowTester`), plus ``workflow`` and
``invocation_id``. Live statuses of every task sit in
``runtime.faasr.statuses`` (a ``runtime.synchro`` dict; see
:func:`workflow_statuses`).
"""

import gc
import itertools
import json
import logging
import re
import signal
import threading
import time
from pathlib import Path

from pyats.easypy.tasks import Task

from ..errors import UserError
from . import pyats_patches
from .context import get_context, write_json

log = logging.getLogger(__name__)

GENERIC_TESTSCRIPT = Path(__file__).with_name("generic_testscript.py")
RECORDS = "faasr"                 # folder in runtime.directory with one JSON record per task
LOG_LIMIT = 64 * 1024             # bytes of each function log kept in a record
NOT_RERUN = "not rerun"           # state of a task that pyATS's rerun file left out
SETTLE_SECONDS = 10.0             # after the testscript, how long unfinished functions may still finish
S3_LIST_LIMIT = 5000
OUTPUT_BUCKETS = "s3_buckets"     # in a record: buckets whose outputs the job still has to list


# -- arguments and batches -----------------------------------------------------------

def parse_faasr_arg(text):
    """'ACTION.KEY=VALUE' -> (action, key, value); VALUE is JSON when it parses, else a string."""
    head, sep, raw = str(text).partition("=")
    action, dot, key = head.partition(".")
    if not sep or not dot or not action.strip() or not key.strip():
        raise UserError(f"--faasr-arg {text!r} is not ACTION.KEY=VALUE. Fix: write e.g. "
                        "--faasr-arg create-input.count=50, or create-input.count=[10,20] for a batch "
                        "of one task per value.")
    from ..strict_json import NotJSON, loads

    try:
        # Strict: a NaN, a duplicate key or a 50,000-deep list is refused (exit 2), not a traceback.
        value = loads(raw, f"--faasr-arg {head.strip()}")
    except NotJSON:
        value = raw  # not JSON: the plain string
    return action.strip(), key.strip(), value


# pyATS names a task's log and result files after its id: a '/' in it made a phantom ERRORED
# task while the job exited 0. Ids are kept to what a file name can hold.
TASK_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def safe_taskid(taskid):
    """`taskid` if pyATS can use it, else the same with every other character as '_' (logged)."""
    taskid = str(taskid)
    if TASK_ID.fullmatch(taskid):
        return taskid
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", taskid).lstrip(".")[:100] or "task"
    log.warning("faasr-easypy: task id %r holds characters pyATS cannot put in a file name; "
                "it runs as %r", taskid[:200], safe)
    return safe


def expand_batch(overrides):
    """{action: {key: value}} -> list of {action: {key: value}}, one per combination.

    A list value means "one task per element"; to pass a list as the value
    itself, wrap it: [[1, 2, 3]].
    """
    axes = []
    for action, args in sorted(overrides.items()):
        for key, value in sorted(args.items()):
            values = value if isinstance(value, list) else [value]
            if not values:
                raise UserError(f"The argument {action}.{key} is an empty list: a batch needs at least one "
                                "value. Fix: give values, e.g. [1,2,3], or [[]] for an empty list.")
            axes.append([(action, key, v) for v in values])
    combos = []
    for combo in itertools.product(*axes) if axes else [()]:
        out = {}
        for action, key, value in combo:
            out.setdefault(action, {})[key] = value
        combos.append(out)
    return combos


def find_testscript(workflow_path, testscripts_dir=None):
    """The testscript paired with workflows/<stem>.json: <testscripts_dir>/<stem>.py, where
    testscripts_dir defaults to testscripts/ next to the workflow's folder; else the generic one."""
    workflow_path = Path(workflow_path).resolve()
    folder = Path(testscripts_dir) if testscripts_dir else workflow_path.parent.parent / "testscripts"
    candidate = folder / f"{workflow_path.stem}.py"
    return candidate if candidate.is_file() else GENERIC_TESTSCRIPT


# -- the task --------------------------------------------------------------------------

class WorkflowTask(Task):
    """A pyATS task that triggers and monitors one FaaSr invocation and runs its testscript.

    workflow:     path of the workflow JSON
    testscript:   aetest script (default: the paired testscripts/<stem>.py, else the generic one)
    functions:    functions folder (default workflows/functions/<WorkflowName>/; --faasr-functions wins)
    arguments:    {action: {key: value}} overrides of the JSON's Arguments (WorkflowPool / run_workflow
                  merge --faasr-arg into them and expand list values into a batch)
    timeout, check_interval, stream_logs: monitoring settings (the --faasr-* arguments win)
    max_runtime:  seconds before the task is killed and reported ERRORED (default timeout + 120)
    **params:     passed to the testscript as parameters, like easypy.run()
    """

    def __init__(self, workflow, testscript=None, runtime=None, taskid=None, functions=None,
                 arguments=None, timeout=None, check_interval=None, stream_logs=None,
                 max_runtime=None, **params):
        if runtime is None:
            raise TypeError("WorkflowTask needs the jobfile's runtime: WorkflowTask(..., runtime=runtime)")
        ctx = get_context(runtime)
        self.workflow_path = Path(workflow).resolve()
        if not self.workflow_path.is_file():
            raise UserError(f"{workflow}: workflow file not found. Fix: give the path of a FaaSr workflow "
                            "JSON file (relative to where pyats runs, or absolute).")
        script = Path(testscript).resolve() if testscript else find_testscript(self.workflow_path)
        if not script.is_file():
            raise UserError(f"{testscript}: testscript not found. Fix: give the path of an aetest "
                            "testscript, or leave testscript out to use the paired or generic one.")
        self.faasr_context = ctx
        self.testscript_path = script
        self.arguments = dict(arguments or {})
        self.functions = functions
        self.timeout = ctx.option("timeout", timeout)
        self.check_interval = ctx.option("check_interval", check_interval)
        self.stream_logs = bool(ctx.option("stream_logs", stream_logs))
        self.max_runtime = max_runtime or (self.timeout + ctx.options["runtime_margin"])
        self.started_at = None
        self.session = None
        taskid = safe_taskid(taskid or self.workflow_path.stem)
        super().__init__(testscript=str(script), taskid=taskid, runtime=runtime, **params)
        if not ctx.known(self.taskid):
            ctx.publish(self.taskid, workflow_file=str(self.workflow_path), testscript=str(script),
                        state="queued", arguments=self.arguments, functions={}, reasons={})

    def start(self):
        ctx = self.faasr_context
        ctx.ensure_s3()  # in the job process, before forking
        ctx.ensure_fork_server()  # one for every task: they connect to it, not start their own
        ctx.prepare_buckets(self.workflow_path)
        pyats_patches.warm(self.testscript_path)  # git information and class sources, once
        # Objects that exist now are shared with the task by fork; freezing them keeps the
        # task's garbage collector from touching (and so copying) their memory pages.
        gc.freeze()
        self.started_at = time.monotonic()
        self.faasr_context.running.add(self)
        return super().start()

    def _run(self, **kwargs):
        """Runs in the forked task: set up and trigger, run the testscript, clean up."""
        self.session = session = WorkflowSession(self)
        _watch_sigint(session)
        try:
            session.open()
        except BaseException as exc:
            session.fail(exc)
            raise
        kwargs.update(tester=session.tester, workflow=session.workflow,
                      invocation_id=session.runner.invocation_id)
        try:
            return super()._run(**kwargs)
        finally:
            # Cleaning up must finish: a second Ctrl-C is ignored from here on (SIGTERM still works).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            session.close()


def _watch_sigint(session):
    """In the task: note Ctrl-C (so cleanup does not wait) and pass only the first one to aetest."""
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):
        first = not session.interrupted
        session.interrupted = True
        if first and callable(previous):
            previous(signum, frame)
        elif first and previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread of the task
        pass


class WorkflowSession:
    """The task-side life of one invocation: S3 stores, local backend, runner, tester."""

    def __init__(self, task):
        self.task = task
        self.ctx = task.faasr_context
        self.taskid = task.taskid
        self.workflow = None
        self.backend = None
        self.runner = None
        self.tester = None
        self.stores = {}
        self.started = None
        self.interrupted = False

    def open(self):
        from ..function_check import check_before_run
        from ..placement.place import check_functions_folder, data_stores, make_backend
        from ..runner import WorkflowRunner
        from ..tester import WorkflowTester
        from ..workflow import default_functions_dir, load_workflow

        ctx, task = self.ctx, self.task
        self.started = time.time()
        self.workflow = wf = load_workflow(task.workflow_path)
        self.ctx.publish(self.taskid, workflow=wf.name, state="starting", started=self.started)
        resolved = ctx.testbed.resolve(wf)
        default = default_functions_dir(task.workflow_path, wf.name)
        functions = Path(ctx.options.get("cli_functions") or task.functions or default)
        fix = (f"put the workflow's Python files in {default}, "
               "or pass --faasr-functions DIR (or functions=DIR to run_workflow).")
        check_functions_folder(wf, resolved, functions, fix=fix)
        check_before_run(wf, functions, resolved=resolved, fix_folder=fix)  # before anything triggers
        overrides = {a: dict(args) for a, args in task.arguments.items()}
        unknown = [a for a in overrides if a not in wf.actions]
        if unknown:
            raise UserError(f"Arguments given for {', '.join(map(repr, unknown))}, which workflow {wf.name} "
                            f"({task.workflow_path}) does not have. Fix: use one of its actions: "
                            f"{', '.join(sorted(wf.actions))}.")
        self.stores = data_stores(wf, resolved, embedded_s3=ctx.s3, ensured_buckets=ctx.ensured_buckets)
        self.backend = make_backend(wf, resolved, functions, self.stores,
                                    action_timeout=ctx.option("action_timeout", resolved.action_timeout),
                                    fork_server=ctx.fork_server)
        self.runner = WorkflowRunner(
            wf, self.backend, self.stores[wf.logging_data_store], timeout=task.timeout,
            check_interval=task.check_interval, stream_logs=task.stream_logs,
            on_status_change=self._on_change, argument_overrides=overrides,
            log_printer=lambda line: log.info("%s", line))
        self.tester = WorkflowTester(runner=self.runner)
        log.info("faasr-easypy: workflow %s (%s), functions %s, InvocationID %s, folder %s",
                 wf.name, task.workflow_path, functions, self.runner.invocation_id, self.runner.layout.folder)
        if overrides:
            log.info("faasr-easypy: argument overrides %s", json.dumps(overrides))
        self.ctx.publish(self.taskid, state="running", invocation_id=self.runner.invocation_id,
                         invocation_folder=self.runner.layout.folder, functions=self._functions(),
                         platform=self.backend.platform, bucket=self.stores[wf.logging_data_store].bucket)
        self.runner.start()

    def _functions(self):
        states = self.runner.get_function_statuses()
        return {label: s.status.value for label, s in states.items()}

    def _on_change(self, state, previous):
        states = self.runner.get_function_statuses()
        self.ctx.publish(self.taskid, functions={k: s.status.value for k, s in states.items()},
                         reasons={k: s.reason for k, s in states.items() if s.reason})

    def fail(self, exc):
        if isinstance(exc, KeyboardInterrupt) or self.interrupted:
            # Ctrl-C / SIGTERM to the job while this task was starting: aborted, not errored
            # (the plugin words the reason, it knows which signal it was).
            log.warning("faasr-easypy: task %s was interrupted while starting its workflow", self.taskid)
            self.ctx.publish(self.taskid, state="interrupted", ended=time.time())
            self._write_record()
            self._close_backend()
            return
        message = self.ctx.redact(str(exc))
        log.error("faasr-easypy: task %s could not start its workflow: %s", self.taskid, message)
        self.ctx.publish(self.taskid, state="errored", reason=message, ended=time.time())
        self._write_record(error=message)
        self._close_backend()

    def close(self):
        runner = self.runner
        try:
            if runner is not None and runner.started and not runner.monitoring_complete and not self.interrupted:
                elapsed = time.time() - self.started
                runner.wait(timeout=max(0.0, min(SETTLE_SECONDS, self.task.timeout - elapsed)))
            if runner is not None:
                runner.shutdown()
            self._close_backend()
            self._write_record()
            states = runner.get_function_statuses() if runner else {}
            self.ctx.publish(self.taskid, state="interrupted" if self.interrupted else "finished",
                             ended=time.time(),
                             functions={k: s.status.value for k, s in states.items()},
                             reasons={k: s.reason for k, s in states.items() if s.reason})
            if runner is not None and not self.ctx.keep_s3 and not self._embedded():
                runner.cleanup()  # real S3: drop this invocation's logs (outputs stay)
        except Exception:
            log.exception("faasr-easypy: cleaning up task %s failed", self.taskid)

    def _embedded(self):
        return bool(self.ctx.s3) and all(s.endpoint == self.ctx.s3.endpoint for s in self.stores.values())

    def _close_backend(self):
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:
                log.exception("faasr-easypy: closing the local backend failed")

    # -- the record the plugin turns into faasr_results.json ------------------------
    def _write_record(self, error=None):
        directory = getattr(self.task.runtime, "directory", None) or self.ctx.directory
        if not directory:
            return
        try:
            record = self._record(error)
            write_json(Path(directory) / RECORDS / f"{self.taskid}.json", self.ctx.redact_data(record))
        except Exception:
            log.exception("faasr-easypy: writing the record of task %s failed", self.taskid)

    def _record(self, error):
        wf, runner = self.workflow, self.runner
        record = {
            "task_id": self.taskid,
            "workflow": wf.name if wf else None,
            "source": _relative(self.task.workflow_path, self.ctx.project_root),
            "testscript": _relative(self.task.testscript_path, self.ctx.project_root),
            "arguments": self.task.arguments,
            "error": error,
            "invocation_id": runner.invocation_id if runner else None,
            "invocation_folder": runner.layout.folder if runner else None,
            "endpoint": self.stores[wf.logging_data_store].endpoint if runner else None,
            "bucket": self.stores[wf.logging_data_store].bucket if runner else None,
            "platform": self.backend.platform if self.backend else None,
            "started": self.started,
            "ended": time.time(),
            "functions": [],
            "edges": [],
            "s3_objects": [],
            "monitor": {},
        }
        if wf is not None:
            record["edges"] = sorted({(e.source, e.target) for a in wf.actions.values() for e in a.edges})
        if runner is None:
            return record
        client = self.tester.client
        bucket = runner.data_store.bucket
        times = runner.function_times()
        for label, s in runner.get_function_statuses().items():
            # No log was ever listed (not invoked, skipped, never started): no GET for a 404.
            text, truncated = (None, False) if s.started_at is None else \
                _read_log(client, bucket, s.log_key, runner.final_log(s.log_key))
            started_at, ended_at = times.get(label, (None, None))
            record["functions"].append({
                "label": label, "action": s.action, "rank": s.rank, "status": s.status.value,
                "reason": s.reason or None, "started_at": started_at, "ended_at": ended_at,
                "log_key": s.log_key, "log": text, "log_truncated": truncated})
        if self._embedded():  # the job lists the shared server's buckets once (fill_outputs)
            record["s3_objects"] = None
            record[OUTPUT_BUCKETS] = sorted({s.bucket for s in self.stores.values()})
        else:
            record["s3_objects"] = _outputs(client, self.stores, runner)
        record["monitor"] = {"requests": runner.s3_requests, "bytes_downloaded": runner.s3_bytes_downloaded,
                             "check_interval": self.task.check_interval, "timed_out": runner.timed_out}
        return record


def _read_log(client, bucket, key, final=None):
    """The first LOG_LIMIT bytes of a log: from `final` (the monitor's copy of a log that can
    no longer change: no second download) or from S3."""
    if not key:
        return None, False
    try:
        body = final[:LOG_LIMIT + 1] if final is not None else \
            client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{LOG_LIMIT}")["Body"].read()
    except Exception:
        return None, False
    truncated = len(body) > LOG_LIMIT
    text = body[:LOG_LIMIT].decode("utf-8", "replace")
    if truncated:
        text += f"\n[... cut at {LOG_LIMIT // 1024} KiB; the full log is s3://{bucket}/{key}]\n"
    return text, truncated


def _outputs(client, stores, runner):
    """Objects of this invocation outside its log folder (keys holding the InvocationID)."""
    out, seen = [], set()
    log_root = runner.layout.log_root
    for store in stores.values():
        if store.bucket in seen:
            continue
        seen.add(store.bucket)
        try:
            objects = _objects_outside_log_trees(client, store.bucket, {log_root})
        except Exception as exc:
            log.debug("listing outputs in %s failed: %s", store.bucket, exc)
            continue
        out += _outputs_of(objects, store.bucket, runner.invocation_id, runner.layout.prefix)
    return out


def _objects_outside_log_trees(client, bucket, log_roots):
    """Every object of `bucket` but those under a FaaSr log root (`{FaaSrLog}/...`).

    The log tree holds every invocation's logs and `.done` files, most of a bucket's
    keys in a job of many workflows, and no outputs: skipping it keeps the listing
    to the outputs."""
    skip = {root.strip("/") + "/" for root in log_roots}
    top = client.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1000)
    objects = list(top.get("Contents", ()))
    prefixes = [p["Prefix"] for p in top.get("CommonPrefixes", ()) if p["Prefix"] not in skip]
    if top.get("IsTruncated"):  # too many top-level entries: list it all
        objects, prefixes = [], [""]
    paginator = client.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix,
                                       PaginationConfig={"MaxItems": S3_LIST_LIMIT}):
            objects.extend(page.get("Contents", ()))
    return objects


def _outputs_of(objects, bucket, invocation_id, log_prefix):
    return [{"key": o["Key"], "size": o["Size"], "bucket": bucket} for o in objects
            if invocation_id in o["Key"] and not o["Key"].startswith(log_prefix)]


def fill_outputs(records, ctx, folder=None):
    """Job process, post_job: outputs of the tasks that left them to the job.

    A task whose stores are all the job's embedded S3 writes ``s3_objects: null``
    and its buckets; here every such bucket is listed once for all tasks, instead
    of once per task. `records` ({taskid: record}) are completed in place, and
    their files in `folder` rewritten."""
    pending = {t: r for t, r in records.items() if OUTPUT_BUCKETS in r}
    if not pending:
        return
    listed = {}
    client = None
    roots = {_log_root(r.get("invocation_folder")) for r in pending.values()} - {None}
    for taskid, record in sorted(pending.items()):
        buckets = record.pop(OUTPUT_BUCKETS) or []
        found = []
        for bucket in buckets:
            if bucket not in listed:
                listed[bucket] = []
                try:
                    if client is None:
                        from ..s3.client import make_client

                        client = make_client(ctx.s3.service().store("job", bucket))
                    listed[bucket] = _objects_outside_log_trees(client, bucket, roots)
                except Exception as exc:
                    log.warning("faasr-easypy: listing the outputs in bucket %s failed: %s", bucket, exc)
            if record.get("invocation_id"):
                found += _outputs_of(listed[bucket], bucket, record["invocation_id"],
                                     (record.get("invocation_folder") or "").rstrip("/") + "/")
        record["s3_objects"] = found
        if folder is not None:
            try:
                write_json(Path(folder) / f"{taskid}.json", ctx.redact_data(record))
            except Exception:
                log.exception("faasr-easypy: updating the record of task %s failed", taskid)


def _log_root(invocation_folder):
    """'FaaSrLog/WF/<timestamp>/<id>' -> 'FaaSrLog'."""
    parts = (invocation_folder or "").strip("/").split("/")
    return "/".join(parts[:-3]) if len(parts) > 3 else None


def _relative(path, root):
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


# -- the pool ------------------------------------------------------------------------------

class WorkflowPool:
    """Run many workflow tasks, at most `max_parallel` at a time.

    Tasks are created when they start (a queued workflow that never starts
    leaves no task behind). Every task gets Task.wait(max_runtime=its
    max_runtime, post_task_exit_grace_period=grace): a task that runs too long
    or does not exit after its testscript is killed and reported ERRORED.
    After Ctrl-C (see JobContext.interrupted) no new task starts.
    """

    def __init__(self, runtime, max_parallel=None, grace=None, poll_interval=0.5):
        self.runtime = runtime
        self.ctx = get_context(runtime)
        self.max_parallel = int(self.ctx.option("parallel", max_parallel))
        if self.max_parallel < 1:
            raise UserError(f"--faasr-parallel {self.max_parallel}: at least 1 task must run at a time.")
        self.grace = float(grace if grace is not None else self.ctx.options["grace"])
        self.poll_interval = poll_interval
        self.queued = []    # [(taskid, kwargs of WorkflowTask)]
        self.tasks = []     # started WorkflowTasks
        self.not_started = []
        self.not_rerun = []
        self._ids = set(self.ctx.snapshot())

    def submit(self, workflow, testscript=None, taskid=None, arguments=None, **kwargs):
        """Queue a workflow; a list value in `arguments` or --faasr-arg makes a batch
        (one task per combination). Returns the task ids."""
        path = Path(workflow)
        if not path.is_file():
            raise UserError(f"{workflow}: workflow file not found. Fix: give the path of a FaaSr workflow "
                            "JSON file (relative to where pyats runs, or absolute).")
        if testscript is not None and not Path(testscript).is_file():
            raise UserError(f"{testscript}: testscript not found. Fix: give the path of an aetest "
                            "testscript, or leave testscript out to use the paired or generic one.")
        overrides = {a: dict(v) for a, v in (arguments or {}).items()}
        actions = _actions_of(path)
        for index, (action, key, value) in enumerate(self.ctx.faasr_args):
            if actions is None or action in actions:
                overrides.setdefault(action, {})[key] = value
                self.ctx.used_args.add(index)
        combos = expand_batch(overrides)
        base = safe_taskid(taskid or path.stem)
        ids = []
        for i, combo in enumerate(combos, 1):
            tid = self._unique(f"{base}-{i}" if len(combos) > 1 else base)
            script = Path(testscript).resolve() if testscript else find_testscript(path)
            self.queued.append((tid, dict(kwargs, workflow=path, testscript=script, arguments=combo)))
            self.ctx.publish(tid, workflow_file=str(path.resolve()), testscript=str(script), state="queued",
                             arguments=combo, functions={}, reasons={})
            ids.append(tid)
        return ids

    def _unique(self, tid):
        candidate, n = tid, 2
        while candidate in self._ids:
            candidate, n = f"{tid}-{n}", n + 1
        self._ids.add(candidate)
        return candidate

    def run(self):
        """Start every queued task (bounded), wait for all; {taskid: result}."""
        slots = threading.BoundedSemaphore(self.max_parallel)
        waiters = []
        queue, self.queued = self.queued, []
        self.ctx.install_sigint_handler()
        try:
            for position, (taskid, kwargs) in enumerate(queue):
                while not slots.acquire(timeout=self.poll_interval):
                    pass
                if self.ctx.interrupted:
                    slots.release()
                    self._skip(queue[position:])
                    break
                try:
                    task = WorkflowTask(runtime=self.runtime, taskid=taskid, **kwargs)
                    task.start()
                except BaseException:
                    slots.release()
                    raise
                if task.pid is None:
                    # pyATS's rerun plugin (--rerun-file) did not select it: start() forked nothing.
                    slots.release()
                    self.ctx.running.discard(task)
                    self.not_rerun.append(taskid)
                    self.ctx.publish(taskid, state=NOT_RERUN)
                    continue
                self.tasks.append(task)
                waiter = threading.Thread(target=self._wait, args=(task, slots), daemon=True,
                                          name=f"faasr-wait-{task.taskid}")
                waiter.start()
                waiters.append(waiter)
            for waiter in waiters:
                while waiter.is_alive():
                    waiter.join(self.poll_interval)
        except BaseException:
            # A second Ctrl-C or an error in the job process: stop every task still running.
            for task in self.tasks:
                if task.is_alive():
                    try:
                        task.terminate()
                    except Exception:
                        pass
            self._skip(queue[len(self.tasks):])
            raise
        if self.not_rerun:
            log.info("faasr-easypy: rerun: %d workflow task(s) not selected by the rerun file: %s",
                     len(self.not_rerun), ", ".join(self.not_rerun))
        self._warn_unused_args()
        return self.results

    def _skip(self, entries):
        for taskid, _ in entries:
            self.not_started.append(taskid)
            self.ctx.publish(taskid, state="not started", reason="the job was interrupted before it started")
        if entries:
            log.warning("faasr-easypy: interrupted: %d queued workflow task(s) not started: %s",
                        len(entries), ", ".join(t for t, _ in entries))

    def _wait(self, task, slots):
        try:
            # A short poll: the job notices a finished task (and frees its slot) within 0.1 s.
            task.wait(max_runtime=task.max_runtime, post_task_exit_grace_period=self.grace,
                      poll_interval=min(0.1, self.poll_interval))
        except TimeoutError as exc:
            log.error("faasr-easypy: %s", exc)
            self.ctx.publish(task.taskid, state="errored",
                             reason=f"killed after max_runtime {task.max_runtime:g} s", ended=time.time())
        except Exception:
            log.exception("faasr-easypy: waiting for task %s failed", task.taskid)
        finally:
            self.ctx.running.discard(task)
            slots.release()
        state = self.ctx.entry(task.taskid).get("state")
        self.ctx.publish(task.taskid, result=str(task.result),
                         state=state if state in ("errored", "finished", "interrupted") else "ended")

    def _warn_unused_args(self):
        for index, (action, key, value) in enumerate(self.ctx.faasr_args):
            if index not in self.ctx.used_args:
                log.warning("faasr-easypy: --faasr-arg %s.%s=%s matched no action of any workflow run",
                            action, key, json.dumps(value))

    @property
    def results(self):
        return {t.taskid: t.result for t in self.tasks}

    @property
    def result(self):
        """The rolled-up result of every started task (passed + failed = failed, ...)."""
        from pyats.results import Aborted, Passed

        total = None
        for task in self.tasks:
            total = task.result if total is None else total + task.result
        if self.not_started:
            total = Aborted if total is None else total + Aborted
        return total if total is not None else Passed


def _actions_of(path):
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return set(data.get("ActionList") or {})
    except Exception:
        return None  # the task reports the problem with the file


def run_workflow(workflow, testscript=None, runtime=None, taskid=None, **params):
    """Run one workflow task and wait for it, like easypy.run(); return its result.

    A list value in `arguments` (or --faasr-arg) runs a batch and returns the
    rolled-up result of its tasks.
    """
    if runtime is None:
        raise TypeError("run_workflow needs the jobfile's runtime: run_workflow(..., runtime=runtime)")
    pool = WorkflowPool(runtime, max_parallel=params.pop("max_parallel", None))
    pool.submit(workflow, testscript=testscript, taskid=taskid, **params)
    pool.run()
    return pool.result


def run_workflows(workflows, runtime, max_parallel=None, testscripts_dir=None, **params):
    """Run every workflow (paths) with its paired testscript (or the generic one), N at a time.

    Returns the WorkflowPool (its .results and .result say how it went).
    """
    pool = WorkflowPool(runtime, max_parallel=max_parallel)
    for path in workflows:
        script = find_testscript(path, testscripts_dir) if testscripts_dir else None
        pool.submit(path, testscript=script, **params)
    pool.run()
    return pool


def workflow_statuses(runtime):
    """{taskid: {workflow, state, invocation_id, functions: {label: STATUS}, reasons, result, ...}}:
    a copy of the live statuses every task publishes."""
    return get_context(runtime).snapshot()
