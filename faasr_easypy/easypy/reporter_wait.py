"""pyATS's reporter server waits on fixed sleeps in the job process.

``ReportServer.start_server`` forks the reporter process and sleeps 1 s before it
looks for the reporter's socket (listening ~0.1 s after the fork), and
``stop_server`` polls the stopped process every 0.5 s (it exits ~0.1 s after being
told): about 1.5 s of every job, a third of a one-workflow job. :func:`install`
gives ``pyats.reporter.server`` a ``time`` whose ``sleep()``, while one of those two
methods runs, ends as soon as what it waits for holds (the socket listens; the
process has exited), checking every 10 ms, and never sleeps longer than asked.
pyATS's own checks after the sleep then run as before. Everywhere else (other
threads, the forked reporter process, every other ``time`` function) it is the
real ``time`` module.

The reporter process itself took up to 1 s more to exit: each log file's
``LogLineCounter`` thread (not a daemon) waits on its queue with ``get(True, 1)``
and only then sees that it was closed. Its queue's blocking ``get`` now waits at
most 50 ms at a time; on an empty queue the loop looks at its closed flag and
waits again, as it did after 1 s.
"""

import functools
import logging
import os
import queue
import threading
import time
import types

log = logging.getLogger(__name__)

SERVER_MODULE = "pyats.reporter.server"
PROC_NET_UNIX = "/proc/net/unix"
TICK = 0.01            # seconds between checks of the awaited condition
COUNTER_WAIT = 0.05    # longest wait of a LogLineCounter's queue.get (pyATS: 1 s)
_LISTENING = 0x10000   # __SO_ACCEPTCON in /proc/net/unix's Flags: the socket listen()s

_until = {}  # (pid, thread id) -> the condition the current start/stop_server call awaits


def listening(path, table=PROC_NET_UNIX):
    """True when a Unix socket bound to `path` listens (Linux's /proc/net/unix)."""
    if not path:
        return False
    with open(table, encoding="utf-8", errors="replace") as fh:
        next(fh, None)  # header
        for line in fh:
            fields = line.rstrip("\n").split(None, 7)
            if len(fields) == 8 and fields[7] == path and int(fields[3], 16) & _LISTENING:
                return True
    return False


def _holds(condition):
    try:
        return bool(condition())
    except Exception:  # cannot tell: sleep as pyATS asked
        return False


class WakingTime(types.ModuleType):
    """The ``time`` module, with a sleep() that ends once the caller's awaited condition holds."""

    def __init__(self):
        super().__init__("time", time.__doc__)

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        condition = _until.get((os.getpid(), threading.get_ident()))
        if condition is None or not seconds or seconds <= 0:
            return time.sleep(seconds)
        deadline = time.monotonic() + seconds
        while not _holds(condition):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(TICK, left))
        return None


def _server_listens(server):
    return lambda: listening(server._socketpath)


def _server_exited(server):
    proc = server._server_proc
    return lambda: proc is not None and proc.exitcode is not None


def _awaiting(method, condition_of):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        key = (os.getpid(), threading.get_ident())  # a child forked meanwhile has another pid
        _until[key] = condition_of(self)
        try:
            return method(self, *args, **kwargs)
        finally:
            _until.pop(key, None)

    wrapper.faasr_easypy_awaits = True
    return wrapper


def _capped(get):
    def capped_get(block=True, timeout=None):
        if block and (timeout is None or timeout > COUNTER_WAIT):
            if timeout is None:
                while True:  # get() without a timeout: the same, in short waits
                    try:
                        return get(True, COUNTER_WAIT)
                    except queue.Empty:
                        continue
            return get(True, COUNTER_WAIT)  # Empty sooner: the loop looks at its flag again
        return get(block, timeout)

    capped_get.faasr_easypy_awaits = True
    return capped_get


def _waking_counter(init):
    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        waiting = getattr(self, "queue", None)
        if isinstance(waiting, queue.Queue) and not getattr(waiting.get, "faasr_easypy_awaits", False):
            waiting.get = _capped(waiting.get)

    wrapper.faasr_easypy_awaits = True
    return wrapper


def premise():
    """None when the patch applies here, else why not."""
    try:
        import importlib

        server = importlib.import_module(SERVER_MODULE)
    except Exception as exc:
        return f"{SERVER_MODULE} cannot be imported ({exc})"
    if getattr(server, "time", None) not in (time,) and not isinstance(getattr(server, "time", None), WakingTime):
        return f"{SERVER_MODULE}.time is not the time module"
    cls = getattr(server, "ReportServer", None)
    for name in ("start_server", "stop_server"):
        if not callable(getattr(cls, name, None)):
            return f"{SERVER_MODULE}.ReportServer.{name} does not exist"
    if not isinstance(getattr(cls, "_socketpath", None), property):
        return f"{SERVER_MODULE}.ReportServer._socketpath is not a property"
    if not callable(getattr(getattr(server, "LogLineCounter", None), "_counting_loop", None)):
        return f"{SERVER_MODULE}.LogLineCounter._counting_loop does not exist"
    if getattr(server, "queue", None) is not queue:
        return f"{SERVER_MODULE} no longer uses the queue module"
    try:
        listening("/")
    except OSError as exc:
        return f"{PROC_NET_UNIX} cannot be read ({exc.strerror or exc})"
    return None


def install():
    """Patch pyats.reporter.server (idempotent); True when installed."""
    import importlib

    server = importlib.import_module(SERVER_MODULE)
    cls = server.ReportServer
    if not isinstance(server.time, WakingTime):
        server.time = WakingTime()
    if not getattr(cls.start_server, "faasr_easypy_awaits", False):
        cls.start_server = _awaiting(cls.start_server, _server_listens)
    if not getattr(cls.stop_server, "faasr_easypy_awaits", False):
        cls.stop_server = _awaiting(cls.stop_server, _server_exited)
    counter = server.LogLineCounter
    if not getattr(counter.__init__, "faasr_easypy_awaits", False):
        counter.__init__ = _waking_counter(counter.__init__)
    return True
