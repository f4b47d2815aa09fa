"""Read one invocation folder from S3, cheaply, once per tick.

Per tick: ONE paginated list_objects_v2 over the folder. A log is fetched
only when its listed size or ETag differs from what we already hold, and then
only its new bytes (`Range: bytes=<held>-`): FaaSr logs only ever grow. If a
log shrank, or its ETag changed without it growing, it was rewritten: fetch it
whole and, if what we held is still its beginning, keep going from there;
otherwise report a reset so its facts are rebuilt.

S3 errors never escape: the tick reports them and the next attempt is
delayed with capped exponential backoff. A tick is bounded in time: the
client has short timeouts and log downloads stop when the tick's budget is
spent (the rest are fetched next tick; they still differ from the listing).
"""

import hashlib
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..layout import KeyInfo

# How much of each log a stream keeps, so a finished log need not be downloaded again.
HELD_LIMIT = 1 << 20
# Log GETs in flight at once, per tick (the monitor client's connection pool holds 10).
FETCH_PARALLEL = 8


@dataclass
class ListedObject:
    key: str
    size: int
    etag: str
    info: KeyInfo


@dataclass
class PollResult:
    """What one tick saw. `lines` are complete physical log lines in arrival order."""

    ok: bool
    error: str | None = None
    changed: bool = False                               # any key new, grown or rewritten
    new_keys: list[KeyInfo] = field(default_factory=list)
    lines: list[tuple[KeyInfo, str, bool]] = field(default_factory=list)  # (log, line, replayed)
    resets: list[KeyInfo] = field(default_factory=list)  # logs rewritten: forget their old lines
    seconds: float = 0.0


class LogStream:
    """The part of one log we have read: byte count, ETag, and the unfinished last line."""

    def __init__(self):
        self.length = 0          # bytes consumed, including the buffered partial line
        self.etag = None
        self.partial = b""       # bytes after the last newline; completed by a later fetch
        self.lines_emitted = 0
        self.held = b""          # every byte consumed, while at most HELD_LIMIT (else None)
        self._replay_until = 0   # after a reset, lines below this index were shown before
        self._digest = hashlib.sha1()

    def feed(self, data):
        """Append `data`; return the complete lines it finishes, as (text, replayed)."""
        self.length += len(data)
        self._digest.update(data)
        if self.held is not None:
            self.held = self.held + data if len(self.held) + len(data) <= HELD_LIMIT else None
        buf = self.partial + data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.partial = buf
            return []
        self.partial = buf[cut + 1:]
        return self._emit(buf[:cut].split(b"\n"))

    def flush_partial(self):
        """Treat the buffered unfinished line as complete (its writer has finished)."""
        if not self.partial:
            return []
        data, self.partial = self.partial, b""
        return self._emit([data])

    def holds_prefix_of(self, data):
        """True when the bytes we consumed are exactly the beginning of `data`."""
        return len(data) >= self.length and hashlib.sha1(data[:self.length]).digest() == self._digest.digest()

    def reset(self):
        shown = self.lines_emitted
        self.__init__()
        self._replay_until = shown

    def _emit(self, raw_lines):
        out = []
        for raw in raw_lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            out.append((text, self.lines_emitted < self._replay_until))
            self.lines_emitted += 1
        return out


def _s3_errors():
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    return (BotoCoreError, ClientError, HTTPError, OSError)


class S3Poller:
    """Ticks over one invocation folder; counts its requests and downloaded bytes."""

    def __init__(self, client, bucket, layout, tick_budget=2.0, backoff_base=0.5, backoff_cap=30.0,
                 clock=time.monotonic, log_refresh=0.0, quiet_ticks=2):
        self.client = client
        # Statuses need a log's final lines, not every flush. So with log_refresh set, a
        # finished function's log (its .done is listed) is read at once, a running one's
        # only once it has gone quiet (unchanged over `quiet_ticks` listings: a killed or
        # hung function's last ERROR line shows without a .done) or, while it keeps
        # growing, every log_refresh. log_refresh=0 reads every change (log streaming).
        self.log_refresh = log_refresh
        self.quiet_ticks = quiet_ticks
        self._fetched_at = {}  # log key -> clock of its last fetch
        self._quiet = {}       # log key -> consecutive listings with the same size and ETag
        self.bucket = bucket
        self.layout = layout
        self._count_lock = threading.Lock()  # the counters below are bumped from the fetch pool
        self.tick_budget = tick_budget
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.clock = clock
        self.objects: dict[str, ListedObject] = {}
        self.streams: dict[str, LogStream] = {}
        # Counters the benchmarks read.
        self.requests = 0
        self.bytes_downloaded = 0
        self.ticks = 0            # successful ticks
        self.failures = 0         # consecutive failed ticks
        self.last_error = None
        self.next_attempt = 0.0   # monotonic time before which poll() does nothing

    # -- the tick ------------------------------------------------------------------
    def due(self, now=None):
        return (self.clock() if now is None else now) >= self.next_attempt

    def poll(self):
        """One tick. Never raises for S3 trouble: returns PollResult(ok=False, error=...)."""
        started = self.clock()
        result = PollResult(ok=True)
        try:
            listing = self._list()
            for obj in listing:
                prev = self.objects.get(obj.key)
                same = prev is not None and prev.size == obj.size and prev.etag == obj.etag
                if not same:
                    result.changed = True
                    if prev is None:
                        result.new_keys.append(obj.info)
                self._quiet[obj.key] = self._quiet.get(obj.key, 0) + 1 if same else 0
                # A key missing from one listing is not a fact (an S3 server restarting
                # may list partially): we never forget keys.
                self.objects[obj.key] = obj
            done = {(o.info.action, o.info.rank) for o in listing if o.info.kind == "done"}
            # Logs not yet due stay different from the listing: fetched on a later tick.
            due = (obj for obj in listing if obj.info.kind == "log" and not self.log_is_current(obj.key)
                   and self._fetch_due(obj, done, started))
            while self.clock() - started <= self.tick_budget:  # the rest is fetched next tick
                batch = list(itertools.islice(due, FETCH_PARALLEL))
                if not batch:
                    break
                for obj in batch:
                    self._fetched_at[obj.key] = started
                # A few GETs at once: 1,000 logs finishing within seconds were read one by one
                # at S3's latency under load (10 ms each), far behind the functions.
                for obj, got in zip(batch, _fetch_pool().map(self._download, batch), strict=True):
                    self._take_log(obj, *got, result)
        except _s3_errors() as exc:  # all mean "S3 not usable now"; anything else is a bug
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            delay = min(self.backoff_cap, self.backoff_base * (2 ** (self.failures - 1)))
            self.next_attempt = self.clock() + delay
            result.ok, result.error = False, self.last_error
        else:
            self.failures = 0
            self.last_error = None
            self.next_attempt = 0.0
            self.ticks += 1
        result.seconds = self.clock() - started
        return result

    def _fetch_due(self, obj, done, now):
        if not self.log_refresh or (obj.info.action, obj.info.rank) in done:
            return True
        if self._quiet.get(obj.key, 0) >= self.quiet_ticks:
            return True
        # RUNNING needs only the key; a log that keeps growing is read every log_refresh.
        last = self._fetched_at.setdefault(obj.key, now)
        return now - last >= self.log_refresh

    def log_is_current(self, key):
        """True when we hold every listed byte of log `key` (a partial line counts as held)."""
        obj, stream = self.objects.get(key), self.streams.get(key)
        if obj is None:
            return True
        return stream is not None and stream.length == obj.size and stream.etag == obj.etag

    def held_log(self, key):
        """The whole body of log `key` as read, when its `.done` is listed and we hold every
        byte of the listed log (same size and ETag); else None (ask S3)."""
        obj, stream = self.objects.get(key), self.streams.get(key)
        if obj is None or stream is None:
            return None
        data, etag = stream.held, stream.etag  # in this order: a concurrent feed() gives a mismatch
        if data is None or len(data) != obj.size or etag != obj.etag:
            return None
        instance = (obj.info.action, obj.info.rank)
        if not any(o.info.kind == "done" and (o.info.action, o.info.rank) == instance
                   for o in list(self.objects.values())):
            return None
        return data

    def flush_partial(self, key):
        """Complete lines of log `key` whose writer finished without a final newline."""
        stream = self.streams.get(key)
        if stream is None:
            return []
        info = self.objects[key].info
        return [(info, text, replayed) for text, replayed in stream.flush_partial()]

    def partial_keys(self):
        return [key for key, stream in self.streams.items() if stream.partial]

    def has_partial(self, key):
        stream = self.streams.get(key)
        return bool(stream and stream.partial)

    # -- S3 requests ---------------------------------------------------------------
    def _list(self):
        out, token = [], None
        while True:
            kwargs = {"Bucket": self.bucket, "Prefix": self.layout.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            self.requests += 1
            page = self.client.list_objects_v2(**kwargs)
            for item in page.get("Contents", ()):
                info = self.layout.classify(item["Key"])
                if info is not None:
                    out.append(ListedObject(item["Key"], int(item.get("Size", 0)), item.get("ETag", ""), info))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return out

    def _get(self, key, start=0):
        kwargs = {"Bucket": self.bucket, "Key": key}
        if start:
            kwargs["Range"] = f"bytes={start}-"
        with self._count_lock:
            self.requests += 1
        response = self.client.get_object(**kwargs)
        data = response["Body"].read()
        with self._count_lock:
            self.bytes_downloaded += len(data)
        return data, response.get("ETag", "")

    def _download(self, obj):
        """(data, etag, whole) of log `obj`: its new bytes when it grew, else all of it.
        Reads the stream's state only (runs on the fetch pool; _take_log applies it)."""
        from botocore.exceptions import ClientError

        stream = self.streams.get(obj.key)
        held = stream.length if stream is not None else 0
        if held and obj.size > held:
            try:
                return (*self._get(obj.key, start=held), False)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                # shrank between the listing and the GET: read it whole
        return (*self._get(obj.key), True)

    def _take_log(self, obj, data, etag, whole, result):
        stream = self.streams.setdefault(obj.key, LogStream())
        if not whole:
            stream.etag = etag
            self._add_lines(result, obj.info, stream.feed(data))
            return
        if stream.length and not stream.holds_prefix_of(data):
            stream.reset()
            result.resets.append(obj.info)
            lines = stream.feed(data)
        else:
            lines = stream.feed(data[stream.length:])
        stream.etag = etag
        self._add_lines(result, obj.info, lines)

    @staticmethod
    def _add_lines(result, info, lines):
        result.lines.extend((info, text, replayed) for text, replayed in lines)


_pool = None  # (pid, ThreadPoolExecutor): one per process, shared by every poller in it
_pool_lock = threading.Lock()


def _fetch_pool():
    """The process's log-fetch threads. A forked child (a pyATS task) has none of its
    parent's threads, so it makes its own instead of waiting on dead ones."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(FETCH_PARALLEL, thread_name_prefix="faasr-log-fetch"))
        return _pool[1]
