"""The pyATS task of one workflow: WorkflowTask (the forked process) and WorkflowSession
(its life inside the task: stores, backend, runner, tester, the record it leaves)."""

import gc
import json
import logging
import re
import signal
import time
from pathlib import Path

from pyats.easypy.tasks import Task

from .._deprecation import renamed
from ..errors import UserError
from ..overrides import check_actions
from ..report.results_file import write_record
from . import pyats_patches
from .context import get_context
from .records import OUTPUT_BUCKETS, _outputs, _read_log, _relative

log = logging.getLogger(__name__)

GENERIC_TESTSCRIPT = Path(__file__).with_name("generic_testscript.py")
SETTLE_SECONDS = 10.0             # after the testscript, how long unfinished functions may still finish
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


def find_testscript(workflow_path, testscripts_dir=None):
    """The testscript paired with workflows/<stem>.json: <testscripts_dir>/<stem>.py, where
    testscripts_dir defaults to testscripts/ next to the workflow's folder; else the generic one."""
    workflow_path = Path(workflow_path).resolve()
    folder = Path(testscripts_dir) if testscripts_dir else workflow_path.parent.parent / "testscripts"
    candidate = folder / f"{workflow_path.stem}.py"
    return candidate if candidate.is_file() else GENERIC_TESTSCRIPT


class WorkflowTask(Task):
    """A pyATS task that triggers and monitors one FaaSr invocation and runs its testscript.

    workflow:     path of the workflow JSON
    testscript:   aetest script (default: the paired testscripts/<stem>.py, else the generic one)
    functions:    functions folder (default workflows/functions/<WorkflowName>/; --faasr-functions wins)
    overrides:    {action: {key: value}} overrides of the JSON's Arguments (WorkflowPool / run_workflow
                  merge --faasr-arg into them and expand list values into a batch; `arguments=` is
                  its deprecated name)
    timeout, check_interval, stream_logs: monitoring settings (the --faasr-* arguments win)
    max_runtime:  seconds before the task is killed and reported ERRORED (default timeout + 120)
    **params:     passed to the testscript as parameters, like easypy.run()
    """

    def __init__(self, workflow, testscript=None, runtime=None, taskid=None, functions=None,
                 overrides=None, timeout=None, check_interval=None, stream_logs=None,
                 max_runtime=None, **params):
        overrides = renamed(params, "arguments", "overrides", overrides, "WorkflowTask")
        workflow = getattr(workflow, "source", workflow)  # a Workflow: its file, loaded again in the task
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
        self.arguments = dict(overrides or {})
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
        check_actions(overrides, wf, task.workflow_path)
        self.stores = data_stores(wf, resolved, embedded_s3=ctx.s3, ensured_buckets=ctx.ensured_buckets)
        self.backend = make_backend(wf, resolved, functions, self.stores,
                                    action_timeout=ctx.option("action_timeout", resolved.action_timeout),
                                    fork_server=ctx.fork_server)
        self.runner = WorkflowRunner(
            wf, self.backend, self.stores[wf.logging_data_store], timeout=task.timeout,
            check_interval=task.check_interval, stream_logs=task.stream_logs,
            on_status_change=self._on_change, overrides=overrides,
            log_printer=lambda line: log.info("%s", line),
            s3_server=ctx.s3_notice if self._embedded(any_store=True) else None)
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
            if runner is not None and runner.started and not runner.monitor.finished and not self.interrupted:
                elapsed = time.time() - self.started
                runner.wait(timeout=max(0.0, min(SETTLE_SECONDS, self.task.timeout - elapsed)))
            if runner is not None:
                runner._stop()  # the session closes the backend itself, after the record
            self._close_backend()
            self._write_record()
            states = runner.get_function_statuses() if runner else {}
            self.ctx.publish(self.taskid, state="interrupted" if self.interrupted else "finished",
                             ended=time.time(),
                             functions={k: s.status.value for k, s in states.items()},
                             reasons={k: s.reason for k, s in states.items() if s.reason})
            if runner is not None and not self.ctx.keep_s3 and not self._embedded():
                runner.delete_data()  # real S3: drop this invocation's logs (outputs stay)
        except Exception:
            log.exception("faasr-easypy: cleaning up task %s failed", self.taskid)

    def _embedded(self, any_store=False):
        """Whether the workflow's data stores are all (or, any_store: any is) the job's embedded S3."""
        if not self.ctx.s3:
            return False
        on_it = [s.endpoint == self.ctx.s3.endpoint for s in self.stores.values()]
        return any(on_it) if any_store else all(on_it)

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
            write_record(directory, self.taskid, self._record(error), redact=self.ctx.redact_data)
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
            "error": error or (runner.s3_lost if runner else None),
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
            held = runner.final_log(s.log_key)
            # No log was ever listed (not invoked, skipped, never started): no GET for a 404.
            if s.started_at is None:
                text, truncated = None, False
            elif held is None and runner.s3_lost:  # S3 is gone: the lines the monitor read
                text, truncated = "\n".join(s.last_lines + ["[the rest of this log is lost with S3]"]), True
            else:
                text, truncated = _read_log(client, bucket, s.log_key, held)
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
