"""The live status of every task, in the job's runtime.synchro dict."""

import logging
import os
import threading
import time

log = logging.getLogger(__name__)


class SharedStatuses:
    """JobContext's status entries (a mixin)."""

    def publish(self, taskid, **changes):
        """Update the shared status entry of `taskid` (reassigned whole: nested dicts don't sync).

        A running task is the only writer of its own entry, so in a task the entry is
        read from the manager once and then kept here: one round trip per change, not
        two. The job process always reads it first (the task may have changed it)."""
        in_task = os.getpid() != self.owner_pid
        try:
            with self._publish_lock():
                entry = self._entries.get(taskid) if in_task else None
                if entry is None:
                    entry = dict(self.statuses.get(taskid) or {})
                entry.update(changes)
                entry["updated"] = time.time()
                self.statuses[taskid] = entry
                if in_task:
                    self._entries[taskid] = entry
        except Exception as exc:  # the manager is gone (job ending): statuses are best effort
            log.debug("could not publish status of %s: %s", taskid, exc)

    def _publish_lock(self):
        # One lock and one entry cache per process: a task's monitor thread and its
        # testscript publish concurrently, and a fork must not inherit a held lock.
        if self._entries_pid != os.getpid():
            self._entries_pid = os.getpid()
            self._entries = {}
            self._entries_lock = threading.Lock()
        return self._entries_lock

    def snapshot(self):
        # copy() is one round trip to the manager; dict(proxy) would be one per entry,
        # which made starting the n-th task cost n round trips.
        try:
            entries = self.statuses.copy()
            return {k: dict(v) for k, v in entries.items()}
        except Exception:
            return {}

    def entry(self, taskid):
        """The status entry of one task ({} if none), in one round trip."""
        try:
            return dict(self.statuses.get(taskid) or {})
        except Exception:
            return {}

    def known(self, taskid):
        """Whether `taskid` has a status entry (one round trip, not a snapshot)."""
        try:
            return taskid in self.statuses
        except Exception:
            return False
