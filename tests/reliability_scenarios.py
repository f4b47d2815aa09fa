"""Fault, signal and load scenarios as real `pyats run job` runs.

Shared by tests/test_reliability.py (which asserts on each Outcome) and
benchmarks/reliability.py (which prints them as a table and repeats them in a
soak). A scenario builds a small project (workflows, functions, a testscript,
a jobfile reading plan.json), starts `pyats run job` on it with planted
secrets in its environment and its own TMPDIR, does something bad to it while
it runs, and then collects what held:

* verdicts: every planned workflow task has a verdict in faasr_results.json;
* archive and report: the zip exists, holds faasr_report.html, and the report
  was copied next to it;
* nothing left: no tagged weed / fork server / action / pyATS process, and the
  job's TMPDIR is empty (the S3 data folder, action folders, weed's own logs);
* no secret: the planted values appear in none of the job's output, archive
  files, report or mail.
"""

import json
import os
import random
import secrets
import signal
import subprocess
import textwrap
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .easypy_helpers import (
    archive_from,
    kill_tagged,
    leftovers,
    start_job,
    tagged_processes,
    wait_for_text,
)
from .processes import parents

# Credentials a careless function prints into its log; the harness must mask them everywhere.
PLANTED = {
    "Planted_Store_SecretKey": "planted-s3-secret-" + secrets.token_hex(8),
    "Planted_Store_AccessKey": "AKIAPLANTED" + secrets.token_hex(5).upper(),
    "Planted_Server_PAT": "ghp_planted" + secrets.token_hex(12),
    # the one the workflows name in their Secrets (FaaSr's names are upper case): functions get it
    "PLANTED_API_TOKEN": "planted-token-" + secrets.token_hex(10),
}

FUNCTIONS = textwrap.dedent('''
    import os
    import time

    from FaaSr_py.client.py_client_stubs import (faasr_get_file, faasr_invocation_id, faasr_log,
                                                 faasr_put_file)

    PLANTED = {planted!r}


    def nap(seconds=0, leak=False):
        if leak:  # a careless function: writes its credentials into its log
            faasr_log("credentials: " + " ".join(os.environ.get(n, "?") for n in PLANTED))
        faasr_log(f"sleeping {{seconds}} s")
        time.sleep(float(seconds))


    def hang():
        faasr_log("hanging forever")
        while True:
            time.sleep(1)


    def flood(megabytes=50):
        line = "x" * 1000
        for i in range(int(megabytes) * 1000):
            faasr_log(f"{{i}} {{line}}")


    def produce(index=0):
        iid = faasr_invocation_id()
        with open("token.txt", "w") as fh:
            fh.write(f"{{iid}} {{index}}")
        faasr_put_file(local_file="token.txt", remote_file="token.txt", remote_folder=f"load/{{iid}}")


    def check(index=0, fail_every=0):
        iid = faasr_invocation_id()
        faasr_get_file(local_file="token.txt", remote_file="token.txt", remote_folder=f"load/{{iid}}")
        with open("token.txt") as fh:
            token = fh.read()
        if token != f"{{iid}} {{index}}":
            raise RuntimeError(f"cross-talk: token {{token!r}} in the folder of {{iid}}")
        faasr_log(f"token matches {{iid}}")
        if fail_every and int(index) % int(fail_every) == int(fail_every) - 1:
            raise ValueError(f"deliberate failure of invocation {{index}}")
''').format(planted=sorted(PLANTED))

# In both function files (pyATS job scenarios and `faasr-easypy run` ones): fills TMPDIR's disk.
FILL_DISK = textwrap.dedent('''


    def fill_disk(megabytes=40):
        """Writes a big local file (TMPDIR, where the S3 data is too) and uploads it."""
        with open("big.bin", "wb") as fh:
            for _ in range(int(megabytes)):
                fh.write(os.urandom(2**20))
        faasr_log(f"uploading {megabytes} MB")
        faasr_put_file(local_file="big.bin", remote_file="big.bin", remote_folder=faasr_invocation_id())
''')
FUNCTIONS += FILL_DISK

# The load workflow's testscript: each tester must see its own objects and nothing else.
ISOLATION_TESTSCRIPT = textwrap.dedent('''
    from pyats import aetest

    EXPECTED_LOG_KEYS = ["check.txt", "function_completions/check.done",
                         "function_completions/produce.done", "produce.txt"]


    def _keys(tester, prefix):
        pages = tester.client.get_paginator("list_objects_v2").paginate(
            Bucket=tester.runner.data_store.bucket, Prefix=prefix)
        return sorted(o["Key"][len(prefix):] for p in pages for o in p.get("Contents", ()))


    class Isolation(aetest.Testcase):
        @aetest.test
        def sees_only_its_own_objects(self, tester):
            tester.wait_all()
            own = tester.runner.layout.prefix
            assert _keys(tester, own) == EXPECTED_LOG_KEYS, _keys(tester, own)
            assert _keys(tester, f"load/{tester.invocation_id}/") == ["token.txt"]

        @aetest.test
        def token_is_its_own(self, tester):
            index = tester.runner.invocation.arguments("produce")["index"]
            tester.assert_content_equals("load/{InvocationID}/token.txt", f"{tester.invocation_id} {index}")

        @aetest.test
        def check_completed(self, tester):
            tester.assert_function_completed("check")
''')

JOBFILE = textwrap.dedent('''
    """Runs the tasks of plan.json (written by tests/reliability_scenarios.py); with
    "soak_seconds", again and again until that time is up, one line per round in rounds.jsonl."""
    import json
    import os
    import time
    from pathlib import Path

    from faasr_easypy.easypy import WorkflowPool

    ROOT = Path(__file__).resolve().parent.parent


    def rss(pid):
        try:
            with open(f"/proc/{pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0


    def name(pid):
        """weed, forkserver, or the job's own helpers (pyATS' manager and reporter)."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\\0", b" ").decode(errors="replace")
        except OSError:
            return "?"
        for word in ("weed", "forkserver"):
            if word in cmd:
                return word
        return "pyats helper" if "pyats" in cmd else os.path.basename(cmd.split(" ", 1)[0]) or "?"


    def descendants(root):
        table = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        table[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    pass
        out, frontier = [], [root]
        while frontier:
            pid = frontier.pop()
            kids = [p for p, parent in table.items() if parent == pid]
            out += kids
            frontier += kids
        return out


    def main(runtime):
        plan = json.loads((ROOT / "plan.json").read_text())
        deadline = time.monotonic() + plan.get("soak_seconds", 0)
        round_no = 0
        while True:
            round_no += 1
            started = time.monotonic()
            pool = WorkflowPool(runtime, max_parallel_tasks=plan["parallel"])
            suffix = f"-r{round_no}" if plan.get("soak_seconds") else ""
            for task in plan["tasks"]:
                pool.submit(ROOT / "workflows" / f"{task['workflow']}.json", taskid=task["taskid"] + suffix,
                            overrides=task.get("arguments"), timeout=task.get("timeout"))
            results = pool.run()
            if not plan.get("soak_seconds"):
                return
            me = os.getpid()
            others = {}
            for pid in descendants(me):
                others[name(pid)] = others.get(name(pid), 0) + rss(pid)
            line = {"round": round_no, "seconds": time.monotonic() - started, "job_rss": rss(me),
                    "total_rss": rss(me) + sum(others.values()), "by_process": others,
                    "processes": len(descendants(me)),
                    "verdicts": {t: str(r) for t, r in results.items()}}
            with open(ROOT / "rounds.jsonl", "a") as fh:
                fh.write(json.dumps(line) + "\\n")
            if time.monotonic() > deadline or runtime.faasr.interrupted:
                return
''')


def _workflow(name, actions, entry="start"):
    """A FaaSr workflow dict; actions: {name: (function, arguments, invoke_next)}."""
    return {
        "WorkflowName": name, "FunctionInvoke": entry, "DefaultDataStore": "S3", "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "ComputeServers": {"GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r",
                                  "Branch": "main"}},
        "DataStores": {"S3": {"Endpoint": "https://s3.example.org", "Bucket": "faasr", "Region": "us-east-1"}},
        "ActionList": {a: {"FunctionName": f, "FaaSServer": "GH", "Type": "Python", "Arguments": args,
                           "InvokeNext": nxt} for a, (f, args, nxt) in actions.items()},
        # named, so a function really gets it (and leaks it): the harness must mask it; the other
        # planted credentials never reach a function at all
        "Secrets": ["PLANTED_API_TOKEN"],
    }


WORKFLOWS = {
    # start -> work(2) -> end: a few seconds, and start leaks the planted credentials into its log
    "steady": _workflow("Steady", {"start": ("nap", {"seconds": 0.5, "leak": True}, ["work(2)"]),
                                   "work": ("nap", {"seconds": 3}, ["end"]),
                                   "end": ("nap", {"seconds": 0}, [])}),
    "victim": _workflow("Victim", {"start": ("nap", {"seconds": 0}, ["victim"]),
                                   "victim": ("nap", {"seconds": 120}, ["after"]),
                                   "after": ("nap", {"seconds": 0}, [])}),
    "hang": _workflow("Hang", {"start": ("hang", {}, ["after"]), "after": ("nap", {"seconds": 0}, [])}),
    "flood": _workflow("Flood", {"start": ("flood", {"megabytes": 50}, ["after"]),
                                 "after": ("nap", {"seconds": 0}, [])}),
    "outage": _workflow("Outage", {"start": ("nap", {"seconds": 0.5}, ["middle"]),
                                   "middle": ("nap", {"seconds": 8}, ["end"]),
                                   "end": ("nap", {"seconds": 0.5}, [])}),
    "full": _workflow("Full", {"start": ("fill_disk", {"megabytes": 40}, ["after"]),
                               "after": ("nap", {"seconds": 0}, [])}),
    "isolation": _workflow("Isolation", {"produce": ("produce", {"index": 0}, ["check"]),
                                         "check": ("check", {"index": 0}, [])}, entry="produce"),
}


def make_project(root, tasks, parallel, soak_seconds=0):
    """A project folder with every scenario workflow, its functions, the isolation
    testscript and a jobfile that runs `tasks` ([{workflow, taskid, arguments}])."""
    root = Path(root)
    for folder in ("workflows", "testscripts", "jobs", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for stem, data in WORKFLOWS.items():
        (root / "workflows" / f"{stem}.json").write_text(json.dumps(data, indent=2))
        functions = root / "workflows" / "functions" / data["WorkflowName"]
        functions.mkdir(parents=True, exist_ok=True)
        (functions / "faults.py").write_text(FUNCTIONS)
    (root / "testscripts" / "isolation.py").write_text(ISOLATION_TESTSCRIPT)
    (root / "jobs" / "job.py").write_text(JOBFILE)
    plan = {"parallel": parallel, "tasks": tasks, "soak_seconds": soak_seconds}
    (root / "plan.json").write_text(json.dumps(plan, indent=2))
    return root / "jobs" / "job.py"


# -- what a scenario does to the running job ---------------------------------------------------

class Fault:
    """Handle on the running job given to a scenario's `inject` function."""

    def __init__(self, proc, log, rng, s3=None):
        self.proc, self.log, self.rng, self.s3 = proc, log, rng, s3
        self.notes = []

    def wait_for(self, text, timeout=120):
        if not wait_for_text(self.log, text, timeout=timeout):
            raise FaultNotInjected(f"the job never logged {text!r}")

    def action_processes(self):
        """Tagged action processes: children of a fork server, forked from it."""
        table = parents()
        tagged = {pid: cmd for pid, cmd in tagged_processes(self.proc.tag)}
        return [pid for pid, cmd in tagged.items()
                if "forkserver" in cmd and "forkserver" in tagged.get(table.get(pid), "")]


class FaultNotInjected(Exception):
    """The job ended (or never got there) before the fault could be done: the case proves nothing."""


def _signal_at_random(sig):
    def inject(fault):
        fault.wait_for("faasr-easypy: testbed")
        delay = fault.rng.uniform(0.0, 10.0)
        time.sleep(delay)
        if fault.proc.poll() is not None:
            fault.notes.append(f"the job ended before the {sig.name} at +{delay:.1f} s")
            return
        fault.proc.send_signal(sig)
        fault.notes.append(f"{sig.name} at +{delay:.1f} s")
    return inject


def _kill_worker(fault):
    fault.wait_for("[victim] sleeping 120 s")
    # An action runs in its own working directory, named after its label: that tells the
    # victim's process from the control workflow's.
    for pid in fault.action_processes():
        try:
            workdir = os.path.basename(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if workdir.startswith("victim-"):
            os.kill(pid, signal.SIGKILL)
            fault.notes.append(f"SIGKILL to the action process of victim ({pid})")
            return
    raise FaultNotInjected("no action process of victim found")


def _restart_s3(fault):
    fault.wait_for("[middle] sleeping 8 s")
    server = fault.s3
    os.killpg(server.process.pid, signal.SIGKILL)  # a crash: S3 gone at once
    server.stop()
    time.sleep(2.0)
    server.start()  # same port, data folder and keys
    fault.notes.append("S3 SIGKILLed, back after 2 s")


def _kill_job_s3(fault):
    """SIGKILL to the job's embedded weed (not its guard) while both workflows run an action."""
    fault.wait_for("[victim] sleeping 120 s")
    fault.wait_for("hanging forever")
    pid = next((pid for pid, cmd in tagged_processes(fault.proc.tag)
                if cmd.split(" ", 1)[0].endswith("weed")), None)
    if pid is None:
        raise FaultNotInjected("no weed process with the job's tag")
    os.kill(pid, signal.SIGKILL)
    fault.notes.append("SIGKILL to weed")


def _nothing(fault):
    pass


@dataclass
class Scenario:
    case: str
    tried: str
    tasks: list
    inject: object = _nothing
    args: tuple = ()
    parallel: int = 4
    external_s3: bool = False     # the test owns the S3 server (to kill and restart it)
    mail: bool = False            # send the report mail to a loopback SMTP server and scan it
    limit: float = 240.0          # seconds before the job counts as hung
    seed: int = 0
    soak_seconds: float = 0       # repeat the tasks in rounds for this long, in one job
    disk_mib: int = 0             # the job's TMPDIR on a tmpfs of this size (root only)
    archive_full: bool = False    # the archive folder on a 1 MiB tmpfs, filled before the job (root only)

    @property
    def taskids(self):
        if self.soak_seconds:
            return []  # task ids get a round suffix; Outcome.verdicts has them all
        return [t["taskid"] for t in self.tasks]


def _tasks(stem, count=1, prefix=None, arguments=None, timeout=None):
    prefix = prefix or stem
    return [{"workflow": stem, "taskid": f"{prefix}{i}" if count > 1 else prefix,
             "arguments": arguments(i) if arguments else None, "timeout": timeout} for i in range(count)]


def signal_scenarios(count=3, first_seed=1):
    """SIGINT and SIGTERM at seeded random moments in the first 10 s after the plugin started."""
    out = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        for seed in range(first_seed, first_seed + count):
            out.append(Scenario(
                case=f"{sig.name.lower()}-{seed}", seed=seed,
                tried=f"{sig.name} to the job at a random moment (seed {seed}); 3 workflows, 2 at a time",
                tasks=_tasks("steady", 3), parallel=2, inject=_signal_at_random(sig), limit=120))
    return out


LOAD_COUNT = 64
LOAD_FAIL_EVERY = 16


def load_scenario(count=LOAD_COUNT):
    return Scenario(
        case=f"load-{count}", tried=f"{count} concurrent invocations of one workflow in one job; "
                                    f"every {LOAD_FAIL_EVERY}th fails on purpose",
        tasks=_tasks("isolation", count, prefix="iso", arguments=lambda i: {
            "produce": {"index": i}, "check": {"index": i, "fail_every": LOAD_FAIL_EVERY}}),
        parallel=count, args=("--faasr-check-interval", "1", "--faasr-timeout", "400"), limit=600)


def expected_load_verdict(taskid):
    return "failed" if int(taskid[3:]) % LOAD_FAIL_EVERY == LOAD_FAIL_EVERY - 1 else "passed"


def soak_scenario(minutes):
    """Rounds of a small mix (2 steady, 2 isolation) in one job for `minutes`: does memory stay flat?"""
    return Scenario(
        case="soak", tried=f"rounds of 2 steady + 2 isolation workflows in one job for {minutes:g} min",
        tasks=_tasks("steady", 2) + _tasks("isolation", 2, prefix="iso", arguments=lambda i: {
            "produce": {"index": i}, "check": {"index": i}}),
        parallel=4, soak_seconds=minutes * 60, limit=minutes * 60 + 600)


def soak_rounds(root):
    """The lines the soak jobfile wrote, one per round."""
    path = Path(root) / "rounds.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


FAULT_SCENARIOS = {
    "s3-restart": lambda: Scenario(
        case="s3-restart", tried="S3 server SIGKILLed mid-job and restarted 2 s later",
        # timeouts well under `limit`: a workflow the outage broke ends TIMEOUT, only a hang hits the limit
        tasks=_tasks("outage", timeout=120) + _tasks("steady", timeout=120), inject=_restart_s3,
        external_s3=True),
    "s3-killed": lambda: Scenario(
        case="s3-killed", tried="the job's embedded S3 server (weed) SIGKILLed while two workflows run, "
                                "a third queued",
        tasks=_tasks("victim", timeout=150) + _tasks("hang", timeout=150) + _tasks("steady"), parallel=2,
        inject=_kill_job_s3, limit=300),
    "s3-disk-full": lambda: Scenario(
        case="s3-disk-full", tried="a function uploads 40 MB with the job's TMPDIR (S3 data, action folders) "
                                   "on a 64 MiB disk", tasks=_tasks("full", timeout=150), disk_mib=64, limit=300),
    "worker-killed": lambda: Scenario(
        case="worker-killed", tried="an action process SIGKILLed during the job (report mailed)",
        tasks=_tasks("victim") + _tasks("steady"), inject=_kill_worker, mail=True),
    "hang": lambda: Scenario(
        case="hang", tried="a function that hangs forever (its workflow's timeout: 10 s)",
        tasks=_tasks("hang", timeout=10) + _tasks("steady")),
    "flood": lambda: Scenario(
        case="flood", tried="a function writing 50 MB into its log", tasks=_tasks("flood")),
}


def archive_full_scenario():
    """The archive folder's disk full before the job: by design no archive and no report (not
    in FAULT_SCENARIOS, whose table expects both)."""
    return Scenario(case="archive-full", tried="the archive folder's disk full before the job starts",
                    tasks=_tasks("steady"), archive_full=True)


# -- running one and judging it --------------------------------------------------------------

# What pyATS prints when a plugin, the jobfile or a task's own code raised
HARNESS_ERRORS = ("Caught error", "error in Easypy plugins", "faasr-easypy: writing the FaaSr results failed")


@dataclass
class Outcome:
    scenario: Scenario
    rc: int | None = None
    seconds: float = 0.0
    hung: bool = False
    output: str = ""
    archive: Path | None = None
    results: dict | None = None
    verdicts: dict = field(default_factory=dict)
    report: bool = False
    left_processes: list = field(default_factory=list)
    left_temp: list = field(default_factory=list)
    leaks: list = field(default_factory=list)
    mails: int = 0
    notes: list = field(default_factory=list)
    peak_rss: dict = field(default_factory=dict)   # {"job": bytes, "total": bytes}

    @property
    def checks(self):
        """What held, in table order."""
        return {
            "ended": not self.hung,
            "verdicts": bool(self.results) and all(self.verdicts.get(t) for t in self.scenario.taskids),
            "archive": self.archive is not None and self.archive.is_file(),
            "report": self.report,
            "no leftover": not self.left_processes and not self.left_temp,
            "no secret": not self.leaks,
            # functions that fail on purpose print tracebacks (streamed logs); the harness never does
            "no harness error": not any(sign in self.output for sign in HARNESS_ERRORS),
        }

    @property
    def held(self):
        return all(self.checks.values())

    def workflow(self, taskid):
        return next(w for w in self.results["workflows"] if w["task_id"] == taskid)

    def functions(self, taskid):
        return {f["label"]: f for f in self.workflow(taskid)["functions"]}

    def explain(self):
        """Enough to see why a check failed, for assertion messages."""
        failed = [name for name, ok in self.checks.items() if not ok]
        return (f"{self.scenario.case}: failed {failed}; rc={self.rc}; notes={self.notes}; verdicts={self.verdicts}; "
                f"left={self.left_processes} temp={self.left_temp}; leaks={self.leaks}\n{self.output[-4000:]}")


def run_scenario(scenario, root):
    """Run `scenario` in the folder `root` and return its Outcome (never raises for a fault)."""
    root = Path(root)
    job = make_project(root, scenario.tasks, scenario.parallel, scenario.soak_seconds)
    tmp = root / "tmp"
    log = root / "job.log"
    env = dict(PLANTED, TMPDIR=str(tmp))
    outcome = Outcome(scenario)
    mounts = []
    try:
        if scenario.disk_mib:
            mounts.append(small_disk(tmp, scenario.disk_mib))
        if scenario.archive_full:
            mounts.append(small_disk(root / "archives", 1))
            with open(root / "archives" / "filler", "wb", buffering=0) as fh:  # until the disk says no
                try:
                    while True:
                        fh.write(b"\0" * 4096)
                except OSError:
                    pass
        _run_scenario(scenario, root, job, tmp, log, env, outcome)
    finally:
        for folder in mounts:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    return outcome


def _run_scenario(scenario, root, job, tmp, log, env, outcome):
    with _external_s3(scenario, root, env) as s3, _mailbox(scenario, root) as mailbox:
        args = ["--archive-dir", root / "archives", "--faasr-stream-logs", *scenario.args]
        if mailbox is not None:
            args += ["--mail-to", "dev@example.com", "--pyats-configuration", mailbox.config]
        else:
            args += ["--no-mail"]
        started = time.monotonic()
        proc = start_job(job, *args, cwd=root, log=log, env=env)
        sampler = _RssSampler(proc)
        fault = Fault(proc, log, random.Random(scenario.seed), s3=s3)
        try:
            _inject_and_wait(scenario, fault, outcome, started)
            outcome.left_processes = leftovers(proc.tag)
        finally:
            sampler.stop()
            kill_tagged(proc.tag)
        outcome.peak_rss = sampler.peak
        outcome.notes += fault.notes
        outcome.output = log.read_text(errors="replace")
        if mailbox is not None:
            mailbox.wait()
            outcome.mails = len(mailbox.received)
        secret_values = list(PLANTED.values()) + ([s3.access_key, s3.secret_key] if s3 else [])
        _judge(outcome, tmp, secret_values, mailbox)


def _inject_and_wait(scenario, fault, outcome, started):
    """Do the scenario's fault, then wait for the process up to the scenario's limit
    (past it, it counts as hung and its group is SIGKILLed)."""
    if scenario.inject is not None:
        try:
            scenario.inject(fault)
        except FaultNotInjected as exc:
            outcome.notes.append(f"fault not injected: {exc}")
    proc = fault.proc
    try:
        outcome.rc = proc.wait(max(1.0, scenario.limit - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        outcome.hung = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    outcome.seconds = time.monotonic() - started


def _judge(outcome, tmp, secret_values, mailbox):
    outcome.left_temp = sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
    outcome.archive = archive_from(outcome.output)
    texts = {"job output": outcome.output}
    if outcome.archive is not None and outcome.archive.is_file():
        with zipfile.ZipFile(outcome.archive) as zf:
            members = zf.namelist()
            for name in members:
                texts[f"archive:{name}"] = zf.read(name).decode("utf-8", "replace")
            try:
                outcome.results = json.loads(zf.read("faasr_results.json"))
            except KeyError:
                outcome.results = None
        beside = outcome.archive.with_name(outcome.archive.name[:-4] + ".faasr_report.html")
        outcome.report = "faasr_report.html" in members and beside.is_file()
        if beside.is_file():
            texts["report beside the archive"] = beside.read_text(errors="replace")
    if outcome.results:
        outcome.verdicts = {w["task_id"]: w.get("verdict") for w in outcome.results["workflows"]}
    if mailbox is not None:
        for i, envelope in enumerate(mailbox.received):
            texts[f"mail {i}"] = envelope.content.decode("utf-8", "replace")
    # every form (URL, JSON, base64, Basic auth) of every value, as tests/test_secrets_in_archives.py
    from .test_secrets_in_archives import find_leaks

    values = {f"secret {i}": v for i, v in enumerate(secret_values) if v}
    outcome.leaks.extend(sorted({where for where, _, _ in find_leaks(texts, values)}))


class _RssSampler:
    """Peak resident memory of the job process and of everything the job started."""

    def __init__(self, proc, interval=0.5):
        self.proc, self.interval = proc, interval
        self.peak = {"job": 0, "total": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set() and self.proc.poll() is None:
            job = _rss(self.proc.pid)
            total = sum(_rss(pid) for pid, _ in tagged_processes(self.proc.tag))
            self.peak["job"] = max(self.peak["job"], job)
            self.peak["total"] = max(self.peak["total"], total)
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def _rss(pid):
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _external_s3:
    """The test's own S3 server, given to the job through FAASR_EASYPY_S3_*, so it can be killed."""

    def __init__(self, scenario, root, env):
        self.scenario, self.root, self.env = scenario, root, env
        self.server = None

    def __enter__(self):
        if not self.scenario.external_s3:
            return None
        from faasr_easypy.s3.server import EmbeddedS3Server, free_ports

        self.server = EmbeddedS3Server(data_dir=self.root / "s3", port=free_ports(1)[0]).start()
        self.env.update(FAASR_EASYPY_S3_ENDPOINT=self.server.endpoint,
                        FAASR_EASYPY_S3_ACCESS_KEY=self.server.access_key,
                        FAASR_EASYPY_S3_SECRET_KEY=self.server.secret_key)
        return self.server

    def __exit__(self, *exc):
        if self.server is not None:
            self.server.stop()


class _Mailbox:
    def __init__(self, received, config):
        self.received, self.config = received, config

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.received and time.monotonic() < deadline:
            time.sleep(0.05)


class _mailbox:
    """A loopback SMTP server (tests/test_mail.py's) and the pyATS configuration naming it."""

    def __init__(self, scenario, root):
        self.scenario, self.root = scenario, root
        self._cm = None

    def __enter__(self):
        if not self.scenario.mail:
            return None
        from .test_mail import smtp_server

        self._cm = smtp_server()
        port, received = self._cm.__enter__()
        config = self.root / "pyats.conf"
        config.write_text(f"[email]\nsmtp.host = 127.0.0.1\nsmtp.port = {port}\ndefault_domain = example.com\n")
        return _Mailbox(received, config)

    def __exit__(self, *exc):
        if self._cm is not None:
            self._cm.__exit__(*exc)


# -- hostile functions under `faasr-easypy run` (issue 20) -------------------------------------
#
# Each case runs one small workflow with `faasr-easypy run` (real fork server, real weed) in a
# TMPDIR of its own, and collects every function's status and reason from the Outcome lines,
# what is still running with the run's tag afterwards, and what is left in its TMPDIR.

HOSTILE_FUNCTIONS = textwrap.dedent('''
    import functools
    import json
    import multiprocessing
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from FaaSr_py.client.py_client_stubs import (faasr_get_file, faasr_invocation_id, faasr_log,
                                                 faasr_put_file)


    def nap(seconds=0):
        faasr_log(f"sleeping {seconds} s")
        time.sleep(float(seconds))


    def _helper_holding_the_pipes():
        if os.fork() == 0:  # inherits every fd of the action, the result pipe too
            time.sleep(600)
            os._exit(0)


    def fork_then_exit(code=3):
        _helper_holding_the_pipes()
        faasr_log("helper forked; exiting")
        os._exit(int(code))


    def fork_then_sigkill():
        _helper_holding_the_pipes()
        faasr_log("helper forked; SIGKILL to myself")
        os.kill(os.getpid(), signal.SIGKILL)


    def _busy(x):
        time.sleep(600)


    def pool_then_exit():
        pool = multiprocessing.get_context("fork").Pool(2)
        pool.map_async(_busy, range(4))
        time.sleep(0.5)
        faasr_log("pool busy; exiting")
        os._exit(3)


    def _pids_to_s3(pids):
        with open("pids.txt", "w") as fh:
            fh.write(" ".join(map(str, pids)))
        faasr_put_file(local_file="pids.txt", remote_file="pids.txt", remote_folder=faasr_invocation_id())


    def leave_behind():
        """Starts everything a function can start that outlives it, then returns."""
        pids = [subprocess.Popen(["sleep", "601"]).pid,
                subprocess.Popen(["sleep", "602"], start_new_session=True).pid]
        read, write = os.pipe()
        if os.fork() == 0:  # a daemon by double fork: its parent exits at once
            if os.fork() == 0:
                os.setsid()
                os.write(write, str(os.getpid()).encode())
                time.sleep(603)
            os._exit(0)
        pids.append(int(os.read(read, 32)))
        pool = multiprocessing.get_context("fork").Pool(1)
        pids += [p.pid for p in pool._pool]
        _pids_to_s3(pids)
        faasr_log(f"left behind {pids}")


    def check_gone():
        """The successor of leave_behind: every process it started must be dead by now."""
        faasr_get_file(local_file="pids.txt", remote_file="pids.txt", remote_folder=faasr_invocation_id())
        pids = [int(p) for p in open("pids.txt").read().split()]
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [p for p in pids if _alive(p)]
            time.sleep(0.1)
        if alive:
            raise RuntimeError(f"still running after leave_behind ended: {alive}")
        faasr_log(f"all {len(pids)} gone")


    def _alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False


    def patch_json():
        json.dumps = functools.partial(json.dumps, indent=2)  # a common convenience
        json.JSONEncoder.encode = lambda self, o: "{\\\\n}"
        faasr_log(json.dumps({"pretty": True}))


    def patch_everything():
        """What a function may do to its own process; only its own view may change."""
        json.dumps = lambda *a, **k: "not json"
        os.write = lambda fd, data: len(data)
        os.environ.clear()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout = sys.stderr = None
        here = os.getcwd()
        os.chdir("/")
        shutil.rmtree(here)
        tempfile.tempdir = "/nonexistent"
        faasr_log("patched everything")


    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("__str__ raised")


    def bad_str():
        raise Unprintable()


    def closerange():
        with open("out.txt", "w") as fh:
            fh.write("written")
        faasr_put_file(local_file="out.txt", remote_file="out.txt", remote_folder=faasr_invocation_id())
        faasr_log("output written; closing every fd")
        os.closerange(3, 65536)


    def chdir_put():
        with open("data.txt", "w") as fh:
            fh.write("old folder")
        os.mkdir("sub")
        os.chdir("sub")
        with open("data.txt", "w") as fh:
            fh.write("new folder")
        faasr_put_file(local_file="data.txt", remote_file="data.txt", remote_folder=faasr_invocation_id())


    def check_put():
        faasr_get_file(local_file="got.txt", remote_file="data.txt", remote_folder=faasr_invocation_id())
        got = open("got.txt").read()
        if got != "new folder":
            raise ValueError(f"faasr_put_file after os.chdir uploaded {got!r}")
        faasr_log("the file of the current folder was uploaded")


    def temp_writer():
        folder = tempfile.gettempdir()
        with open(os.path.join(folder, "shared-name.txt"), "w") as fh:
            fh.write(faasr_invocation_id())
        tempfile.mkstemp()
        faasr_log(f"tmp={folder}")


    def temp_reader():
        folder = tempfile.gettempdir()
        if os.path.exists(os.path.join(folder, "shared-name.txt")):
            raise RuntimeError(f"a file of another action is in my temp folder {folder}")
        if os.environ.get("TMPDIR") != folder:
            raise RuntimeError(f"TMPDIR {os.environ.get('TMPDIR')} is not tempfile's {folder}")
        faasr_log(f"tmp={folder} is my own")


    def hog(megabytes=2048):
        block = bytearray(int(megabytes) * 2**20)
        faasr_log(f"allocated {len(block)} bytes")
''')


@dataclass
class RunScenario:
    case: str
    tried: str
    actions: dict                 # name -> (function, arguments, InvokeNext)
    entry: str = "start"
    args: tuple = ()              # more `faasr-easypy run` arguments
    inject: object = None         # fn(RunFault) while the run runs
    timeout: float = 60           # the run's --timeout
    limit: float = 150            # seconds before the run counts as hung
    disk_mib: int = 0             # TMPDIR on a tmpfs of this size (root only), else the test's folder


@dataclass
class RunOutcome:
    scenario: RunScenario
    rc: int | None = None
    seconds: float = 0.0
    hung: bool = False
    output: str = ""
    statuses: dict = field(default_factory=dict)   # label -> (STATUS, reason)
    left_processes: list = field(default_factory=list)
    left_temp: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def status(self, label):
        return self.statuses.get(label, (None, ""))[0]

    def reason(self, label):
        return self.statuses.get(label, (None, ""))[1]

    def explain(self):
        return (f"{self.scenario.case}: rc={self.rc} hung={self.hung} statuses={self.statuses} "
                f"left={self.left_processes} temp={self.left_temp} notes={self.notes}\n{self.output[-4000:]}")


class RunFault:
    """Handle on the running `faasr-easypy run` for a RunScenario's inject."""

    def __init__(self, proc, log):
        self.proc, self.log = proc, log
        self.notes = []

    def wait_for(self, text, timeout=60):
        if not wait_for_text(self.log, text, timeout=timeout):
            raise FaultNotInjected(f"the run never printed {text!r}")

    def weed_pid(self):
        return next((pid for pid, cmd in tagged_processes(self.proc.tag)
                     if cmd.split(" ", 1)[0].endswith("weed")), None)


def run_cli_scenario(scenario, root):
    """Run `scenario` with `faasr-easypy run` in `root`; its RunOutcome (never raises for a fault)."""
    import sys
    import uuid

    from .easypy_helpers import job_env

    root = Path(root)
    functions = root / "functions"
    functions.mkdir(parents=True, exist_ok=True)
    (functions / "hostile.py").write_text(HOSTILE_FUNCTIONS + FILL_DISK)
    path = root / "workflow.json"
    data = _workflow(f"Hostile{scenario.case.title().replace('-', '')}", scenario.actions, entry=scenario.entry)
    data.pop("Secrets", None)  # no planted secrets here: these cases are about processes, not leaks
    path.write_text(json.dumps(data))
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    if scenario.disk_mib:
        small_disk(tmp, scenario.disk_mib)  # before anything runs: NoSmallDisk leaves nothing behind
    log = root / "run.log"
    tag = uuid.uuid4().hex
    cmd = [sys.executable, "-m", "faasr_easypy.cli", "run", str(path), "--functions", str(functions),
           "--timeout", str(scenario.timeout), "--stream-logs", *scenario.args]
    outcome = RunOutcome(scenario)
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=job_env(tag, {"TMPDIR": str(tmp)}), stdout=out,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    proc.tag = tag
    fault = RunFault(proc, log)
    try:
        _inject_and_wait(scenario, fault, outcome, started)
        deadline = time.monotonic() + 5  # what a SIGKILLed run leaves stops by itself, or not at all
        while tagged_processes(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        outcome.left_processes = tagged_processes(tag)
        while tmp.is_dir() and any(tmp.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        outcome.left_temp = sorted(p.name for p in tmp.iterdir())
    finally:
        kill_tagged(tag)
        if scenario.disk_mib:
            subprocess.run(["umount", "-l", str(tmp)], check=False)
    outcome.notes += fault.notes
    outcome.output = log.read_text(errors="replace")
    outcome.statuses = _outcome_lines(outcome.output)
    return outcome


class NoSmallDisk(Exception):
    """This machine cannot give the test a small disk of its own (it needs root for a tmpfs)."""


def small_disk(folder, mib):
    """Mount a tmpfs of `mib` MiB on `folder` (unmount it with `umount -l`)."""
    if os.geteuid() != 0:
        raise NoSmallDisk("mounting a tmpfs needs root")
    Path(folder).mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(mib)}m,mode=1777", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise NoSmallDisk(f"mount -t tmpfs failed: {done.stderr.strip()}")
    return folder


def _outcome_lines(output):
    """{label: (STATUS, reason)} from the `Outcome:` block `faasr-easypy run` prints."""
    statuses, inside = {}, False
    for line in output.splitlines():
        if line == "Outcome:":
            inside = True
        elif inside and line.startswith("  "):
            parts = line.split(None, 2)
            if len(parts) >= 2:
                statuses[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
        elif inside:
            inside = False
    return statuses


def _kill_s3(fault):
    fault.wait_for("[start] sleeping 60 s")
    pid = fault.weed_pid()
    if pid is None:
        raise FaultNotInjected("no weed process with the run's tag")
    os.kill(pid, signal.SIGKILL)
    fault.notes.append("SIGKILL to weed")


def _kill_run(sig):
    def inject(fault):
        fault.wait_for("[start] sleeping 60 s")
        time.sleep(0.3)
        fault.proc.send_signal(sig)
        if sig == signal.SIGINT:  # a second Ctrl-C while the first one is being handled
            time.sleep(0.05)
            fault.proc.send_signal(sig)
        fault.notes.append(f"{sig.name} to faasr-easypy run")
    return inject


RUN_SCENARIOS = {
    "fork-then-exit": RunScenario(
        "fork-then-exit", "the function forks a helper holding its pipes, then os._exit(3)",
        {"start": ("fork_then_exit", {"code": 3}, ["after"]), "after": ("nap", {}, [])},
        args=("--action-timeout", "40")),
    "fork-then-sigkill": RunScenario(
        "fork-then-sigkill", "the function forks a helper holding its pipes, then SIGKILLs itself",
        {"start": ("fork_then_sigkill", {}, ["after"]), "after": ("nap", {}, [])},
        args=("--action-timeout", "40")),
    "pool-then-exit": RunScenario(
        "pool-then-exit", "a busy multiprocessing fork pool, then os._exit(3)",
        {"start": ("pool_then_exit", {}, ["after"]), "after": ("nap", {}, [])},
        args=("--action-timeout", "40")),
    "leave-behind": RunScenario(
        "leave-behind", "Popen(['sleep','601']), a start_new_session child, a double-forked daemon, "
                        "a pool, and a normal return; the successor checks they are all gone",
        {"start": ("leave_behind", {}, ["check"]), "check": ("check_gone", {}, [])}),
    "patch-json": RunScenario(
        "patch-json", "json.dumps = functools.partial(json.dumps, indent=2) beside a parallel sibling",
        {"start": ("nap", {}, ["patch", "sibling"]), "patch": ("patch_json", {}, ["after"]),
         "sibling": ("nap", {"seconds": 1}, ["after2"]), "after": ("nap", {}, []), "after2": ("nap", {}, [])}),
    "patch-everything": RunScenario(
        "patch-everything", "json, os.write, os.environ, signal handlers, sys.stdout, cwd deleted",
        {"start": ("patch_everything", {}, ["after"]), "after": ("nap", {}, [])}),
    "bad-str": RunScenario(
        "bad-str", "an exception whose __str__ raises",
        {"start": ("bad_str", {}, ["after"]), "after": ("nap", {}, [])}),
    "closerange": RunScenario(
        "closerange", "os.closerange(3, 65536) after the output was written",
        {"start": ("closerange", {}, ["after"]), "after": ("nap", {}, [])}),
    "chdir-put": RunScenario(
        "chdir-put", "os.chdir into a subfolder, then faasr_put_file(local_file=...)",
        {"start": ("chdir_put", {}, ["check"]), "check": ("check_put", {}, [])}),
    "own-tmpdir": RunScenario(
        "own-tmpdir", "a file in tempfile.gettempdir() by one action, looked for by the next",
        {"start": ("temp_writer", {}, ["reader"]), "reader": ("temp_reader", {}, [])}),
    "memory-limit": RunScenario(
        "memory-limit", "a 2 GiB allocation under --action-memory 256",
        {"start": ("hog", {"megabytes": 2048}, ["after"]), "after": ("nap", {}, [])},
        args=("--action-memory", "256")),
    "s3-killed": RunScenario(
        "s3-killed", "the embedded S3 server SIGKILLed while an action runs",
        {"start": ("nap", {"seconds": 60}, ["after"]), "after": ("nap", {}, [])},
        inject=_kill_s3, timeout=120),
    "s3-disk-full": RunScenario(
        "s3-disk-full", "a function uploads 40 MB with TMPDIR (S3 data, action folders) on a 64 MiB disk",
        {"start": ("fill_disk", {"megabytes": 40}, ["after"]), "after": ("nap", {}, [])},
        timeout=120, disk_mib=64),
    "run-sigkilled": RunScenario(
        "run-sigkilled", "SIGKILL to faasr-easypy run while an action runs",
        {"start": ("nap", {"seconds": 60}, ["after"]), "after": ("nap", {}, [])},
        inject=_kill_run(signal.SIGKILL), timeout=120),
    "double-ctrl-c": RunScenario(
        "double-ctrl-c", "two SIGINTs 50 ms apart to faasr-easypy run while an action runs",
        {"start": ("nap", {"seconds": 60}, ["after"]), "after": ("nap", {}, [])},
        inject=_kill_run(signal.SIGINT), timeout=120),
}
