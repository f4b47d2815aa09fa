"""The body of one forked action process: run a FaaSr function the way the
FaaSr runtime does, and write what the runtime writes to S3.

The function runs in this process (Type Python) or in a warm R worker that
this process serves (Type R, r_action.py); either way this process writes the
log, the invoker lines and `.done`.

Sequence: log appears (first INFO line) -> user function -> one invoker line
per successor it triggers -> final log flush -> `.done` (body `True`) ->
result to the fork server. A function that raised still gets `.done`, as with
faasr-py; its failure shows as ERROR lines. Invoker lines are flushed before
`.done` so a monitor never sees a finished invoker without them.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ...layout import instance_label
from . import function_api
from .action_env import enter_action_environment
from .function_api import FunctionContext, FunctionExit, LogBuffer, redirect_output
from .loader import FunctionNotFound, find_function
from .r_action import call_r_function

RUNTIME_FILE = "local_backend.py"


def run_action(job, clients, result_fd):
    """Run `job` in this (freshly forked) process, report on `result_fd`, exit."""
    started = time.monotonic()
    code = 0
    try:
        report = _run(job, clients, started)
    except BaseException as exc:  # our own failure (e.g. S3 down): report it, don't hang
        report = {"ok": False, "triggered": [], "error": f"{type(exc).__name__}: {exc}"}
        code = 3
    report["job_id"] = job["job_id"]
    report["seconds"] = round(time.monotonic() - started, 4)
    try:
        os.write(result_fd, (json.dumps(report) + "\n").encode())
    finally:
        os._exit(code)


def _run(job, clients, started):
    label = instance_label(job["action"], job.get("rank"))
    workdir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=job["workdir_root"]))
    os.chdir(workdir)
    redirect_output(workdir / "console.log")
    enter_action_environment(job)  # what FaaSr gives a function: no harness credentials

    log_store = job["stores"][job["log_store"]]
    log = LogBuffer(clients[job["log_store"]], log_store["bucket"], job["log_key"], started)
    rank = f", rank {job['rank']} of {job['max_rank']}" if job.get("rank") else ""
    log.add("INFO", RUNTIME_FILE, f"Running action {job['action']}{rank}: function "
            f"{job['function_name']} (InvocationID {job['payload']['InvocationID']})")
    log.flush()  # the log key appears as the action starts, as with FaaSr
    first_log_at = time.time()
    log.start_flusher()
    function_api.set_current(FunctionContext(job, clients, workdir, log))
    sys.path[:0] = job.get("python_path") or []  # the workflow's PyPIPackageDownloads

    ok, result = _call_function(job, log)
    triggered = []
    if ok:
        for edge in job["edges"]:
            cond = edge["condition"]
            if cond is not None and not (isinstance(result, bool) and result is cond):
                continue
            ranks = range(1, edge["ranks"] + 1) if edge["ranked"] else [None]
            for r in ranks:
                triggered.append([edge["target"], r])
                log.add("INFO", RUNTIME_FILE,
                        f"Local: Successfully invoked: {instance_label(edge['target'], r)}")
    log.add("INFO", RUNTIME_FILE, f"Action {label} finished in {time.monotonic() - started:.3f} s")
    log.close()
    client = clients[job["log_store"]]
    client.put_object(Bucket=log_store["bucket"], Key=job["done_key"], Body=b"True")
    done_at = time.time()
    if ok and not job.get("keep_workdir"):
        os.chdir(job["workdir_root"])
        shutil.rmtree(workdir, ignore_errors=True)
    # Wall-clock moments the benchmarks use to measure dispatch from outside.
    return {"ok": ok, "triggered": triggered, "error": None if ok else "function failed",
            "first_log_at": first_log_at, "done_at": done_at}


def _call_function(job, log):
    """Run the user function in the runtime its Type names; return (ok, return value).
    Log why when not ok."""
    if job["type"] == "Python":
        ok, result = _call_python(job, log)
        shown = repr(result)
    elif job["type"] == "R":
        ok, result, shown = call_r_function(job, function_api.current(), log)
    else:
        log.add("ERROR", RUNTIME_FILE,
                f"Action {job['action']} is of Type {job['type']}, which the local backend does "
                "not support (it runs Python and R functions); run this action on GitHub Actions "
                "or another FaaSr platform through a testbed")
        return False, None
    if not ok:
        return False, None
    conditional = any(e["condition"] is not None for e in job["edges"])
    if conditional and not isinstance(result, bool):
        # faasr-py crashes silently here, after .done; we say why instead.
        log.add("ERROR", RUNTIME_FILE,
                f"The function returned {shown}, but InvokeNext of {job['action']} has a "
                "{\"True\": ..., \"False\": ...} branch: return True or False")
        return False, None
    return True, result


def _call_python(job, log):
    try:
        func, _filename, warnings = find_function(job["function_name"], job["functions_dir"],
                                                  job.get("local_file"))
    except FunctionNotFound as exc:
        log.add("ERROR", RUNTIME_FILE, f"Cannot run action {job['action']}: {exc}")
        return False, None
    except BaseException:
        log.add("ERROR", RUNTIME_FILE, "Importing the function failed:\n" + _traceback())
        return False, None
    for warning in warnings:
        log.add("WARN", RUNTIME_FILE, warning)
    try:
        result = func(**job["arguments"])
    except FunctionExit as exc:
        if exc.error:
            log.add("ERROR", RUNTIME_FILE, f"faasr_exit: {exc.message or 'the function exited with an error'}")
            return False, None
        result = exc.message
    except SystemExit as exc:
        log.add("ERROR", RUNTIME_FILE, f"The function called sys.exit({exc.code!r}):\n" + _traceback())
        return False, None
    except BaseException as exc:
        log.add("ERROR", RUNTIME_FILE, f"The function raised {type(exc).__name__}: {exc}\n" + _traceback())
        return False, None
    return True, result


def _traceback():
    """The current exception's traceback without our own calling frame."""
    etype, exc, tb = sys.exc_info()
    if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(etype, exc, tb)).rstrip()
