"""The faasr-easypy Easypy plugin.

Registered through the ``pyats.easypy.plugins`` entry point (setup.py), so it
is active whenever faasr-easypy is installed. For jobs that use FaaSr (a
jobfile that imports faasr_easypy, a testbed with FaaSr devices, or any
``--faasr-*`` argument) it:

* adds the ``--faasr-*`` arguments (see ``pyats run job --help``);
* in pre_job: reads the testbed (``--testbed-file``, else the built-in local
  one), starts the embedded S3 server once for the whole job when the testbed
  asks for it, puts archives in the project's ``archives/`` folder unless
  ``--archive-dir`` says otherwise, and creates the live status dict;
* in post_job: writes ``faasr_results.json`` into the archive, runs the
  report hooks, prints a summary and stops the S3 server (also after Ctrl-C
  or an error; an atexit handler and PR_SET_PDEATHSIG back that up); the job
  ends by printing where the archive is.

It also applies faasr-easypy's default Easypy configuration
(``easypy_config.yaml``: slow plugins a FaaSr job does not use are switched
off) to jobfiles that use faasr_easypy. ``-C FILE`` still overrides it, and
``FAASR_EASYPY_DEFAULT_CONFIG=0`` turns that off.
"""

import atexit
import logging
import os
import signal
import sys
import time
from pathlib import Path

from pyats.easypy.plugins.bases import BasePlugin

from ..arguments import positive_count, positive_seconds

log = logging.getLogger(__name__)

CONFIG_FILE = Path(__file__).with_name("easypy_config.yaml")
ENV_DEFAULT_CONFIG = "FAASR_EASYPY_DEFAULT_CONFIG"
REPORT_ENTRY_POINT = "faasr_easypy.report"

# Callables fn(results: dict, directory: Path, runtime) -> path of a report file (or None),
# run in post_job after faasr_results.json is written. The HTML report registers here
# (or through the "faasr_easypy.report" entry point group).
report_hooks = []


def register_report_hook(fn):
    if fn not in report_hooks:
        report_hooks.append(fn)
    return fn


def _die_with_job(job_pid, interval=0.5):
    """In a task: end it when the job process is gone (SIGKILL of `pyats run job`), instead
    of running on for minutes. A watcher thread, not PR_SET_PDEATHSIG: that follows the
    thread that forked the task, and a jobfile may start tasks from any thread."""
    import threading

    def watch():
        while os.getppid() == job_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGKILL)  # the fork server, orphaned too, kills its actions

    if os.getppid() == job_pid:
        threading.Thread(target=watch, name="faasr-easypy-job-watch", daemon=True).start()


class ResultsNotWritten(RuntimeError):
    """faasr_results.json or a report could not be written: the job must not look green."""


class FaasrPlugin(BasePlugin):
    """FaaSr workflows in pyATS jobs: --faasr-* arguments, one S3 server per job, results."""

    @classmethod
    def configure_parser(cls, parser, legacy_cli=True):
        group = parser.add_argument_group("FaaSr (faasr-easypy)")
        group.add_argument("--faasr-functions", dest="faasr_functions", metavar="DIR", default=None,
                           help="folder with the workflows' Python functions "
                                "(default: functions/<WorkflowName>/ next to each workflow file)")
        group.add_argument("--faasr-timeout", dest="faasr_timeout", metavar="SECONDS", type=positive_seconds,
                           default=None, help="how long one workflow may run (default: testbed Timeout, else 300)")
        group.add_argument("--faasr-check-interval", dest="faasr_check_interval", metavar="SECONDS",
                           type=positive_seconds, default=None,
                           help="seconds between S3 polls (default: testbed CheckInterval, else 0.5)")
        group.add_argument("--faasr-parallel", dest="faasr_parallel", metavar="N", type=positive_count, default=None,
                           help="workflow tasks running at once (default 16)")
        group.add_argument("--faasr-stream-logs", dest="faasr_stream_logs", action="store_true", default=None,
                           help="copy each function's log lines into the task log as they arrive")
        group.add_argument("--faasr-keep-s3", dest="faasr_keep_s3", action="store_true", default=False,
                           help="keep S3 data after the job (the embedded server's data folder, "
                                "invocation logs on real S3)")
        group.add_argument("--faasr-arg", dest="faasr_arg", metavar="ACTION.KEY=VALUE", action="append",
                           default=[], help="override an action argument (VALUE is JSON when it parses); "
                                            "a list, KEY=[1,2,3], runs one task per value (a batch)")
        group.add_argument("--faasr-task-grace", dest="faasr_task_grace", metavar="SECONDS", type=positive_seconds,
                           default=None, help="post_task_exit_grace_period of each task (default 30)")
        return parser

    # -- job process ---------------------------------------------------------------
    def pre_job(self, job):
        from ..errors import UserError
        from .context import JobContext, is_faasr_jobfile, project_root
        from .jobs_api import parse_faasr_arg
        from .pyats_testbed import from_pyats, has_faasr_devices, load_builtin

        runtime = self.runtime
        args = runtime.args
        jobfile = getattr(args, "jobfile", None)
        given_testbed = getattr(runtime, "testbed", None)
        faasr_testbed = given_testbed is not None and has_faasr_devices(given_testbed)
        if not (is_faasr_jobfile(jobfile) or faasr_testbed or _faasr_args_given(args)):
            return  # not a FaaSr job: stay out of the way
        from . import pyats_patches

        pyats_patches.install()  # done already, unless the jobfile was not found at registration
        try:
            faasr_args = [parse_faasr_arg(a) for a in (args.faasr_arg or [])]
            if faasr_testbed:
                testbed = from_pyats(given_testbed)
            else:
                if given_testbed is not None:
                    log.info("faasr-easypy: testbed %s has no FaaSr devices (type s3 / faas); "
                             "using the built-in local testbed", given_testbed.name)
                testbed = load_builtin()
                if given_testbed is None:
                    self._set_testbed(testbed.source)
            testbed.check_available()
        except UserError as exc:
            _refuse(exc)
        root = project_root(jobfile)
        self._archive_in_project(root)
        statuses = runtime.synchro.dict()
        options = {
            "cli_functions": args.faasr_functions,
            "cli_timeout": args.faasr_timeout,
            "cli_check_interval": args.faasr_check_interval,
            "cli_parallel": args.faasr_parallel,
            "cli_stream_logs": args.faasr_stream_logs,
            "keep_s3": args.faasr_keep_s3,
            "grace": args.faasr_task_grace,
        }
        ctx = JobContext(testbed, options=options, statuses=statuses, directory=runtime.directory,
                         project_root=root, faasr_args=faasr_args,
                         job_name=Path(jobfile).stem if jobfile else "job")
        runtime.faasr = ctx
        ctx.install_sigint_handler()  # before the first line: a signal right after it is handled
        ctx.mask_secrets_in_logs()
        # pyATS's own outputs: what tasks send its reporter, the mail, the archive folder before the zip
        pyats_patches.for_job(runtime, ctx.redactor)
        log.info("faasr-easypy: testbed %s (%s)%s", testbed.name, testbed.source,
                 " [built-in]" if testbed.builtin else "")
        ctx.start_s3_background()  # ready by the time the jobfile starts its first task

    def pre_task(self, task):
        ctx = getattr(self.runtime, "faasr", None)
        if ctx is not None:
            ctx.mask_secrets_in_logs()  # the task log handler pyATS just made for this task
            ctx.mask_output()
            _die_with_job(ctx.owner_pid)

    def post_job(self, job):
        ctx = getattr(self.runtime, "faasr", None)
        if ctx is None:
            return
        from ..report.results_file import RESULTS_FILE

        failures = []
        try:
            # Redacted once here, value by value: the report hooks and the mail get the same data.
            results = ctx.redact_data(self._collect(ctx))
            self._write_results(ctx, results)
        except Exception as exc:
            log.exception("faasr-easypy: writing the FaaSr results failed")
            failures.append(f"{RESULTS_FILE} could not be written ({type(exc).__name__}: {ctx.redact(exc)})")
        else:
            self._print_summary(results)
            failures += self._run_report_hooks(results)
        finally:
            ctx.stop()  # the fork server and the S3 server
            _mask_run_folder(self.runtime, ctx)
            _announce_archive(self.runtime, link=getattr(self, "_moved_archive", False))
        if failures:
            # pyATS lists this plugin as ERRORED and the job exits non-zero (3): red means red
            raise ResultsNotWritten("; ".join(failures) + ": the job's results are incomplete")

    # -- helpers -------------------------------------------------------------------
    def _set_testbed(self, path):
        """Give tasks the built-in testbed as their `testbed` parameter (best effort)."""
        try:
            from pyats.topology import loader

            self.runtime.testbed = loader.load(str(path))
        except Exception as exc:
            log.debug("could not set runtime.testbed: %s", exc)

    def _archive_in_project(self, root):
        """Archives go to <project>/archives unless --archive-dir or a pyATS setting says otherwise."""
        runtime = self.runtime
        if getattr(runtime.args, "archive_dir", None) or getattr(runtime.args, "no_archive", False):
            return
        try:
            from pyats.configuration import configuration as cfg

            if cfg.get("easypy.runinfo.archive"):
                return
        except Exception:
            pass
        runinfo = runtime.runinfo
        try:
            base = Path(root) / "archives"
            old_dir = Path(runinfo.archive_dir)
            new_dir = base if getattr(runinfo, "no_archive_subdir", False) else base / old_dir.name
            runinfo.archive_dir = str(new_dir)
            runinfo.archive_file = str(new_dir / Path(runinfo.archive_file).name)
            self._moved_archive = True  # pyats logs view looks elsewhere: link it there at exit
        except Exception as exc:
            log.warning("faasr-easypy: could not move the archive to %s/archives: %s", root, exc)

    def _collect(self, ctx):

        from ..report.links import add_links
        from ..report.results_file import read_records
        from .pool import NOT_RERUN
        from .records import fill_outputs

        runtime = self.runtime
        statuses = ctx.snapshot()
        records = read_records(runtime.directory)
        fill_outputs(records, ctx, runtime.directory)  # one listing of the embedded S3 for every task
        verdicts, testcases = {}, {}
        details_read = False
        try:
            for task in runtime.details().tasks:
                if task.result is not None:  # None: the task was stopped before it reported
                    verdicts[task.id] = getattr(task.result, "value", None) or str(task.result)
                testcases[task.id] = _testcases(task, ctx.project_root)
            details_read = True
        except Exception as exc:
            log.debug("could not read task details: %s", exc)
        workflows = []
        for taskid in sorted(set(records) | set(statuses)):
            record = dict(records.get(taskid) or {"task_id": taskid})
            status = statuses.get(taskid, {})
            if status.get("state") == NOT_RERUN:
                continue  # not part of this run, as in pyATS's own results.json
            record.setdefault("workflow", status.get("workflow"))
            record.setdefault("source", status.get("workflow_file"))
            record.setdefault("testscript", status.get("testscript"))
            record.setdefault("functions", [{"label": k, "status": v, "reason": status.get("reasons", {}).get(k)}
                                            for k, v in (status.get("functions") or {}).items()])
            record["verdict"] = _verdict(verdicts.get(taskid) if details_read else status.get("result"),
                                         status.get("state"), ctx.interrupted)
            record["state"] = status.get("state")
            record["testcases"] = add_links(record, testcases.get(taskid, []))
            record["code_hash"] = _code_hash(status.get("workflow_file"), record.get("workflow"),
                                             ctx.options.get("cli_functions"))
            if status.get("reason") and not record.get("error"):
                record["error"] = status.get("reason")
            # An aborted verdict alone is no interruption: a testscript section may end aborted.
            stopped = status.get("state") in ("interrupted", "not started") or \
                (ctx.interrupted and record["verdict"] == "aborted")
            if stopped and record["verdict"] != "passed" and not record.get("error"):
                record["error"] = f"interrupted ({ctx.interrupted_by or 'Ctrl-C'}) before the workflow finished"
            workflows.append(record)
        _fill_previews(workflows, ctx)
        s3_death = ctx.s3_death()
        complete = not ctx.interrupted and not s3_death and all(w.get("state") == "finished" for w in workflows)
        return {
            "schema": 1,
            "job": {
                "name": ctx.job_name, "started": ctx.started, "ended": time.time(),
                "testbed": ctx.testbed.name, "archive": _relative(runtime.archive, ctx.project_root),
                "complete": complete,
                "note": None if complete else (f"interrupted ({ctx.interrupted_by or 'Ctrl-C'})" if ctx.interrupted else
                                               f"stopped: {s3_death}" if s3_death else
                                               "some workflow tasks did not finish (killed or errored)"),
            },
            "workflows": workflows,
        }

    def _write_results(self, ctx, results):
        from ..report.results_file import write_results

        write_results(self.runtime.directory, results)

    def _print_summary(self, results):
        rows = results["workflows"]
        if not rows:
            return
        log.info("faasr-easypy: %d workflow task(s)", len(rows))
        for w in rows:
            counts = {}
            for f in w.get("functions") or []:
                counts[f["status"]] = counts.get(f["status"], 0) + 1
            detail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            log.info("  %-28s %-16s %-8s %s%s", w["task_id"], w.get("workflow") or "?",
                     str(w.get("verdict")).upper(), detail,
                     f"  ({w['error']})" if w.get("error") else "")

    def _run_report_hooks(self, results):
        hooks = list(report_hooks)
        try:
            from importlib.metadata import entry_points

            for ep in entry_points(group=REPORT_ENTRY_POINT):
                try:
                    hooks.append(ep.load())
                except Exception:
                    log.exception("faasr-easypy: cannot load report hook %s", ep.value)
        except Exception:
            pass
        directory = Path(self.runtime.directory)
        failures = []
        for hook in hooks:
            try:
                written = hook(results, directory, self.runtime)
                if written:
                    log.info("faasr-easypy: report %s (in the archive)", written)
            except Exception as exc:
                log.exception("faasr-easypy: report hook %r failed", hook)
                failures.append(f"the report hook {getattr(hook, '__qualname__', hook)} failed "
                                f"({type(exc).__name__}: {exc})")
        return failures


class FaasrTestbedCheck(BasePlugin):
    """Checks a FaaSr job's --testbed-file before pyATS's TestbedPlugin (order 60) loads it.

    pyATS answers a bad testbed file with tracebacks, needs minutes for a huge one and never
    finishes a YAML alias bomb; this gives the one-paragraph error of testbed.load_file instead."""

    def pre_job(self, job):
        from ..errors import UserError
        from .context import is_faasr_jobfile
        from .pyats_testbed import load_file

        args = self.runtime.args
        path = getattr(args, "testbed_file", None)
        if not isinstance(path, (str, os.PathLike)) or not path:
            return
        if not (is_faasr_jobfile(getattr(args, "jobfile", None)) or _faasr_args_given(args)):
            return
        try:
            load_file(path)
        except UserError as exc:
            _refuse(exc)


class FaasrArgumentCheck(BasePlugin):
    """Refuses an unknown ``--faasr-*`` argument before the job starts (order 58).

    pyATS leaves arguments it does not know in sys.argv for the jobfile and the tasks, so
    ``--faasr-timout 5`` ran with the default timeout and exited 0. Here it ends the job:
    one line with the closest known argument, exit code 2. (Unique abbreviations such as
    ``--faasr-time`` are argparse's and pyATS's, and mean the full name.)"""

    def pre_job(self, job):
        from .arguments import refuse_unknown_faasr

        refuse_unknown_faasr(faasr_options())


def faasr_options():
    """Every --faasr-* option string the plugin defines."""
    import argparse

    parser = FaasrPlugin.configure_parser(argparse.ArgumentParser(add_help=False))
    return [o for action in parser._actions for o in action.option_strings]


def _refuse(exc):
    from .arguments import refuse

    refuse(exc)


def _testcases(task, project_root=None):
    """The sections of a task as pyATS's reporter recorded them (runtime.details() objects),
    depth first: see testcase_record."""
    out = []

    def walk(section, prefix="", parent=None, depth=0):
        for child in getattr(section, "sections", None) or []:
            name = getattr(child, "id", None) or getattr(child, "name", None) or "?"
            out.append(testcase_record(child, f"{prefix}{name}", parent, depth, project_root))
            walk(child, f"{prefix}{name}.", f"{prefix}{name}", depth + 1)

    try:
        walk(task)
    except Exception as exc:
        log.debug("could not walk sections of %s: %s", getattr(task, "id", "?"), exc)
    return out


def _mask_run_folder(runtime, ctx):
    """The run folder as it is now, masked (pyATS's copy of the testbed file, what the jobfile
    wrote): with --no-archive pyATS never calls archive(), which masks it again before the zip."""
    from .redaction import redact_folder

    try:
        redact_folder(getattr(runtime, "directory", None), ctx.redactor)
    except Exception:
        log.exception("faasr-easypy: masking the credentials in the run folder failed")


def testcase_record(section, name, parent=None, depth=0, project_root=None):
    """One section of faasr_results.json's "testcases": the result by its pyATS name (a Failed
    result object is falsy, so never `str(result or "")`), pyATS's reason, the failure's own
    message and testscript line (from the traceback the reporter keeps), duration and log span."""
    from ..report.failures import failure_of

    result = getattr(section, "result", None)
    value = getattr(result, "value", None) or (str(result) if result is not None else None)
    reason = getattr(result, "reason", None)
    data = getattr(result, "data", None)
    traceback = data.get("traceback") if isinstance(data, dict) else None
    xref = getattr(section, "xref", None) or {}
    logs = getattr(section, "logs", None) or {}
    failure = failure_of(traceback, script=xref.get("file"))
    record = {
        "name": name, "id": getattr(section, "id", None), "parent": parent, "depth": depth,
        "type": getattr(section, "type", None),
        "result": value or "unknown",
        "reason": reason if isinstance(reason, str) and reason else None,
        "message": failure.message, "location": failure.location(project_root), "code": failure.code,
        "traceback": traceback if isinstance(traceback, str) and traceback else None,
        "started": _epoch(getattr(section, "starttime", None)),
        "duration": _seconds(getattr(section, "runtime", None)),
        "script_line": xref.get("line") if isinstance(xref.get("line"), int) else None,
        "xref_file": xref.get("file"),  # for report.links, dropped once links are found
        "log": {k: logs[k] for k in ("file", "begin", "size") if k in logs} or None,
    }
    if not record["message"] and record["result"] not in ("passed", "unknown"):
        # self.failed("why") / self.skipped("why") / a skip decorator: the reason is the message
        details = [d for d in (getattr(section, "details", None) or []) if isinstance(d, str)]
        record["message"] = record["reason"] or (details[0] if details else None)
    return record


def _code_hash(workflow_file, workflow_name, functions=None):
    """sha256 of the workflow JSON and every file of its functions folder: runs with the same
    hash ran the same code, so a function whose status differs between them is flaky."""
    import hashlib

    from ..workflow import default_functions_dir

    if not workflow_file or not Path(workflow_file).is_file():
        return None
    digest = hashlib.sha256(Path(workflow_file).read_bytes())
    folder = Path(functions) if functions else default_functions_dir(workflow_file, workflow_name or "")
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


PREVIEW_BYTES = 2048         # objects up to this size get a preview in the report ...
PREVIEWS_PER_TASK = 20       # ... at most this many per workflow task
PREVIEWS_PER_JOB = 400


def _fill_previews(workflows, ctx):
    """The text of small output objects on the job's embedded S3 (where the job holds the keys),
    for the report's previews. Binary content gets no preview."""
    service = getattr(ctx, "s3", None)  # environment.S3Service of the job's embedded server, or None
    if service is None or ctx.s3_death():
        return
    client = None
    budget = PREVIEWS_PER_JOB
    for w in workflows:
        if w.get("endpoint") and ctx.s3 and w.get("endpoint") != getattr(ctx.s3, "endpoint", None):
            continue  # an external S3: the job has no client for it
        small = [o for o in w.get("s3_objects") or [] if isinstance(o.get("size"), int) and o["size"] <= PREVIEW_BYTES]
        for obj in small[:min(PREVIEWS_PER_TASK, budget)]:
            budget -= 1
            try:
                if client is None:
                    from ..s3.client import make_client

                    client = make_client(service.store("previews", obj.get("bucket") or "faasr"))
                data = client.get_object(Bucket=obj.get("bucket") or w.get("bucket"), Key=obj["key"])["Body"].read()
            except Exception as exc:
                log.debug("no preview of %s: %s", obj.get("key"), exc)
                continue
            if b"\0" in data:
                continue
            try:
                obj["preview"] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue


def _epoch(value):
    """pyATS's '2026-12-03 13:08:54.810610+00:00' (or a datetime) -> epoch seconds."""
    import datetime

    if value is None:
        return None
    try:
        moment = value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(str(value))
        return moment.timestamp()
    except (TypeError, ValueError):
        return None


def _seconds(value):
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _relative(path, root):
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except (ValueError, TypeError):
        return str(path)


_announced = []


def _announce_archive(runtime, link=False):
    """Say where the archive is, now and once more as the very last line of the job; with
    `link`, also make `pyats logs view` (--latest) find it (see _link_for_log_viewer)."""
    try:
        archive = runtime.archive
    except Exception:
        return
    if not archive or getattr(runtime.args, "no_archive", False):
        return
    log.info("faasr-easypy: archive %s", archive)
    if _announced:
        return
    _announced.append(archive)

    def last_words():
        from .archive_writing import failure

        if failure():
            print(f"faasr-easypy: no archive was written (expected {archive}): {failure()}", flush=True)
        elif os.path.exists(archive):
            print(f"faasr-easypy: archive {archive}", flush=True)
            report = _report_beside(archive)
            if link:
                _link_for_log_viewer(archive)
            if report:
                print(f"faasr-easypy: report  {report}", flush=True)
        else:
            print(f"faasr-easypy: no archive was written (expected {archive})", flush=True)

    atexit.register(last_words)


def _viewer_archives():
    """Where `pyats logs view` looks for archives (it globs **/*.zip there)."""
    try:
        from pyats.log.commands.settings import USER_ARCHIVES_DIRECTORY

        return Path(USER_ARCHIVES_DIRECTORY) / "archive"
    except Exception:
        return Path.home() / ".pyats" / "archive"


def _link_for_log_viewer(archive):
    """A symlink to the archive in pyATS's own archive folder: the plugin keeps archives in the
    project's archives/, where `pyats logs view --latest` would never look. Our links whose
    archive was deleted since are removed (the viewer fails on a dangling one)."""
    folder = _viewer_archives() / "faasr-easypy"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.zip"):
            if old.is_symlink() and not old.exists():
                old.unlink()
        target = folder / Path(archive).name
        if not target.exists():
            target.symlink_to(Path(archive).resolve())
    except OSError as exc:
        log.debug("could not link %s for pyats logs view: %s", archive, exc)


def _report_beside(archive):
    """Copy the archive's HTML report next to it, so it opens without unzipping."""
    import zipfile

    from ..report.archive import REPORT_FILE, default_output

    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(REPORT_FILE)
    except (KeyError, OSError, zipfile.BadZipFile):
        return None
    out = default_output(archive)
    try:
        Path(out).write_bytes(data)
    except OSError as exc:  # the archive fit, its copy did not: no cut report beside it
        Path(out).unlink(missing_ok=True)
        print(f"faasr-easypy: the report could not be copied beside the archive ({exc}); it is in the "
              f"archive as {REPORT_FILE}", flush=True)
        return None
    return out


def _faasr_args_given(args):
    return any(getattr(args, name, None) not in (None, False, [])
               for name in ("faasr_functions", "faasr_timeout", "faasr_check_interval", "faasr_parallel",
                            "faasr_stream_logs", "faasr_keep_s3", "faasr_arg", "faasr_task_grace"))


def _verdict(reported, state, job_interrupted=False):
    """A workflow task's verdict from what pyATS's reporter recorded (None when it recorded
    nothing: the pool's Task.result then only reads pyATS's pre-start default "passed")
    and the state the task published."""
    if state == "errored" and reported in (None, "passed"):
        return "errored"            # killed (max_runtime) or failed to start its workflow
    stopped = state in ("not started", "interrupted") or (job_interrupted and reported is None)
    if stopped and reported in (None, "errored"):
        return "aborted"            # stopped by Ctrl-C / SIGTERM before it reported
    return reported or "errored"    # ended without a result: a crash, never a pass


# -- registration ------------------------------------------------------------------------

def _is_faasr_run(argv=None):
    """This process is `pyats run job` / `easypy` with a jobfile that uses faasr_easypy
    (not, say, pytest importing this module with a test file that mentions it)."""
    from .context import find_jobfile, is_faasr_jobfile

    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name if argv else ""
    easypy = program.startswith("easypy") or (program.startswith("pyats") or program == "__main__.py") \
        and argv[1:3] == ["run", "job"]
    return easypy and is_faasr_jobfile(find_jobfile(argv))


def default_config_plugins(argv=None, environ=None):
    """The plugin settings of easypy_config.yaml when this run's jobfile uses faasr_easypy."""
    from .context import find_jobfile, is_faasr_jobfile

    environ = os.environ if environ is None else environ
    if environ.get(ENV_DEFAULT_CONFIG, "1").strip().lower() in ("0", "false", "no", "off"):
        return {}
    if not is_faasr_jobfile(find_jobfile(argv)):
        return {}
    try:
        import yaml

        return dict((yaml.safe_load(CONFIG_FILE.read_text()) or {}).get("plugins") or {})
    except Exception:
        return {}


def _registration():
    plugins = default_config_plugins()
    plugins["FaasrArgumentCheck"] = {
        "class": FaasrArgumentCheck,
        "enabled": True,
        "kwargs": {},
        "module": "faasr_easypy.easypy.plugin",
        "name": "FaasrArgumentCheck",
        "order": 58,  # first of ours: a mistyped argument is refused before anything starts
    }
    plugins["FaasrTestbedCheck"] = {
        "class": FaasrTestbedCheck,
        "enabled": True,
        "kwargs": {},
        "module": "faasr_easypy.easypy.plugin",
        "name": "FaasrTestbedCheck",
        "order": 59,  # after the job log exists (40), before TestbedPlugin loads the file (60)
    }
    if _is_faasr_run():
        # A FaaSr job starts: before easypy forks its reporter process, which inherits them.
        from . import pyats_patches

        pyats_patches.install()
    plugins["FaasrPlugin"] = {
        "class": FaasrPlugin,
        "enabled": True,
        "kwargs": {},
        "module": "faasr_easypy.easypy.plugin",
        "name": "FaasrPlugin",
        "order": 200,
    }
    return {"plugins": plugins}


plugin = _registration()
