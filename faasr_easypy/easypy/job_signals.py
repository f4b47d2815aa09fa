"""Ctrl-C and SIGTERM in the job process: stop starting tasks, pass the signal to the running ones."""

import logging
import os
import signal
import threading

log = logging.getLogger(__name__)


class JobSignals:
    """JobContext's signal handling (a mixin)."""

    def install_sigint_handler(self):
        """Job process: on the first Ctrl-C stop starting tasks and pass it to the running
        ones (so `kill -INT <job>` acts like Ctrl-C at the terminal); then let pyATS's own
        handler decide (its second Ctrl-C aborts the job). SIGTERM is handled the same way
        (see _install_sigterm_handler)."""
        if os.getpid() != self.owner_pid or threading.current_thread() is not threading.main_thread():
            return
        current = signal.getsignal(signal.SIGINT)
        if current is self._sigint_handler and current is not None:
            self._install_sigterm_handler()
            return
        previous = current

        def on_sigint(signum, frame):
            first = not self.interrupted
            self.interrupted = True
            if first:
                self.interrupted_by = self.interrupted_by or "Ctrl-C"
                log.warning("faasr-easypy: %s: stopping the running workflow tasks, starting no new "
                            "ones (Ctrl-C again aborts the job)", self.interrupted_by)
                for task in list(self.running):
                    try:
                        if task.is_alive():
                            os.kill(task.pid, signal.SIGINT)
                    except (OSError, ValueError, AssertionError):
                        pass
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt

        self._sigint_handler = on_sigint
        try:
            signal.signal(signal.SIGINT, on_sigint)
        except ValueError:
            pass
        self._install_sigterm_handler()

    def _install_sigterm_handler(self):
        """pyATS leaves SIGTERM at its default: the job process died at once, its tasks and
        their fork servers ran on as orphans, and no archive was written. SIGTERM now goes the
        Ctrl-C way: tasks stop, verdicts, archive and report are written, the S3 server stops."""
        if signal.getsignal(signal.SIGTERM) is self._sigterm_handler and self._sigterm_handler is not None:
            return

        def on_sigterm(signum, frame):
            if os.getpid() != self.owner_pid:
                # A forked task inherited this handler: there SIGTERM keeps its meaning (pyATS
                # terminates a task that overran its max_runtime with it).
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self.interrupted_by = self.interrupted_by or "SIGTERM"
            handler = self._sigint_handler
            if handler is not None:
                handler(signal.SIGINT, frame)

        self._sigterm_handler = on_sigterm
        try:
            signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:
            pass
