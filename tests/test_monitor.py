"""The S3-only monitor, WorkflowRunner and WorkflowTester, without any real backend.

Each test plays the FaaSr runtime itself: it writes logs, invoker lines and
.done files into the invocation folder with boto3 while a runner watches, and
checks what the monitor concludes.
"""

import os
import signal
import threading
import time

import pytest

from faasr_easypy.backends.base import Backend
from faasr_easypy.errors import UserError
from faasr_easypy.invocation import Invocation
from faasr_easypy.layout import KeyInfo, format_log_line
from faasr_easypy.monitor.platforms import parse_invocation
from faasr_easypy.monitor.poller import S3Poller
from faasr_easypy.monitor.state_machine import InvocationStateMachine
from faasr_easypy.monitor.statuses import Status, is_final
from faasr_easypy.runner import MultiRunner, WorkflowRunner
from faasr_easypy.s3.client import DataStore, make_client
from faasr_easypy.s3.server import EmbeddedS3Server, free_ports
from faasr_easypy.tester import WorkflowTester
from faasr_easypy.workflow import parse_workflow

TICK = 0.05
S, P, C, F, NI, SK, T = (Status.COMPLETED, Status.PENDING, Status.COMPLETED, Status.FAILED,
                         Status.NOT_INVOKED, Status.SKIPPED, Status.TIMEOUT)


# -- helpers -------------------------------------------------------------------------

def workflow(actions, name="MonWF"):
    """A valid workflow from {action: InvokeNext}; the first action is the entry."""
    return parse_workflow({
        "WorkflowName": name, "FunctionInvoke": next(iter(actions)), "FaaSrLog": "FaaSrLog",
        "DefaultDataStore": "S3", "LoggingDataStore": "S3",
        "ComputeServers": {"Local": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r",
                                     "Branch": "main"}},
        "DataStores": {"S3": {"Endpoint": "http://127.0.0.1:1", "Bucket": "faasr", "Region": "us-east-1"}},
        "ActionList": {a: {"FunctionName": "f", "FaaSServer": "Local", "Type": "Python", "InvokeNext": nxt}
                       for a, nxt in actions.items()},
    })


class RecordingBackend(Backend):
    """Triggers nothing: the test writes what FaaSr would write (a platform whose runtime
    may still start an action below a failed one, unlike the local backend)."""

    platform = "GitHubActions"

    def __init__(self):
        self.triggered, self.cancelled = [], []

    def trigger(self, invocation):
        self.triggered.append(invocation)

    def cancel(self, invocation):
        self.cancelled.append(invocation)


class FakeFaaSr:
    """Writes an invocation's S3 objects the way the FaaSr runtime does."""

    def __init__(self, client, bucket, invocation):
        self.client, self.bucket = client, bucket
        self.layout = invocation.layout
        self.logs = {}

    def log(self, action, *lines, rank=None, newline=True):
        """Append lines to the action's log; the log is rewritten whole, like FaaSr's flush."""
        key = self.layout.log_key(action, rank)
        text = "".join(line + ("\n" if newline else "") for line in lines)
        self.logs[key] = self.logs.get(key, "") + text
        self.client.put_object(Bucket=self.bucket, Key=key, Body=self.logs[key].encode())

    def info(self, action, message, rank=None, elapsed=0.01):
        self.log(action, format_log_line(elapsed, "INFO", "f.py", message), rank=rank)

    def error(self, action, message, rank=None, elapsed=0.02):
        self.log(action, format_log_line(elapsed, "ERROR", "f.py", message), rank=rank)

    def invoked(self, action, target, rank=None):
        self.info(action, f"Local: Successfully invoked: {target}", rank=rank, elapsed=0.03)

    def done(self, action, rank=None):
        self.client.put_object(Bucket=self.bucket, Key=self.layout.done_key(action, rank), Body=b"True")

    def run(self, action, invokes=(), rank=None):
        """A whole successful run: log, invoker lines, .done."""
        self.info(action, f"Running {action}", rank=rank)
        for target in invokes:
            self.invoked(action, target, rank=rank)
        self.done(action, rank)


@pytest.fixture(scope="module")
def store(s3_server):
    return s3_server.data_store("S3")


@pytest.fixture(scope="module")
def client(store):
    return make_client(store)


def make_runner(wf, store, history=None, **kwargs):
    kwargs.setdefault("check_interval", TICK)
    kwargs.setdefault("timeout", 20)

    def record(state, previous):
        history.append((state.label, previous, state.status))

    backend = kwargs.pop("backend", None) or RecordingBackend()
    return WorkflowRunner(wf, backend, store, on_status_change=record if history is not None else None,
                          **kwargs)


def wait_status(runner, label, status, timeout=5.0):
    ok = runner.wait_until(lambda m: m.instance(label).state.status is status, timeout)
    assert ok, f"{label} never became {status}: {runner.get_function_statuses()[label]}"


def statuses(runner):
    return {label: s.status for label, s in runner.get_function_statuses().items()}


def steps(history, label):
    return [new for lbl, _prev, new in history if lbl == label]


# -- statuses, one by one ---------------------------------------------------------------

def test_linear_run_walks_through_every_status(store, client):
    history = []
    runner = make_runner(workflow({"a": ["b"], "b": []}), store, history)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        wait_status(runner, "a", Status.INVOKED)       # the harness triggered it
        fake.info("a", "Running a")
        wait_status(runner, "a", Status.RUNNING)        # its log exists
        fake.invoked("a", "b")
        wait_status(runner, "b", Status.INVOKED)        # a's log says so
        fake.done("a")
        wait_status(runner, "a", Status.COMPLETED)
        fake.info("b", "Running b")
        wait_status(runner, "b", Status.RUNNING)
        fake.done("b")
        assert runner.wait(5)
    assert steps(history, "a") == [Status.INVOKED, Status.RUNNING, Status.COMPLETED]
    assert steps(history, "b") == [Status.INVOKED, Status.RUNNING, Status.COMPLETED]
    final = runner.get_function_statuses()
    assert final["b"].invoked_by == ["a"] and final["a"].invoked_by == ["harness"]
    assert final["a"].settled and final["a"].ended_at >= final["a"].started_at
    assert runner.monitoring_complete and not runner.timed_out


def test_done_with_error_line_is_failed_and_downstream_skipped(store, client):
    history = []
    runner = make_runner(workflow({"a": ["b"], "b": ["c"], "c": []}), store, history)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")
        # A traceback is one ERROR message over several physical lines.
        fake.log("a", format_log_line(0.5, "ERROR", "f.py", "The function raised ValueError: boom"),
                 "Traceback (most recent call last):", '  File "f.py", line 3, in f',
                 "ValueError: boom")
        fake.done("a")  # FaaSr writes .done even for a function that raised
        assert runner.wait(5)
    final = runner.get_function_statuses()
    assert final["a"].status is F and final["a"].done
    assert final["a"].reason == "The function raised ValueError: boom"
    assert final["a"].error_lines[0].endswith("ValueError: boom") and "Traceback" in final["a"].error_lines[0]
    assert (final["b"].status, final["c"].status) == (SK, SK)
    assert final["b"].reason == "upstream a is FAILED" and final["c"].reason == "upstream b is SKIPPED"
    assert Status.COMPLETED not in steps(history, "a")


def test_error_without_done_is_failed(store, client):
    runner = make_runner(workflow({"a": []}), store)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")
        fake.error("a", "killed: the action ran out of time")
        assert runner.wait(5)
    assert statuses(runner) == {"a": F}


def test_error_arriving_after_done_flips_completed_to_failed(store, client):
    history = []
    runner = make_runner(workflow({"a": []}), store, history, grace_period=0.5)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")
        fake.done("a")
        wait_status(runner, "a", Status.COMPLETED)
        assert not runner.monitoring_complete  # still inside the grace period
        fake.error("a", "late failure report")
        assert runner.wait(5)
    assert steps(history, "a")[-2:] == [Status.COMPLETED, Status.FAILED]
    assert runner.get_function_statuses()["a"].reason == "late failure report"


def test_invoker_line_after_done_is_not_a_branch_not_taken(store, client):
    """Real FaaSr may log 'Successfully invoked' after .done: no NOT_INVOKED in between."""
    history = []
    runner = make_runner(workflow({"a": ["b"], "b": []}), store, history, grace_period=0.5)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")
        fake.done("a")
        wait_status(runner, "a", Status.COMPLETED)
        time.sleep(2 * TICK)  # the monitor re-reads a's log at least once
        fake.invoked("a", "b")
        wait_status(runner, "b", Status.INVOKED)
        fake.run("b")
        assert runner.wait(5)
    assert Status.NOT_INVOKED not in steps(history, "b")
    assert statuses(runner) == {"a": C, "b": C}


def test_branch_not_taken_is_not_invoked_downstream_too(store, client):
    wf = workflow({"a": [{"True": ["yes"], "False": ["no"]}], "yes": [], "no": ["after"], "after": []})
    runner = make_runner(wf, store)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.run("a", invokes=["yes"])
        fake.run("yes")
        assert runner.wait(5)
    final = runner.get_function_statuses()
    assert statuses(runner) == {"a": C, "yes": C, "no": NI, "after": NI}
    assert final["no"].reason == "a finished without invoking it"


def test_hanging_function_times_out_and_downstream_is_skipped(store, client):
    backend = RecordingBackend()
    # The monitor's clock runs with real time, and jumps when the test says: the deadline
    # passes then, however slow or fast the machine is.
    skipped = [0.0]
    runner = make_runner(workflow({"a": ["b"], "b": []}), store, timeout=60, backend=backend,
                         clock=lambda: time.monotonic() + skipped[0])
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")  # log exists, no .done: it hangs
        wait_status(runner, "a", Status.RUNNING)
        assert not runner.wait(0.3) and not runner.timed_out  # within its deadline
        skipped[0] = 61.0
        assert runner.wait(5)  # the next tick after the deadline ends it
    final = runner.get_function_statuses()
    assert final["a"].status is T and "60 s timeout while RUNNING" in final["a"].reason
    assert final["b"].status is SK and final["b"].reason == "upstream a is TIMEOUT"
    assert runner.timed_out and backend.cancelled == [runner.invocation]


def test_inactivity_timeout(store, client):
    runner = make_runner(workflow({"a": []}), store, timeout=30, inactivity_timeout=0.4)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")
        assert runner.wait(3)
    state = runner.get_function_statuses()["a"]
    assert state.status is T and "nothing changed in S3 for 0.4 s" in state.reason


def test_ranks_have_their_own_statuses(store, client):
    wf = workflow({"start": ["work(3)"], "work": ["join"], "join": []})
    runner = make_runner(wf, store)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.run("start", invokes=["work(1)", "work(2)", "work(3)"])
        fake.run("work", rank=1, invokes=["join"])
        fake.info("work", "rank 2 starts", rank=2)
        fake.error("work", "The function raised KeyError: 'x'", rank=2)
        fake.done("work", rank=2)
        fake.run("work", rank=3, invokes=["join"])
        wait_status(runner, "join", Status.INVOKED)
        fake.run("join")
        assert runner.wait(5)
    final = runner.get_function_statuses()
    assert list(final) == ["start", "work(1)", "work(2)", "work(3)", "join"]
    assert statuses(runner) == {"start": C, "work(1)": C, "work(2)": F, "work(3)": C, "join": C}
    assert final["join"].invoked_by == ["work(1)", "work(3)"]
    assert final["work(2)"].log_key.endswith("/work(2).txt")


def test_out_of_order_lines_are_all_counted(store, client):
    runner = make_runner(workflow({"a": ["b"], "b": []}), store)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        # Flushes are not in time order: the invoker line and an early ERROR come last.
        fake.log("a", format_log_line(0.9, "INFO", "f.py", "late line first"),
                 format_log_line(0.1, "INFO", "f.py", "early line second"))
        fake.log("a", format_log_line(0.95, "INFO", "f.py", "Local: Successfully invoked: b"),
                 format_log_line(0.05, "ERROR", "f.py", "early error, flushed last"))
        fake.done("a")
        fake.run("b")
        assert runner.wait(5)
    final = runner.get_function_statuses()
    assert final["a"].status is F and final["a"].reason == "early error, flushed last"
    assert final["b"].status is C and final["b"].invoked_by == ["a"]
    assert [line.split("] ")[-1] for line in final["a"].last_lines] == [
        "late line first", "early line second", "Local: Successfully invoked: b", "early error, flushed last"]


def test_unfinished_last_line_counts_once_the_function_finished(store, client):
    runner = make_runner(workflow({"a": []}), store)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.info("a", "Running a")
        fake.log("a", format_log_line(0.2, "ERROR", "f.py", "crashed mid-write"), newline=False)
        fake.done("a")
        assert runner.wait(5)
    state = runner.get_function_statuses()["a"]
    assert state.status is F and state.reason == "crashed mid-write"


def test_streaming_prefixes_each_line_with_its_function(store, client):
    printed = []
    wf = workflow({"start": ["work(2)"], "work": []})
    runner = make_runner(wf, store, stream_logs=True, log_printer=printed.append)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.run("start", invokes=["work"])  # a bare name invokes every rank
        fake.log("work", format_log_line(0.012, "INFO", "f.py", "msg"), rank=2)
        fake.done("work", rank=2)
        fake.run("work", rank=1)
        assert runner.wait(5)
    assert "[work(2)] [0.012] [INFO] [f.py] msg" in printed
    assert "[start] [0.030] [INFO] [f.py] Local: Successfully invoked: work" in printed
    assert len(printed) == len(set(printed)) == 4  # every line once
    assert runner.get_function_statuses()["work(1)"].invoked_by == ["start"]


# -- the poller: requests and bytes ------------------------------------------------------

def test_poller_fetches_only_new_bytes(store, client):
    inv = Invocation(workflow({"a": []}))
    poller = S3Poller(make_client(store, max_attempts=1), store.bucket, inv.layout)
    key = inv.layout.log_key("a")
    put = lambda body: client.put_object(Bucket=store.bucket, Key=key, Body=body)
    info = KeyInfo("log", "a", None)
    body = b"".join(format_log_line(i / 100, "INFO", "f.py", f"line {i:03d}").encode() + b"\n"
                    for i in range(30))
    put(body)

    first = poller.poll()
    assert first.ok and first.new_keys == [info] and len(first.lines) == 30
    assert (poller.requests, poller.bytes_downloaded) == (2, len(body))  # one LIST, one GET

    unchanged = poller.poll()
    assert unchanged.lines == [] and not unchanged.changed
    assert (poller.requests, poller.bytes_downloaded) == (3, len(body))  # LIST only

    grown = body + b"[0.5] [INFO] [f.py] appended\n[0.6] [INFO] [f.py] half"
    put(grown)
    r = poller.poll()
    assert [t for _, t, _ in r.lines] == ["[0.5] [INFO] [f.py] appended"]  # the half line waits
    assert poller.bytes_downloaded == len(grown)  # only the new bytes came down
    assert poller.has_partial(key) and poller.log_is_current(key)

    finished = grown + b"way\n"
    put(finished)
    r = poller.poll()
    assert [t for _, t, _ in r.lines] == ["[0.6] [INFO] [f.py] halfway"]
    assert poller.bytes_downloaded == len(finished) and poller.requests == 7

    # Same size, new content: rewritten, so fetched whole and replayed.
    rewritten = finished.replace(b"line 000", b"LINE 000")
    put(rewritten)
    before = poller.bytes_downloaded
    r = poller.poll()
    assert r.resets == [info] and poller.bytes_downloaded == before + len(rewritten)
    assert len(r.lines) == 32 and all(replayed for _, _, replayed in r.lines[:32])

    shrunk = b"\n".join(rewritten.split(b"\n")[:2]) + b"\n"
    put(shrunk)
    r = poller.poll()
    assert r.resets == [info] and len(r.lines) == 2

    client.put_object(Bucket=store.bucket, Key=inv.layout.done_key("a"), Body=b"True")
    requests = poller.requests
    r = poller.poll()
    assert r.new_keys == [KeyInfo("done", "a", None)] and poller.requests == requests + 1  # never GET a .done


def test_poller_reads_a_running_log_once_it_goes_quiet_or_finishes(store, client):
    """Without streaming, a growing log is not re-read every tick: only once it is quiet
    (two unchanged listings), when its .done is listed, or every log_refresh."""
    inv = Invocation(workflow({"a": []}))
    now = [0.0]
    poller = S3Poller(make_client(store, max_attempts=1), store.bucket, inv.layout,
                      clock=lambda: now[0], log_refresh=10.0, quiet_ticks=2)
    key = inv.layout.log_key("a")
    lines = []

    def grow(text):
        lines.append(format_log_line(now[0], "INFO", "f.py", text))
        client.put_object(Bucket=store.bucket, Key=key, Body=("\n".join(lines) + "\n").encode())

    def tick():
        now[0] += 1.0
        return poller.poll()

    gets = lambda: poller.requests - poller.ticks  # every successful tick made one LIST
    for i in range(5):  # grows on every tick: listed, never read
        grow(f"step {i}")
        r = tick()
        assert r.ok and r.lines == [] and gets() == 0
    assert r.changed and not poller.log_is_current(key)
    tick()  # one unchanged listing: not quiet yet
    assert gets() == 0
    r = tick()  # two: quiet, so read (a hung function's last ERROR line shows this way)
    assert gets() == 1 and [t.rsplit(" ", 1)[-1] for _, t, _ in r.lines] == ["0", "1", "2", "3", "4"]
    for i in range(5, 16):  # growing again past log_refresh: read once, after 10 s
        grow(f"step {i}")
        tick()
    assert gets() == 2
    grow("last words")
    client.put_object(Bucket=store.bucket, Key=inv.layout.done_key("a"), Body=b"True")
    r = tick()  # .done listed: the changed log is read at once
    assert gets() == 3 and r.lines[-1][1].endswith("last words") and poller.log_is_current(key)


def test_poller_survives_an_unreachable_s3_with_backoff(store):
    dead = make_client(type(store)(name="S3", bucket="faasr", endpoint=f"http://127.0.0.1:{free_ports(1)[0]}",
                                   access_key="x", secret_key="y"), max_attempts=1, connect_timeout=0.5)
    poller = S3Poller(dead, "faasr", Invocation(workflow({"a": []})).layout, backoff_base=0.2, backoff_cap=0.5)
    delays = []
    for _ in range(4):
        r = poller.poll()
        assert not r.ok and "Connect" in r.error
        delays.append(round(poller.next_attempt - time.monotonic(), 1))
        assert not poller.due()
    assert delays == [0.2, 0.4, 0.5, 0.5]  # exponential, capped


# -- the state machine without S3 (fan-in rules) -----------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def machine_for(wf, grace=1.0, platform=None):
    clock = Clock()
    inv = Invocation(wf)
    return InvocationStateMachine(wf, inv.layout, grace_period=grace, clock=clock, platform=platform), clock


def feed(machine, action, *messages, rank=None, level="INFO", done=False):
    if not machine.get(action, rank).log_seen:
        machine.observe_key(KeyInfo("log", action, rank))
    for m in messages:
        machine.observe_line(KeyInfo("log", action, rank), format_log_line(0.1, level, "f.py", m))
    if done:
        machine.observe_key(KeyInfo("done", action, rank))


def settle(machine, clock, ticks=2):
    for _ in range(ticks):
        machine.tick_done()
        clock.now += 1.0
    machine.evaluate()
    return {machine.instances[k].label: machine.instances[k].state.status for k in machine.order}


def test_fan_in_waits_until_no_predecessor_can_trigger_it():
    m, clock = machine_for(workflow({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}))
    feed(m, "a", "Local: Successfully invoked: b", "Local: Successfully invoked: c", done=True)
    feed(m, "b", "boom", level="ERROR", done=True)
    feed(m, "c", "still working")
    assert settle(m, clock)["d"] is P  # c may still trigger it: a fan-in runs once, later
    feed(m, "c", done=True)
    assert settle(m, clock)["d"] is SK  # every predecessor finished, none triggered it


def test_fan_in_triggered_by_one_predecessor_is_invoked():
    m, clock = machine_for(workflow({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}))
    feed(m, "a", done=True)
    feed(m, "b", done=True)
    feed(m, "c", "GitHub Action: Successfully invoked: d", done=True)
    assert settle(m, clock)["d"] is Status.INVOKED


FAN_IN = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}


def test_local_fan_in_below_a_failure_is_skipped_on_the_same_evaluation():
    """The local scheduler never starts it: no waiting for settling, grace or deadline."""
    m, clock = machine_for(workflow(FAN_IN), platform="local")
    feed(m, "a", done=True)
    feed(m, "c", "Local: Successfully invoked: d", done=True)
    feed(m, "b", "running")
    m.evaluate()
    assert m.get("d", None).state.status is Status.INVOKED  # b may still succeed
    feed(m, "b", "boom", level="ERROR")
    m.evaluate()
    assert (m.get("d", None).state.status, m.get("d", None).state.reason) == (SK, "upstream b is FAILED")


def test_fan_in_below_a_failure_elsewhere_waits_for_the_platforms_start_grace():
    from faasr_easypy.monitor.platforms import START_GRACE

    m, clock = machine_for(workflow(FAN_IN), platform="faasr-py")
    feed(m, "a", done=True)
    feed(m, "b", "boom", level="ERROR", done=True)
    feed(m, "c", "GitHub Action: Successfully invoked: d", done=True)
    assert settle(m, clock)["d"] is Status.INVOKED  # faasr-py may still run it
    clock.now += START_GRACE["faasr-py"] - 3
    assert settle(m, clock, ticks=1)["d"] is Status.INVOKED
    clock.now += 3
    m.evaluate()
    assert m.get("d", None).state.status is SK
    assert m.get("d", None).state.reason == ("upstream b is FAILED, and it did not start within 20 s of its "
                                             "predecessors ending (faasr-py's start grace)")
    feed(m, "d", "started after all")  # facts beat inferences
    m.evaluate()
    assert m.get("d", None).state.status is Status.RUNNING


def test_not_invoked_waits_for_a_tick_and_the_grace_period():
    m, clock = machine_for(workflow({"a": ["b"], "b": []}), grace=1.0)
    feed(m, "a", done=True)
    m.evaluate()
    assert m.get("b", None).state.status is P  # .done just seen: not re-read yet
    m.tick_done()  # the tick that saw .done
    clock.now += 5
    m.evaluate()
    assert m.get("b", None).state.status is P  # no tick after it yet
    assert settle(m, clock, ticks=1)["b"] is NI


def test_bare_name_of_ranked_action_means_every_rank():
    m, _ = machine_for(workflow({"s": ["w(3)"], "w": []}))
    feed(m, "s", "Lambda: Successfully invoked: w")
    m.evaluate()
    assert [m.get("w", r).state.status for r in (1, 2, 3)] == [Status.INVOKED] * 3
    m2, _ = machine_for(workflow({"s": ["w(3)"], "w": []}))
    feed(m2, "s", "Local: Successfully invoked: w(2)")
    m2.evaluate()
    assert [m2.get("w", r).state.status for r in (1, 2, 3)] == [P, Status.INVOKED, P]


def test_log_rewrite_forgets_old_facts():
    m, _ = machine_for(workflow({"a": ["b"], "b": []}))
    feed(m, "a", "Local: Successfully invoked: b", "oops", level="ERROR")
    m.evaluate()
    assert (m.get("a", None).state.status, m.get("b", None).state.status) == (F, Status.INVOKED)
    m.reset_log(KeyInfo("log", "a", None))
    m.evaluate()
    assert (m.get("a", None).state.status, m.get("b", None).state.status) == (Status.RUNNING, P)


def test_parse_invocation_platform_table():
    assert parse_invocation("GitHub Action: Successfully invoked: next-step") == ("next-step", None)
    assert parse_invocation("Lambda: Successfully invoked: work") == ("work", None)
    assert parse_invocation("OpenWhisk: Succesfully invoked work") == ("work", None)
    assert parse_invocation("Local: Successfully invoked: work(3)") == ("work", 3)
    assert parse_invocation("SLURM: Successfully submitted job: big (Job ID: 42)") == ("big", None)
    assert parse_invocation("GitHub Action: Cannot find the destination") is None
    assert parse_invocation("I successfully invoked nothing") is None
    assert is_final("COMPLETED") and not is_final(Status.RUNNING)


# -- S3 server restart -------------------------------------------------------------------

@pytest.mark.slow
def test_monitor_recovers_from_an_s3_restart_without_false_statuses(tmp_path):
    port = free_ports(1)[0]
    keys = {"access_key": "restartkey", "secret_key": "restartsecret0123456789"}
    server = EmbeddedS3Server(data_dir=tmp_path / "s3", port=port, **keys).start()
    try:
        store = server.data_store("S3")
        history = []
        runner = make_runner(workflow({"a": ["b"], "b": []}), store, history, check_interval=0.1,
                             inactivity_timeout=1.0)
        fake = FakeFaaSr(make_client(store), store.bucket, runner.invocation)
        with runner:
            fake.info("a", "Running a")
            wait_status(runner, "a", Status.RUNNING)
            os.killpg(server.process.pid, signal.SIGKILL)  # a crash: S3 gone at once
            server.stop()
            time.sleep(1.5)  # longer than the inactivity timeout: an outage must not count
            assert runner.monitor.s3_error is not None
            assert statuses(runner) == {"a": Status.RUNNING, "b": P}
            server = EmbeddedS3Server(data_dir=tmp_path / "s3", port=port, **keys).start()
            fake.invoked("a", "b")
            fake.done("a")
            fake.run("b")
            assert runner.wait(20)
        assert statuses(runner) == {"a": C, "b": C}
        assert runner.monitor.s3_error is None
        bad = {Status.FAILED, Status.TIMEOUT, Status.NOT_INVOKED, Status.SKIPPED}
        assert not [h for h in history if h[2] in bad], history
    finally:
        server.stop()


# -- many invocations, one thread --------------------------------------------------------

def monitor_threads():
    return [t for t in threading.enumerate() if t.name.startswith("faasr-monitor")]


def test_multirunner_watches_many_invocations_from_one_thread(store, client):
    wf = workflow({"a": ["b"], "b": []}, name="ManyWF")
    runners = [make_runner(wf, store) for _ in range(12)]
    with MultiRunner(runners, workers=3) as multi:
        for r in runners:
            fake = FakeFaaSr(client, store.bucket, r.invocation)
            fake.run("a", invokes=["b"])
            fake.run("b")
        # One scheduling thread and a fixed set of tick workers, however many invocations.
        assert sorted(t.name for t in monitor_threads()) == [
            "faasr-monitor-multi", *(f"faasr-monitor-multi-worker-{i}" for i in range(3))]
        assert multi.wait(10)
    assert all(statuses(r) == {"a": C, "b": C} for r in runners)
    assert monitor_threads() == []


def test_an_invocation_whose_s3_hangs_does_not_stall_the_others(store, client):
    """One invocation's S3 accepts connections and never answers: its first tick hangs in
    the client, while the healthy invocation beside it is watched to the end."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held = []
    stop = threading.Event()

    def hold():  # accept and keep every connection open, never reply
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    hung_store = DataStore(name="S3", bucket="faasr", endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}",
                           access_key="k", secret_key="s")
    wf = workflow({"a": ["b"], "b": []}, name="HangWF")
    hung = make_runner(wf, hung_store, client=make_client(hung_store, max_attempts=1, read_timeout=60))
    healthy = make_runner(wf, store)
    fake = FakeFaaSr(client, store.bucket, healthy.invocation)
    multi = MultiRunner([hung, healthy], workers=2)
    try:
        multi.start()
        fake.run("a", invokes=["b"])
        fake.run("b")
        assert healthy.wait(30)
        assert statuses(healthy) == {"a": C, "b": C}
        # The hung invocation's first tick is still waiting for an answer.
        assert hung.monitor.tick_count == 0 and hung.monitor in multi.loop._in_flight
        assert held, "the hung invocation never reached its S3"
    finally:
        stop.set()
        for conn in held:
            conn.close()  # the hung request fails at once; its worker comes back
        silent.close()
        multi.close(timeout=10)
    assert monitor_threads() == []


def test_delete_data_deletes_the_invocation_folder(store, client):
    runner = make_runner(workflow({"a": []}), store)
    fake = FakeFaaSr(client, store.bucket, runner.invocation)
    with runner:
        fake.run("a")
        client.put_object(Bucket=store.bucket, Key=f"{runner.invocation_id}/out.txt", Body=b"x")
        assert runner.wait(5)
    assert runner.delete_data(include_outputs=True) == 3
    left = client.list_objects_v2(Bucket=store.bucket, Prefix=runner.layout.prefix)
    assert not left.get("Contents")


def test_sigint_shuts_the_runner_down_gracefully(store):
    backend = RecordingBackend()
    runner = make_runner(workflow({"a": []}), store, backend=backend)
    previous = signal.getsignal(signal.SIGINT)
    runner.start()
    assert runner.install_signal_handlers()
    os.kill(os.getpid(), signal.SIGINT)
    assert runner.wait(2) is False  # stopped, not complete; no KeyboardInterrupt
    assert backend.cancelled == [runner.invocation]
    assert signal.getsignal(signal.SIGINT) is previous
    holder = []
    t = threading.Thread(target=lambda: holder.append(runner.install_signal_handlers()))
    t.start()
    t.join()
    assert holder == [False]


# A plain Python program using a runner (or a tester) in a `with` block; it reports what it
# has left when it exits: threads still alive and whether the invocation was cancelled.
SIGNAL_PROGRAM = """
import atexit, os, sys, threading
from faasr_easypy.backends.base import Backend
from faasr_easypy.runner import WorkflowRunner
from faasr_easypy.s3.client import DataStore
from faasr_easypy.tester import WorkflowTester
from tests.test_monitor import workflow

class Quiet(Backend):
    cancelled = False
    def trigger(self, invocation):
        pass
    def cancel(self, invocation):
        Quiet.cancelled = True

def report():
    alive = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
    print("cancelled", Quiet.cancelled, "threads", alive, flush=True)

atexit.register(report)
store = DataStore(name="S3", bucket=os.environ["T_BUCKET"], endpoint=os.environ["T_ENDPOINT"],
                  region="us-east-1", access_key=os.environ["T_KEY"], secret_key=os.environ["T_SECRET"])
kind = sys.argv[1]
make = WorkflowRunner if kind == "runner" else WorkflowTester
with make(workflow({"a": []}), Quiet(), store, timeout=60, check_interval=0.05) as watched:
    print("watching", flush=True)
    watched.wait(30) if kind == "runner" else watched.wait_all(30)
print("not reached", flush=True)
"""


@pytest.mark.parametrize("kind, signum, exit_code", [
    ("runner", signal.SIGINT, -signal.SIGINT),     # KeyboardInterrupt, as without the runner
    ("runner", signal.SIGTERM, 128 + signal.SIGTERM),
    ("tester", signal.SIGINT, -signal.SIGINT),
    ("tester", signal.SIGTERM, 128 + signal.SIGTERM),
])
def test_a_signal_in_a_with_block_stops_the_run_and_leaves_nothing_running(store, kind, signum, exit_code):
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, T_BUCKET=store.bucket, T_ENDPOINT=store.endpoint,
               T_KEY=store.access_key, T_SECRET=store.secret_key)
    proc = subprocess.Popen([sys.executable, "-c", SIGNAL_PROGRAM, kind], env=env, text=True,
                            cwd=str(Path(__file__).resolve().parent.parent),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "watching"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == exit_code, err
    assert "cancelled True threads []" in out, (out, err)
    assert "not reached" not in out
    assert "stopping the monitor and cancelling invocation" in err


def test_a_with_block_leaves_signals_a_program_handles_itself_alone(store):
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with make_runner(workflow({"a": []}), store) as runner:
            assert signal.getsignal(signal.SIGTERM) is mine
            assert signal.getsignal(signal.SIGINT) == runner._on_signal  # unclaimed: taken
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- the tester and the wording of its assertions ------------------------------------------

def make_tester(wf, store, **kwargs):
    kwargs.setdefault("check_interval", TICK)
    kwargs.setdefault("timeout", 20)
    return WorkflowTester(wf, RecordingBackend(), store, **kwargs)


def test_tester_happy_path_and_s3_keys(store, client):
    wf = workflow({"a": [{"True": ["yes"], "False": ["no"]}], "yes": [], "no": []})
    with make_tester(wf, store) as t:
        fake = FakeFaaSr(client, store.bucket, t.runner.invocation)
        fake.info("a", "hello from a")
        fake.invoked("a", "yes")
        client.put_object(Bucket=store.bucket, Key=f"{t.invocation_id}/out/result.txt", Body=b"42\n")
        fake.done("a")  # a wrote result.txt: the view as of a's .done holds it
        fake.run("yes")
        assert t.wait_for("a").status is C
        t.assert_function_completed("yes")
        t.assert_function_not_invoked("no")
        t.assert_logs_contain("a", "hello from a")
        assert t.get_s3_key("out/result.txt") == f"{t.invocation_id}/out/result.txt"
        assert t.get_s3_key("{InvocationID}/out/result.txt") == f"{t.invocation_id}/out/result.txt"
        t.assert_object_exists("out/result.txt")
        t.assert_content_equals("out/result.txt", "42\n")
        t.assert_object_does_not_exist("out/other.txt")
        assert set(t.wait_all()) == {"a", "yes", "no"}
        with pytest.raises(UserError, match="not an action of workflow MonWF"):
            t.wait_for("nope")


def test_tester_failure_messages_explain_themselves(store, client):
    wf = workflow({"a": ["b"], "b": []})
    with make_tester(wf, store) as t:
        fake = FakeFaaSr(client, store.bucket, t.runner.invocation)
        fake.info("a", "reading input.csv")
        fake.error("a", "The function raised ValueError: boom")
        client.put_object(Bucket=store.bucket, Key=f"{t.invocation_id}/out/result.csv", Body=b"abd")
        fake.done("a")

        with pytest.raises(AssertionError) as exc:
            t.wait_for("a")
        msg = str(exc.value)
        assert msg.startswith("Expected a to be COMPLETED, but a is FAILED: The function raised ValueError: boom")
        assert "Last log lines of a (FaaSrLog/MonWF/" in msg and "[INFO] [f.py] reading input.csv" in msg
        assert "b SKIPPED" in msg

        t.wait_for("a", should_fail=True)
        t.assert_function_skipped("b")
        expected = r"Expected b to be NOT_INVOKED, but b is SKIPPED: upstream a is FAILED"
        with pytest.raises(AssertionError, match=expected):
            t.assert_function_not_invoked("b")

        with pytest.raises(AssertionError) as exc:
            t.assert_object_exists("out/result.txt")
        msg = str(exc.value)
        assert msg.startswith("Expected S3 object 'out/result.txt' in bucket 'faasr' (also looked for")
        assert "Nearest keys in S3 as of a's .done at " in msg and f"s: '{t.invocation_id}/out/result.csv'" in msg
        assert "Last log lines of a" in msg

        with pytest.raises(AssertionError) as exc:
            t.assert_content_equals("out/result.csv", "abc")
        assert ("to hold 3 bytes b'abc', but it holds 3 bytes b'abd' (first difference at byte 2)"
                in str(exc.value))
        with pytest.raises(AssertionError) as exc:  # missing: the same message as assert_object_exists
            t.assert_content_equals("out/result.txt", "42")
        assert str(exc.value).startswith("Expected S3 object 'out/result.txt' in bucket 'faasr' (also looked for")
        assert f"s: '{t.invocation_id}/out/result.csv'" in str(exc.value)
        assert "Nearest keys in S3 as of a's .done at " in str(exc.value)

        with pytest.raises(AssertionError,
                           match=r"not to exist as of a's \.done at [0-9.]+ s, but .*result.csv' exists \(3 bytes\)"):
            t.assert_object_does_not_exist("out/result.csv")

        with pytest.raises(AssertionError, match="Expected the log of a to contain 'no such text'"):
            t.assert_logs_contain("a", "no such text")


def test_tester_reports_a_function_still_running(store, client):
    with make_tester(workflow({"a": []}), store) as t:
        FakeFaaSr(client, store.bucket, t.runner.invocation).info("a", "working")
        with pytest.raises(AssertionError, match=r"Expected a to finish, but after 0.3 s a is still RUNNING"):
            t.wait_for("a", timeout=0.3)


def test_tester_rank_labels(store, client):
    wf = workflow({"s": ["w(2)"], "w": []})
    with make_tester(wf, store) as t:
        fake = FakeFaaSr(client, store.bucket, t.runner.invocation)
        fake.run("s", invokes=["w(1)", "w(2)"])
        fake.run("w", rank=1)
        fake.info("w", "x", rank=2)
        fake.error("w", "rank 2 broke", rank=2)
        t.wait_for("w(1)")
        t.wait_for("w(2)", should_fail=True)
        with pytest.raises(AssertionError, match=r"Expected w to be COMPLETED, but w\(2\) is FAILED: rank 2 broke"):
            t.wait_for("w")
        with pytest.raises(UserError, match="ranks 1..2"):
            t.wait_for("w(3)")


def test_function_times_come_from_log_elapsed_and_the_graph():
    from faasr_easypy.monitor.statuses import FunctionState
    from faasr_easypy.monitor.timeline import reconstruct
    from faasr_easypy.workflow import parse_workflow

    from .workflow_factory import action
    from .workflow_factory import workflow as real_workflow

    wf = parse_workflow(real_workflow({"start": action(nxt=["w(2)"]), "w": action(nxt=["join"]),
                                       "join": action(), }))

    def state(label, seconds, by):
        s = FunctionState(action=label.split("(")[0], rank=None, label=label, started_at=1.0)
        s.log_seconds, s.invoked_by = seconds, by
        return s

    states = {"start": state("start", 0.5, ["harness"]), "w(1)": state("w(1)", 2.0, ["start"]),
              "w(2)": state("w(2)", 1.0, ["start"]), "join": state("join", 0.25, ["w(1)", "w(2)"])}
    times = reconstruct(wf, states, 100.0)
    assert times["start"] == (100.0, 100.5)
    assert times["w(1)"] == (100.5, 102.5) and times["w(2)"] == (100.5, 101.5)
    assert times["join"] == (102.5, 102.75)  # a fan-in starts after its slowest predecessor


# -- the monitor's copy of a finished log -------------------------------------------------

def test_poller_holds_a_log_once_its_done_is_listed_and_every_byte_is_read(store, client):
    inv = Invocation(workflow({"a": []}))
    poller = S3Poller(make_client(store, max_attempts=1), store.bucket, inv.layout)
    key = inv.layout.log_key("a")
    put = lambda body: client.put_object(Bucket=store.bucket, Key=key, Body=body)
    put(b"[0.1] [INFO] [f.py] one\n")
    poller.poll()
    assert poller.held_log(key) is None  # no .done yet: the log may still grow
    body = b"[0.1] [INFO] [f.py] one\n[0.2] [INFO] [f.py] two, no newline"
    put(body)
    client.put_object(Bucket=store.bucket, Key=inv.layout.done_key("a"), Body=b"True")
    poller.poll()
    held = poller.held_log(key)
    assert held == body == client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    put(body + b"\nthree\n")
    poller.objects.update({o.key: o for o in poller._list()})  # listed, not read yet: not given
    assert poller.held_log(key) is None
    poller.poll()
    assert poller.held_log(key) == body + b"\nthree\n"


def test_runner_gives_the_final_log_only_for_backends_that_write_done_last(store, client):
    class DoneLastBackend(RecordingBackend):
        logs_final_at_done = True

    for backend, expect_copy in ((RecordingBackend(), False), (DoneLastBackend(), True)):
        runner = make_runner(workflow({"a": []}), store, backend=backend)
        runner.start()
        try:
            fake = FakeFaaSr(client, store.bucket, runner.invocation)
            fake.run("a")
            assert runner.wait(timeout=10)
            key = runner.layout.log_key("a")
            final = runner.final_log(key)
            if expect_copy:
                assert final == client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
            else:
                assert final is None
        finally:
            runner.close()
