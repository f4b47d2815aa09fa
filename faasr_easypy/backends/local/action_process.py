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

A function may do anything to this process (patch json or os, close fds,
delete its cwd, set signal handlers): the report to the fork server is made
with what was captured before it ran (`_encode`, `_write`, the pipe's inode),
and whatever goes wrong after the function is reported, never hidden, so the
server can still write a final status (forkserver.finish_reported).
"""

import json
import os
import resource
import shutil
import stat
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ...layout import instance_label
from . import function_api
from .action_env import enter_action_environment
from .forkserver import load_libc, set_child_subreaper
from .function_api import FunctionContext, FunctionExit, LogBuffer, redirect_output
from .loader import FunctionNotFound, find_function
from .r_action import call_r_function

RUNTIME_FILE = "local_backend.py"

# Captured at import, in the fork server, before any function runs: a function that
# patches json.dumps, os.write or os.open changes its own view only.
_encode = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False,
                           indent=None, separators=(",", ":")).encode
_write, _open, _close, _fstat, _exit = os.write, os.open, os.close, os.fstat, os._exit
load_libc()  # here, in the fork server: actions must not each dlopen libc for prctl()


def run_action(job, clients, result_fd, report_path=None):
    """Run `job` in this (freshly forked) process, report on `result_fd`, exit."""
    started = time.monotonic()
    code = 0
    pipe = _fstat(result_fd)
    progress = {"triggered": [], "final_written": False}
    try:
        set_child_subreaper()  # what the function starts stays below this process
        limit_memory(job.get("memory_limit_mib"))
        report = _run(job, clients, started, progress)
    except BaseException as exc:  # our own failure (e.g. S3 down): report it, don't hang
        report = {"ok": False, "triggered": progress["triggered"], "error": describe(exc)}
        code = 3
    report["job_id"] = job["job_id"]
    report["seconds"] = round(time.monotonic() - started, 4)
    report["final_written"] = progress["final_written"]
    try:
        line = (_encode(report) + "\n").encode()
    except BaseException:  # a value our encoder cannot take: say so, plainly
        line = (_encode({"job_id": job["job_id"], "ok": False, "triggered": progress["triggered"],
                         "final_written": progress["final_written"],
                         "error": "the action's report could not be encoded"}) + "\n").encode()
    try:
        _send_report(line, result_fd, pipe, report_path)
    finally:
        _exit(code)


def _send_report(line, fd, pipe, report_path):
    """Write the report on the result pipe if `fd` is still that pipe; if the function
    closed it (os.closerange), into the file the fork server reads when we are gone."""
    try:
        now = _fstat(fd)
        same = stat.S_ISFIFO(now.st_mode) and (now.st_ino, now.st_dev) == (pipe.st_ino, pipe.st_dev)
    except OSError:
        same = False
    if same:
        _write(fd, line)
        return
    if report_path:
        out = _open(report_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write(out, line)
        finally:
            _close(out)


def describe(exc):
    """`Type: message` that cannot fail: a user's exception may raise in __str__."""
    try:
        name = type(exc).__name__
    except Exception:
        name = "exception"
    try:
        return f"{name}: {exc}"
    except BaseException:
        return f"{name} (its message could not be printed: its __str__ raised)"


def limit_memory(mib):
    """Cap this process's address space at its size now plus `mib` MiB (RLIMIT_AS; its
    children inherit it). Python then raises MemoryError instead of the machine swapping."""
    if not mib:
        return
    limit = _address_space() + int(mib) * 2**20
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _address_space():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _private_tmpdir(workdir):
    """The action's own temp folder, beside its working directory (a function listing its
    cwd sees only its own files) in the backend's folder, and removed with the workdir."""
    tmp = workdir.with_name(workdir.name + ".tmp")
    tmp.mkdir(mode=0o700)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    return tmp


def _run(job, clients, started, progress):
    label = instance_label(job["action"], job.get("rank"))
    workdir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=job["workdir_root"]))
    os.chdir(workdir)
    redirect_output(workdir / "console.log")
    enter_action_environment(job)  # what FaaSr gives a function: no harness credentials
    tmp = _private_tmpdir(workdir)  # after it: TMPDIR is the action's own, not the harness's

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
    # From here on nothing of the function runs: a failure is the harness's and is reported.
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
    progress["triggered"] = triggered  # its invoker lines are in S3: the successors must run
    client = clients[job["log_store"]]
    client.put_object(Bucket=log_store["bucket"], Key=job["done_key"], Body=b"True")
    progress["final_written"] = True
    done_at = time.time()
    if not job.get("keep_workdir"):
        os.chdir(job["workdir_root"])
        shutil.rmtree(tmp, ignore_errors=True)
        if ok:
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
    except MemoryError as exc:
        limit = job.get("memory_limit_mib")
        if limit:
            log.add("ERROR", RUNTIME_FILE, f"Action {job['action']} exceeded its memory limit of {limit} MiB "
                    f"({describe(exc)}); raise ActionMemoryMiB in the testbed or --action-memory\n" + _traceback())
        else:
            log.add("ERROR", RUNTIME_FILE, f"The function raised {describe(exc)}\n" + _traceback())
        return False, None
    except FunctionExit as exc:
        if exc.error:
            log.add("ERROR", RUNTIME_FILE, f"faasr_exit: {exc.message or 'the function exited with an error'}")
            return False, None
        result = exc.message
    except SystemExit as exc:
        log.add("ERROR", RUNTIME_FILE, f"The function called sys.exit({exc.code!r}):\n" + _traceback())
        return False, None
    except BaseException as exc:
        log.add("ERROR", RUNTIME_FILE, f"The function raised {describe(exc)}\n" + _traceback())
        return False, None
    return True, result


def _traceback():
    """The current exception's traceback without our own calling frame."""
    etype, exc, tb = sys.exc_info()
    if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    try:
        return "".join(traceback.format_exception(etype, exc, tb)).rstrip()
    except BaseException:  # a patched traceback module, an exception that breaks formatting
        return f"(the traceback of {describe(exc)} could not be formatted)"
