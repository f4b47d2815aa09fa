"""The reporter's one-worker executor behaves as ThreadPoolExecutor(max_workers=1) does there."""

import concurrent.futures
import threading
import time

import pytest

from faasr_easypy.easypy import reporter_worker
from faasr_easypy.easypy.reporter_worker import OneWorkerExecutor

from .processes import answer_from_fork


def test_each_message_runs_on_the_same_long_lived_thread():
    names = set()
    for i in range(20):
        with OneWorkerExecutor(max_workers=1) as executor:
            future = executor.submit(lambda x: (names.add(threading.current_thread().ident), x * 2)[1], i)
            assert future.result(timeout=5) == i * 2
    assert len(names) == 1


def test_a_result_timeout_raises_and_shutdown_waits_for_the_handler():
    release = threading.Event()
    executor = OneWorkerExecutor(max_workers=1)
    future = executor.submit(release.wait, 5)
    with pytest.raises(concurrent.futures.TimeoutError):
        future.result(timeout=0.05)
    threading.Timer(0.2, release.set).start()
    started = time.monotonic()
    executor.shutdown(wait=True)  # like ThreadPoolExecutor: waits for what it was given
    assert future.done() and time.monotonic() - started >= 0.15
    with pytest.raises(RuntimeError):
        executor.submit(print)


def test_exceptions_reach_the_caller():
    with OneWorkerExecutor(max_workers=1) as executor:
        future = executor.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            future.result(timeout=5)


def test_other_uses_get_a_real_thread_pool():
    executor = OneWorkerExecutor(max_workers=4)
    assert type(executor) is concurrent.futures.ThreadPoolExecutor
    executor.shutdown()


def test_a_forked_child_starts_its_own_worker():
    with OneWorkerExecutor(max_workers=1) as executor:
        executor.submit(int).result(timeout=5)
    def child():
        with OneWorkerExecutor(max_workers=1) as executor:
            return b"ok" if executor.submit(lambda: 42).result(timeout=5) == 42 else b"wrong"

    assert answer_from_fork(child) == b"ok"


def test_install_replaces_the_executor_of_pyats_reporter_server_only():
    import pyats.reporter.server as server

    before = server.ThreadPoolExecutor
    try:
        assert reporter_worker.install()
        assert server.ThreadPoolExecutor is OneWorkerExecutor
        assert reporter_worker.install()  # idempotent
        assert concurrent.futures.ThreadPoolExecutor is not OneWorkerExecutor
    finally:
        server.ThreadPoolExecutor = before


def test_the_plugin_installs_it_for_faasr_jobfiles_only(tmp_path):
    from faasr_easypy.easypy.plugin import _is_faasr_run

    faasr_job = tmp_path / "faasr_job.py"
    faasr_job.write_text("from faasr_easypy.easypy import run_workflow\n\ndef main(runtime):\n    pass\n")
    other_job = tmp_path / "other_job.py"
    other_job.write_text("def main(runtime):\n    pass\n")
    assert _is_faasr_run(["pyats", "run", "job", str(faasr_job)])
    assert not _is_faasr_run(["pyats", "run", "job", str(other_job)])
    assert _is_faasr_run(["/venv/bin/easypy", str(faasr_job)])
    # pytest importing the plugin with a test file that mentions faasr_easypy patches nothing
    assert not _is_faasr_run(["/venv/bin/pytest", str(faasr_job)])
