"""R actions on the local backend: real R (Debian's R with httr and jsonlite),
real processes, the embedded S3 server, the monitor's verdicts."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.backends.local.r_packages import PACKAGE_LIST, debian_package
from faasr_easypy.backends.local.r_server import rscript
from faasr_easypy.backends.local.server_process import ForkServerProcess
from faasr_easypy.environment import start_s3
from faasr_easypy.invocation import Invocation
from faasr_easypy.layout import LOG_LINE
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.s3.client import make_client
from faasr_easypy.workflow import parse_workflow

from .processes import alive, children, cmdline, descendants
from .workflow_factory import action, workflow

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(rscript() is None, reason="R is not installed: run scripts/install-r")]

R_ACTIONS = """
everything <- function(secret_name) {
    writeLines(c("x,y", "1,2"), "in.csv")
    faasr_put_file(local_file = "in.csv", remote_file = "in.csv", remote_folder = "rdata")
    faasr_put_file("in.csv", "gone.csv", remote_folder = "rdata/")
    dir.create("sub")
    faasr_get_file(local_file = "copy.csv", remote_file = "in.csv", local_folder = "sub", remote_folder = "rdata")
    stopifnot(identical(readLines("sub/copy.csv"), c("x,y", "1,2")))
    faasr_delete_file(remote_file = "gone.csv", remote_folder = "rdata")
    keys <- faasr_get_folder_list(prefix = "rdata/")
    faasr_log(paste("keys:", paste(unlist(keys), collapse = " ")))
    rank <- faasr_rank()
    faasr_log(paste0("rank ", rank$rank, " of ", rank$max_rank))
    faasr_log(paste("invocation", faasr_invocation_id()))
    creds <- faasr_get_s3_creds()
    faasr_log(paste("bucket", creds$bucket, "endpoint", creds$endpoint))
    faasr_log(paste("secret", faasr_secret(secret_name), "env", Sys.getenv(secret_name)))
    faasr_log(paste("wd is mine:", basename(getwd()) != "functions"))
    invisible(NULL)
}

ranked <- function() {
    rank <- faasr_rank()
    writeLines(as.character(rank$rank), "r.txt")
    faasr_put_file("r.txt", paste0("part-", rank$rank, ".txt"), remote_folder = "ranks")
    faasr_log(paste0("rank ", rank$rank, " of ", rank$max_rank))
}

gather <- function() {
    faasr_log(paste("parts:", paste(sort(unlist(faasr_get_folder_list(prefix = "ranks/"))), collapse = " ")))
}

above <- function(value, threshold = 10) value > threshold

say <- function(word = "hi") faasr_log(word)

explode <- function() deeper(2)
deeper <- function(n) stop("the sky fell in ", n, " places")

sleeper <- function() {
    faasr_log("sleeping")
    Sys.sleep(120)
}

chatty <- function() {
    line <- strrep("x", 1000)
    for (i in 1:5000) faasr_log(paste(i, line))
    TRUE
}

old_api <- function() faasr_arrow_s3_bucket()

old_client_call <- function() faasr_invoke_workflow()

renamed_prefix <- function() faasr_get_folder_list(faasr_prefix = "x")

returns_text <- function() "yes"

quits <- function(status) {
    faasr_log("quitting")
    quit(status = status)
    faasr_log("not reached")
}
"""

PYTHON_ACTIONS = """
from FaaSr_py.client.py_client_stubs import faasr_log

def py_start():
    faasr_log("python start")

def py_side():
    faasr_log("python side")
"""


@pytest.fixture(scope="module")
def s3():
    service = start_s3()
    yield service
    service.close()


@pytest.fixture(scope="module")
def fork_server():
    """One fork server (and so one warm R server) for the module's runs."""
    server = ForkServerProcess().start()
    yield server
    server.stop()


@pytest.fixture()
def functions(tmp_path):
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "actions.R").write_text(textwrap.dedent(R_ACTIONS))
    (folder / "steps.py").write_text(textwrap.dedent(PYTHON_ACTIONS))
    return folder


def r_action(function, **kwargs):
    return action(function=function, type="R", **kwargs)


class Run:
    """One run through the monitor: statuses, logs and S3 contents."""

    def __init__(self, s3, actions, functions, fork_server=None, overrides=None, workflow_extra=None,
                 **backend_args):
        data = workflow(actions)
        data.update(workflow_extra or {})
        self.wf = parse_workflow(data)
        self.store = s3.stores_for(self.wf)[self.wf.default_data_store]
        self.client = make_client(self.store)
        self.invocation = Invocation(self.wf, argument_overrides=overrides)
        self.backend = LocalBackend(functions, s3.stores_for(self.wf), fork_server=fork_server, **backend_args)

    def go(self, timeout=120):
        runner = WorkflowRunner(self.wf, self.backend, self.store, timeout=timeout, check_interval=0.2,
                                invocation=self.invocation)
        try:
            with runner:
                assert runner.wait(timeout + 10), "the monitor did not finish"
                assert self.backend.wait(self.invocation, 30)
            self.statuses = {k: v.status.value for k, v in runner.get_function_statuses().items()}
            self.results = self.backend.results(self.invocation)
        finally:
            self.backend.close()
        return self

    def keys(self, prefix=""):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def rel_keys(self):
        n = len(self.invocation.layout.prefix)
        return [k[n:] for k in self.keys(self.invocation.layout.prefix)]

    def read(self, key):
        return self.client.get_object(Bucket=self.store.bucket, Key=key)["Body"].read().decode()

    def log(self, name, rank=None):
        return self.read(self.invocation.layout.log_key(name, rank))


def r_workers_of(server_pid):
    """R worker processes under a fork server: children of its R server."""
    r_servers = [p for p in children(server_pid) if "server.R" in cmdline(p)]
    return [w for s in r_servers for w in children(s)], r_servers


# -- the client API, ranks, branches -------------------------------------------------

def test_every_r_client_call(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("everything", args={"secret_name": "MY_TOKEN"})}, functions,
              fork_server, secrets={"MY_TOKEN": "t0ken"}, workflow_extra={"Secrets": ["MY_TOKEN"]}).go()
    assert run.statuses == {"start": "COMPLETED"}, run.log("start")
    log = run.log("start")
    assert "keys: rdata/in.csv\n" in log  # gone.csv was deleted
    assert "rank 1 of 1\n" in log
    assert f"invocation {run.invocation.invocation_id}\n" in log
    assert f"bucket {run.store.bucket} endpoint {run.store.endpoint}\n" in log
    assert "secret t0ken env t0ken\n" in log and "wd is mine: TRUE\n" in log  # as a Python action sees it
    assert run.read("rdata/in.csv") == "x,y\n1,2\n"
    assert run.rel_keys() == ["function_completions/start.done", "start.txt"]
    for line in log.splitlines():
        assert not line.startswith("[") or LOG_LINE.match(line), line


def test_r_ranks_fan_out_and_fan_in_once(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("say", nxt=["work(3)"]), "work": r_action("ranked", nxt=["gather"]),
                   "gather": r_action("gather")}, functions, fork_server).go()
    assert run.statuses == {"start": "COMPLETED", **{f"work({r})": "COMPLETED" for r in (1, 2, 3)},
                            "gather": "COMPLETED"}
    for r in (1, 2, 3):
        assert f"rank {r} of 3\n" in run.log("work", r)
        assert run.log("work", r).count("[WARN] [local_backend.py] faasr_rank() returns list(max_rank, rank) "
                                        "here, but faasr-py 2.1.0's R client") == 1
    assert "parts: ranks/part-1.txt ranks/part-2.txt ranks/part-3.txt\n" in run.log("gather")
    assert "Local: Successfully invoked: work(3)" in run.log("start")
    assert run.rel_keys().count("gather.txt") == 1


@pytest.mark.parametrize("value, taken, not_taken", [(50, "big", "small"), (1, "small", "big")])
def test_r_conditional_takes_the_branch_its_return_value_names(s3, functions, fork_server, value, taken,
                                                                not_taken):
    run = Run(s3, {"start": r_action("above", args={"value": 50},
                                     nxt=[{"True": ["big"], "False": ["small"]}]),
                   "big": r_action("say", args={"word": "big"}), "small": r_action("say", args={"word": "small"})},
              functions, fork_server, overrides={"start": {"value": value}}).go()
    assert run.statuses == {"start": "COMPLETED", taken: "COMPLETED", not_taken: "NOT_INVOKED"}
    assert f"Local: Successfully invoked: {taken}" in run.log("start")
    assert f"{not_taken}.txt" not in run.rel_keys()


def test_a_conditional_r_function_must_return_true_or_false(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("returns_text", nxt=[{"True": ["after"]}]), "after": r_action("say")},
              functions, fork_server).go()
    assert run.statuses["start"] == "FAILED"
    assert 'The function returned "yes", but InvokeNext of start has a' in run.log("start")


def test_r_and_python_actions_run_side_by_side(s3, functions, fork_server):
    run = Run(s3, {"start": action(function="py_start", nxt=["r-side", "py-side"]),
                   "r-side": r_action("say", nxt=["join"]),
                   "py-side": action(function="py_side", nxt=["join"]),
                   "join": r_action("say", args={"word": "joined"})}, functions, fork_server).go()
    assert set(run.statuses.values()) == {"COMPLETED"}, run.statuses
    assert "python start" in run.log("start") and "python side" in run.log("py-side")
    assert "joined\n" in run.log("join")


# -- failures --------------------------------------------------------------------------

def test_stop_fails_the_action_with_message_and_stack_and_skips_downstream(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("explode", nxt=["after"]), "after": r_action("say")},
              functions, fork_server).go()
    assert run.statuses == {"start": "FAILED", "after": "SKIPPED"}
    log = run.log("start")
    assert "[ERROR] [local_backend.py] The R function explode stopped with an error: " \
           "Error in deeper(2): the sky fell in 2 places" in log
    source = (functions / "actions.R").read_text().splitlines()
    line_of = {name: 1 + next(i for i, text in enumerate(source) if text.startswith(name + " <-"))
               for name in ("explode", "deeper")}
    stack = log.split("Call stack (innermost last):\n", 1)[1].splitlines()
    assert stack[:3] == ["  explode()", f"  deeper(2)  at actions.R:{line_of['explode']}",
                         f'  stop("the sky fell in ", n, " places")  at actions.R:{line_of["deeper"]}'], stack
    assert "function_completions/start.done" in run.rel_keys()  # as faasr-py: .done also on failure
    assert "after.txt" not in run.rel_keys()


def test_a_syntax_error_in_one_r_file_fails_the_action_naming_the_file(s3, functions, fork_server):
    (functions / "zz_broken.R").write_text("oops <- function( {\n")
    run = Run(s3, {"start": r_action("say", nxt=["after"]), "after": r_action("say")}, functions, fork_server).go()
    assert run.statuses == {"start": "FAILED", "after": "SKIPPED"}
    log = run.log("start")
    assert "Sourcing zz_broken.R failed, so R function say was not run" in log
    assert "unexpected" in log  # R's parse message


def test_a_missing_r_function_is_an_error_naming_the_files_sourced(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("nowhere")}, functions, fork_server).go()
    assert run.statuses == {"start": "FAILED"}
    assert f"no R function named nowhere in {functions.resolve()} (sourced: actions.R)" in run.log("start")


def _uninstalled_debian_r_package():
    """An R package Debian has (r-cran-<name>) that is not installed here."""
    libs = [Path(p) for p in ("/usr/lib/R/site-library", "/usr/local/lib/R/site-library", "/usr/lib/R/library")]
    installed = {entry.name.lower() for lib in libs if lib.is_dir() for entry in lib.iterdir()}
    for line in PACKAGE_LIST.read_text().splitlines():
        name = line.strip()[len("r-cran-"):]
        if line.startswith("r-cran-") and name.isalnum() and name not in installed and debian_package(name):
            return name
    pytest.skip("every Debian R package is installed here")


def test_a_missing_r_package_names_the_debian_package_or_says_there_is_none(s3, functions, fork_server):
    package = _uninstalled_debian_r_package()
    (functions / "needs.R").write_text(f"needs_pkg <- function() library({package})\n")
    run = Run(s3, {"start": r_action("needs_pkg")}, functions, fork_server).go()
    log = run.log("start")
    assert (f"R package {package} is not installed (add it to FunctionCRANPackage of needs_pkg in the "
            f"workflow); install it with `sudo apt-get install r-cran-{package}`") in log
    assert run.statuses == {"start": "FAILED"}

    (functions / "uses_arrow.R").write_text("library(arrow)\nread_it <- function() NULL\n")  # at top level
    run = Run(s3, {"start": r_action("say")}, functions, fork_server).go()
    assert run.statuses == {"start": "FAILED"}
    assert ("R package arrow is not installed (add it to FunctionCRANPackage of say in the workflow, loaded by "
            "uses_arrow.R); no Debian package provides it (there is no r-cran-arrow)") in run.log("start")
    (functions / "uses_arrow.R").unlink()

    run = Run(s3, {"start": r_action("say")}, functions, fork_server,
              workflow_extra={"FunctionCRANPackage": {"say": "arrow"}}).go()  # one name may be a string
    assert run.statuses == {"start": "FAILED"}
    assert ("R package arrow is not installed (it is in FunctionCRANPackage of say); no Debian package "
            "provides it (there is no r-cran-arrow)") in run.log("start")


def test_old_faasr_1x_calls_say_what_to_use_instead(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("old_api")}, functions, fork_server).go()
    log = run.log("start")
    assert "faasr_arrow_s3_bucket() cannot run on this machine: it needs the arrow package" in log
    assert "faasr_get_file() and faasr_put_file()" in log and run.statuses == {"start": "FAILED"}
    run = Run(s3, {"start": r_action("old_client_call")}, functions, fork_server).go()
    assert ("faasr_invoke_workflow() is not available in FaaSr 2.x actions: it is a FaaSr 1.x client call "
            "made from an R session, not from inside an action") in run.log("start")
    run = Run(s3, {"start": r_action("renamed_prefix")}, functions, fork_server).go()
    assert "renamed faasr_get_folder_list's faasr_prefix to prefix" in run.log("start")


@pytest.mark.parametrize("status, outcome", [(0, "COMPLETED"), (3, "FAILED")])
def test_quit_in_an_r_function_ends_it_as_rscript_would_end(s3, functions, fork_server, status, outcome):
    run = Run(s3, {"start": r_action("quits", args={"status": status}, nxt=["after"]), "after": r_action("say")},
              functions, fork_server).go()
    assert run.statuses == {"start": outcome, "after": "COMPLETED" if status == 0 else "SKIPPED"}
    log = run.log("start")
    assert "quitting\n" in log and "not reached" not in log
    if status:
        assert "[ERROR] [local_backend.py] The R function quits called quit(status = 3): a non-zero" in log


def test_an_r_function_writing_5_mb_of_log(s3, functions, fork_server):
    run = Run(s3, {"start": r_action("chatty")}, functions, fork_server).go()
    assert run.statuses == {"start": "COMPLETED"}
    lines = run.log("start").splitlines()
    user = [line for line in lines if not line.startswith("[")]
    assert len(user) == 5000 and user[0] == "1 " + "x" * 1000 and user[-1].startswith("5000 ")
    assert "log cut" not in run.log("start")


# -- death and clean-up ----------------------------------------------------------------

def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.mark.parametrize("victim", ["R worker", "action process"])
def test_an_r_action_killed_mid_run_fails_and_leaves_no_r_worker(s3, functions, victim):
    server = ForkServerProcess().start()
    try:
        run = Run(s3, {"start": r_action("sleeper", nxt=["after"]), "after": r_action("say")}, functions, server)
        runner = WorkflowRunner(run.wf, run.backend, run.store, timeout=120, check_interval=0.2,
                                invocation=run.invocation)
        with runner:
            _wait_for(lambda: _log_has(run, "sleeping"))
            workers, r_servers = r_workers_of(server.pid)
            assert len(workers) == 1 and len(r_servers) == 1
            actions = [p for p in children(server.pid) if p not in r_servers]
            os.kill(workers[0] if victim == "R worker" else actions[0], signal.SIGKILL)
            assert runner.wait(60)
            statuses = {k: v.status.value for k, v in runner.get_function_statuses().items()}
        assert statuses == {"start": "FAILED", "after": "SKIPPED"}
        log = run.log("start")
        if victim == "R worker":
            assert "the R process (pid" in log and "ended without a result" in log
        else:
            assert "its process was killed by SIGKILL" in log
        _wait_for(lambda: not alive(workers[0]), 10)  # the R server kills an orphaned worker
        assert r_workers_of(server.pid)[0] == []
        run.backend.close()
    finally:
        server.stop()
    assert not any(alive(p) for p in workers + r_servers)


def test_an_r_action_past_its_time_limit_is_killed_with_its_r_worker(s3, functions):
    server = ForkServerProcess().start()
    try:
        run = Run(s3, {"start": r_action("sleeper", nxt=["after"]), "after": r_action("say")}, functions, server,
                  action_timeout=3)
        run.backend.trigger(run.invocation)
        _wait_for(lambda: _log_has(run, "sleeping"))
        workers, _ = r_workers_of(server.pid)
        assert len(workers) == 1
        assert run.backend.wait(run.invocation, 60)
        _wait_for(lambda: not alive(workers[0]), 10)
        assert "it ran past its time limit of 3 s and was killed" in run.log("start")
        assert "after.txt" not in run.rel_keys()
        run.backend.close()
    finally:
        server.stop()


def test_r_server_and_workers_listen_on_nothing(s3, functions):
    from .test_security import listening_addresses

    server = ForkServerProcess().start()
    try:
        run = Run(s3, {"start": r_action("sleeper")}, functions, server)
        run.backend.trigger(run.invocation)
        _wait_for(lambda: _log_has(run, "sleeping"))
        workers, r_servers = r_workers_of(server.pid)
        assert workers and r_servers
        assert listening_addresses([server.pid] + descendants(server.pid)) == []
        run.backend.close()
    finally:
        server.stop()


def _log_has(run, text):
    try:
        return text in run.log("start")
    except run.client.exceptions.NoSuchKey:
        return False


@pytest.mark.slow  # end to end: `faasr-easypy run` with its own S3 server
def test_ctrl_c_during_an_r_action_leaves_no_r_process(functions, tmp_path):
    marker = f"faasr-r-test-{uuid.uuid4()}"  # in the one variable the fork server keeps for tests
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(workflow({"start": r_action("sleeper")})))
    env = dict(os.environ, FAASR_EASYPY_TEST_TAG=marker)
    proc = subprocess.Popen([sys.executable, "-m", "faasr_easypy.cli", "run", str(wf), "--functions",
                             str(functions), "--stream-logs"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _marked_r_processes(marker), 120)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal reaches the foreground group
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, out
    _wait_for(lambda: not _marked_r_processes(marker), 10)
    assert not [p for p in descendants(1) if _marked(p, marker)]


def _marked(pid, marker):
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return marker.encode() in fh.read()
    except OSError:
        return False


def _marked_r_processes(marker):
    return [p for p in os.listdir("/proc") if p.isdigit() and "exec/R" in cmdline(int(p))
            and alive(int(p)) and _marked(int(p), marker)]


# -- without R ---------------------------------------------------------------------------

@pytest.mark.parametrize("setting, expected", [
    ({"FAASR_EASYPY_RSCRIPT": "/nonexistent/Rscript"},
     "R is not installed on this machine (no Rscript on PATH)"),
    ({"R_LIBS_SITE": "/nonexistent-r-library"},
     "R is installed, but the R package(s) httr, jsonlite that the FaaSr R client needs are not"),
])
def test_without_r_r_actions_fail_clearly_and_python_actions_run(s3, functions, monkeypatch, setting, expected):
    for name, value in setting.items():
        monkeypatch.setenv(name, value)  # inherited by the backend's own fork server and R server
    run = Run(s3, {"start": action(function="py_start", nxt=["r-step", "py-step"]),
                   "r-step": r_action("say"), "py-step": action(function="py_side")}, functions).go()
    assert run.statuses == {"start": "COMPLETED", "r-step": "FAILED", "py-step": "COMPLETED"}
    log = run.log("r-step")
    assert expected in log
    assert "sudo apt-get install r-base-core r-cran-httr r-cran-jsonlite" in log


def test_validate_warns_about_what_r_actions_miss_here(tmp_path, monkeypatch):
    data = workflow({"start": r_action("say", nxt=["py"]), "py": action(function="py_side")})
    data["FunctionCRANPackage"] = {"say": ["jsonlite", "arrow"]}
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(data))
    cli = [sys.executable, "-m", "faasr_easypy.cli", "validate", str(path)]
    res = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and ": OK - workflow TestFlow" in res.stdout, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"{path}: warning - action start needs R package arrow (FunctionCRANPackage of say), which is not "
        "installed here; no Debian package provides it (there is no r-cran-arrow) and CRAN cannot be reached "
        "here, so it cannot be installed on this machine"]
    res = subprocess.run(cli, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, FAASR_EASYPY_RSCRIPT="/nonexistent/Rscript"))
    assert res.returncode == 0
    assert "actions start are of Type R, but R is not installed here: install with " \
           "`sudo apt-get install r-base-core r-cran-httr r-cran-jsonlite`" in res.stderr
