"""WorkflowPool: many workflow tasks, at most N at a time, batches of overrides, Ctrl-C."""

import json
import logging
import threading
import time
from pathlib import Path

from .._deprecation import renamed, renamed_keyword
from ..errors import UserError
from ..overrides import expand_batch
from .context import get_context
from .task import WorkflowTask, find_testscript, safe_taskid

log = logging.getLogger(__name__)

NOT_RERUN = "not rerun"           # state of a task that pyATS's rerun file left out


class WorkflowPool:
    """Run many workflow tasks, at most `max_parallel_tasks` at a time (default: --faasr-parallel,
    else faasr_easypy/defaults.py; `max_parallel=` is its deprecated name).

    Tasks are created when they start (a queued workflow that never starts
    leaves no task behind). Every task gets Task.wait(max_runtime=its
    max_runtime, post_task_exit_grace_period=grace): a task that runs too long
    or does not exit after its testscript is killed and reported ERRORED.
    After Ctrl-C (see JobContext.interrupted) no new task starts.
    """

    def __init__(self, runtime, max_parallel_tasks=None, grace=None, poll_interval=0.5, **deprecated):
        max_parallel_tasks = renamed_keyword(deprecated, "max_parallel", "max_parallel_tasks", max_parallel_tasks,
                                             "WorkflowPool")
        self.runtime = runtime
        self.ctx = get_context(runtime)
        self.max_parallel = int(self.ctx.option("parallel", max_parallel_tasks))
        if self.max_parallel < 1:
            raise UserError(f"--faasr-parallel {self.max_parallel}: at least 1 task must run at a time.")
        self.grace = float(grace if grace is not None else self.ctx.options["grace"])
        self.poll_interval = poll_interval
        self.queued = []    # [(taskid, kwargs of WorkflowTask)]
        self.tasks = []     # started WorkflowTasks
        self.not_started = []
        self.not_rerun = []
        self._ids = set(self.ctx.snapshot())

    def submit(self, workflow, testscript=None, taskid=None, overrides=None, **kwargs):
        """Queue a workflow (a Workflow or the path of its JSON file); a list value in
        `overrides` or --faasr-arg makes a batch (one task per combination). Returns the task ids."""
        overrides = renamed(kwargs, "arguments", "overrides", overrides, "WorkflowPool.submit")
        path = Path(getattr(workflow, "source", workflow))
        if not path.is_file():
            raise UserError(f"{workflow}: workflow file not found. Fix: give the path of a FaaSr workflow "
                            "JSON file (relative to where pyats runs, or absolute).")
        if testscript is not None and not Path(testscript).is_file():
            raise UserError(f"{testscript}: testscript not found. Fix: give the path of an aetest "
                            "testscript, or leave testscript out to use the paired or generic one.")
        overrides = {a: dict(v) for a, v in (overrides or {}).items()}
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
            self.queued.append((tid, dict(kwargs, workflow=path, testscript=script, overrides=combo)))
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
                if self.ctx.interrupted or self.ctx.s3_death():
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
        death = self.ctx.s3_death()
        why = f"{death}, before it started" if death and not self.ctx.interrupted else \
            "the job was interrupted before it started"
        for taskid, _ in entries:
            self.not_started.append(taskid)
            self.ctx.publish(taskid, state="not started", reason=why)
        if entries:
            log.warning("faasr-easypy: %s: %d queued workflow task(s) not started: %s",
                        "S3 lost" if death and not self.ctx.interrupted else "interrupted",
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
