"""reporter_wait: pyATS's reporter start/stop sleeps end once what they wait for holds."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from faasr_easypy.easypy import reporter_wait

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """time.sleep/time.monotonic of the real module, replaced: sleeps are recorded, not slept."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(reporter_wait.time, "sleep", fake.sleep)
    monkeypatch.setattr(reporter_wait.time, "monotonic", fake.monotonic)
    return fake


def _awaiting(condition):
    key = (os.getpid(), threading.get_ident())
    reporter_wait._until[key] = condition
    return key


def test_sleep_without_an_awaited_condition_is_the_real_sleep(clock):
    reporter_wait.WakingTime().sleep(1)
    assert clock.slept == [1]


def test_sleep_ends_once_the_condition_holds(clock):
    checks = []

    def condition():
        checks.append(clock.now)
        return len(checks) > 3

    key = _awaiting(condition)
    try:
        reporter_wait.WakingTime().sleep(1)
    finally:
        reporter_wait._until.pop(key)
    assert clock.slept == [reporter_wait.TICK] * 3 and len(checks) == 4


def test_sleep_never_sleeps_longer_than_asked(clock):
    key = _awaiting(lambda: False)
    try:
        reporter_wait.WakingTime().sleep(0.025)
    finally:
        reporter_wait._until.pop(key)
    assert sum(clock.slept) == pytest.approx(0.025) and max(clock.slept) <= reporter_wait.TICK


def test_a_failing_condition_means_the_full_sleep(clock):
    def broken():
        raise AssertionError("can only test a child process")

    key = _awaiting(broken)
    try:
        reporter_wait.WakingTime().sleep(0.5)
    finally:
        reporter_wait._until.pop(key)
    assert sum(clock.slept) == pytest.approx(0.5)


def test_other_threads_sleep_as_asked(clock):
    key = _awaiting(lambda: True)
    try:
        worker = threading.Thread(target=reporter_wait.WakingTime().sleep, args=(0.3,))
        worker.start()
        worker.join()
    finally:
        reporter_wait._until.pop(key)
    assert clock.slept == [0.3]


def test_every_other_time_function_is_the_real_one():
    import time

    shim = reporter_wait.WakingTime()
    assert shim.time is time.time and shim.strftime is time.strftime and shim.monotonic is time.monotonic


def test_listening_tells_a_listening_socket_from_a_bound_one(tmp_path):
    bound, served = tmp_path / "bound.sock", tmp_path / "served.sock"
    with socket.socket(socket.AF_UNIX) as a, socket.socket(socket.AF_UNIX) as b:
        a.bind(str(bound))
        b.bind(str(served))
        b.listen(1)
        assert not reporter_wait.listening(str(bound))
        assert reporter_wait.listening(str(served))
    assert not reporter_wait.listening(str(tmp_path / "missing.sock")) and not reporter_wait.listening("")


def _fresh(code):
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


RECORD_SLEEPS = (
    "import json, socket, tempfile, time, types\n"
    "from pyats.reporter import server\n"
    "{install}\n"
    "slept = []\n"
    "inner = server.time\n"
    "class Recorder(types.ModuleType):\n"
    "    def __getattr__(self, name): return getattr(inner, name)\n"
    "    def sleep(self, seconds): slept.append(seconds); inner.sleep(seconds)\n"
    "server.time = Recorder('time')\n"
    "srv = server.ReportServer(tempfile.mkdtemp())\n"
    "srv.start_server()\n"
    "started, slept[:] = list(slept), []\n"
    "with socket.socket(socket.AF_UNIX) as s:\n"
    "    s.connect(srv._socketpath)\n"
    "srv.stop_server()\n"
    "print(json.dumps({{'start': started, 'stop': slept, 'exitcode': srv._server_proc.exitcode}}))\n"
)


def test_pyats_reporter_server_sleeps_the_way_assumed():
    """Canary: unpatched, start_server sleeps 1 s after forking and stop_server polls every 0.5 s."""
    found = _fresh(RECORD_SLEEPS.format(install=""))
    assert found["start"] == [1] and found["stop"] and set(found["stop"]) == {0.5}
    assert found["exitcode"] is not None


def test_patched_server_starts_listening_and_stops_with_its_process_gone():
    """With the patch: pyATS asks for the same sleeps, the socket accepts a client right after
    start_server, and stop_server returns with the reporter process reaped."""
    found = _fresh(RECORD_SLEEPS.format(
        install="from faasr_easypy.easypy import reporter_wait\n"
                "assert reporter_wait.premise() is None and reporter_wait.install()\n"))
    assert found["start"] == [1] and set(found["stop"]) <= {0.5}
    assert found["exitcode"] is not None


def test_install_is_idempotent_and_wraps_only_start_and_stop():
    found = _fresh(
        "import json\n"
        "from pyats.reporter import server\n"
        "from faasr_easypy.easypy import reporter_wait as w\n"
        "before = dict(vars(server.ReportServer))\n"
        "w.install(); first = server.ReportServer.start_server\n"
        "w.install()\n"
        "changed = sorted(n for n, v in before.items() if vars(server.ReportServer)[n] is not v)\n"
        "print(json.dumps({'changed': changed, 'same': server.ReportServer.start_server is first,\n"
        "                  'shim': isinstance(server.time, w.WakingTime), 'premise': w.premise()}))\n")
    assert found == {"changed": ["start_server", "stop_server"], "same": True, "shim": True, "premise": None}


COUNTER = (
    "import json, queue, tempfile, time\n"
    "from pyats.reporter import server\n"
    "{install}\n"
    "waits = []\n"
    "log = tempfile.NamedTemporaryFile('w', delete=False)\n"
    "log.write('a\\nb\\n'); log.flush()\n"
    "counter = server.LogLineCounter(log.name)\n"
    "inner = counter.queue.get\n"
    "def get(block=True, timeout=None):\n"
    "    waits.append(timeout); return inner(block, timeout)\n"
    "counter.queue.get = get\n"
    "time.sleep(1.5)  # the thread's first wait began in __init__, before either patch\n"
    "counter.close(); counter.join()\n"
    "counter.counting_thread.join(30)\n"
    "print(json.dumps({{'alive': counter.counting_thread.is_alive(), 'waits': waits,\n"
    "                  'queue': isinstance(counter.queue, queue.Queue)}}))\n"
)


def test_pyats_log_line_counter_waits_on_its_queue_the_way_assumed():
    """Canary: the counter's thread asks its queue for get(True, 1), and again only after that
    second has passed (it was asked twice in 1.5 s: once before the recorder, once after)."""
    found = _fresh(COUNTER.format(install=""))
    assert found == {"alive": False, "waits": [1], "queue": True}


def test_patched_log_line_counter_waits_in_short_steps():
    found = _fresh(COUNTER.format(install="from faasr_easypy.easypy import reporter_wait\n"
                                          "reporter_wait.install()\n"))
    waits = found.pop("waits")
    assert found == {"alive": False, "queue": True}
    assert len(waits) > 1 and set(waits) == {1}  # pyATS asks the same, but each ends after 50 ms


def test_capped_get_returns_items_and_raises_empty_sooner():
    import queue

    waits = []
    q = queue.Queue()

    def get(block=True, timeout=None):
        waits.append((block, timeout))
        return queue.Queue.get(q, block, timeout)

    capped = reporter_wait._capped(get)
    q.put("x")
    assert capped(True, 1) == "x"
    with pytest.raises(queue.Empty):
        capped(True, 1)
    with pytest.raises(queue.Empty):
        capped(False)
    assert waits == [(True, reporter_wait.COUNTER_WAIT)] * 2 + [(False, None)]  # ... and waits 50 ms at most
