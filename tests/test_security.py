"""Nothing the harness starts is reachable from outside, and functions stay in their sandbox."""

import http.client
import os
import socket
import ssl
import stat
import time

import pytest

from faasr_easypy.s3.server import EmbeddedS3Server
from faasr_easypy.workflow import parse_workflow

from .processes import descendants
from .test_local_backend import Run, write_functions
from .workflow_factory import action, workflow

pytestmark = pytest.mark.reliability


def listening_addresses(pids):
    """(ip, port) of every TCP socket in LISTEN state owned by `pids`."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A = LISTEN
                    addr, port = local.split(":")
                    found.append((_ip(addr), int(port, 16)))
    return found


def _ip(hexaddr):
    if len(hexaddr) == 8:
        return ".".join(str(int(hexaddr[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return "::1" if hexaddr == "00000000000000000000000001000000" else hexaddr


def test_embedded_s3_server_listens_on_loopback_only():
    with EmbeddedS3Server() as server:
        pids = [server.process.pid] + descendants(server.process.pid)
        addresses = listening_addresses(pids)
    assert len(addresses) >= 4, addresses  # master, volume, filer, s3 at least
    assert all(ip in ("127.0.0.1", "::1") for ip, _ in addresses), addresses


# Unsigned requests a local process could send to read, forge or delete objects (`.done`
# markers flip verdicts) through any of weed's HTTP APIs: filer, volume, master, admin, S3.
UNSIGNED = [("PUT", "/buckets/faasr/forged.done"), ("PUT", "/faasr/forged.done"),
            ("POST", "/buckets/faasr/forged.done"), ("GET", "/buckets/faasr/"),
            ("GET", "/buckets/faasr/victim.txt"), ("GET", "/faasr/victim.txt"), ("GET", "/faasr?list-type=2"),
            ("GET", "/"), ("DELETE", "/buckets/faasr/victim.txt"), ("DELETE", "/faasr/victim.txt"),
            ("GET", "/dir/assign"), ("POST", "/dir/assign"), ("POST", "/submit"), ("GET", "/dir/lookup?volumeId=1"),
            ("GET", "/1,01"), ("DELETE", "/1,01"), ("GET", "/cluster/status"),
            # the admin server's own endpoints: it cannot be switched off (see test below)
            ("GET", "/health"), ("GET", "/metrics"), ("PUT", "/metrics"), ("POST", "/health")]
# What still answers an unsigned request: the admin server's HTTP port, which no flag of weed mini
# turns off or binds away (-admin.port=0 picks a random port, a port held elsewhere makes weed
# refuse to start, -admin.password does not cover these two); read-only, no object, no key.
ADMIN_OPEN = {("GET", "/health"), ("GET", "/metrics")}


def _unsigned(port, method, path):
    """HTTP status of an unsigned request, or None when the port does not speak HTTP/1.1 (gRPC)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(method, path, body=b"forged" if method in ("PUT", "POST") else None)
        response = conn.getresponse()
        body = response.read()
        return response.status, body
    except (ConnectionError, http.client.HTTPException):
        return None, b""
    finally:
        conn.close()


def _plaintext_grpc_answers(port):
    """True when `port` speaks plaintext HTTP/2 (gRPC without TLS): it answers the client
    preface with a SETTINGS frame (type 4)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        try:
            head = sock.recv(9)
        except OSError:
            return False
    return len(head) == 9 and head[3] == 4


def _tls_without_certificate_answers(port):
    """True when a TLS client without a certificate gets an answer from `port`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return bool(tls.recv(64))
    except (ssl.SSLError, OSError):
        return False


def test_embedded_s3_takes_only_signed_requests_on_every_port():
    from botocore.exceptions import ClientError

    from faasr_easypy.s3.client import make_client

    with EmbeddedS3Server() as server:
        client = make_client(server.data_store(), max_attempts=1)
        client.put_object(Bucket="faasr", Key="victim.txt", Body=b"original")
        deadline = time.monotonic() + 30  # the admin listener comes up last (~1 s, more on a loaded machine)
        while True:
            pids = [server.process.pid] + descendants(server.process.pid)
            ports = sorted(port for _, port in listening_addresses(pids))
            if server.ports["admin.port"] in ports or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        s3_port = server.ports["s3.port"]
        assert s3_port in ports and len(ports) >= 6, ports  # s3, volume, filer, master and their gRPC
        answered, bodies = {}, {}
        for port in ports:
            for method, path in UNSIGNED:
                status, body = _unsigned(port, method, path)
                answered[(port, method, path)], bodies[(port, method, path)] = status, body
        admin = server.ports["admin.port"]
        assert admin in ports, ports  # it listens (nothing turns it off) ...
        opened = {(port, m, p): answered[(port, m, p)] for port, m, p in answered
                  if answered[(port, m, p)] is not None and answered[(port, m, p)] < 400}
        # ... and is the only thing anywhere that answers unsigned, with its two read-only pages
        assert set(opened) == {(admin, m, p) for m, p in ADMIN_OPEN}, opened
        metrics = bodies[(admin, "GET", "/metrics")].decode("utf-8", "replace")
        assert "SeaweedFS_build_info" in metrics  # the page was really read ...
        for private in ("victim.txt", "original", server.access_key, server.secret_key):
            assert private not in metrics, private  # ... and holds no object, content or key
        assert {answered[(admin, m, p)] for m, p in UNSIGNED if (m, p) not in ADMIN_OPEN} <= {404, 405}
        # gRPC and the master's HTTPS need weed's own client certificate
        for port in set(ports) - {s3_port, server.ports["volume.port"]}:
            assert not _plaintext_grpc_answers(port), port
            assert not _tls_without_certificate_answers(port), port
        # the S3 port answered every one with "access denied" (or "not allowed"), never an object
        assert {answered[(s3_port, m, p)] for m, p in UNSIGNED} <= {403, 405}, answered
        # nothing was forged, read or deleted: signed S3 sees the bucket as it was
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="faasr").get("Contents", [])]
        assert keys == ["victim.txt"], keys
        assert client.get_object(Bucket="faasr", Key="victim.txt")["Body"].read() == b"original"
        client.delete_object(Bucket="faasr", Key="victim.txt")
        try:
            client.head_object(Bucket="faasr", Key="victim.txt")
            raise AssertionError("a signed delete did not delete")
        except ClientError:
            pass
        # the JWT keys are the server's own, readable by this user only
        for name in ("security.toml", "tls.key", "tls.crt", "ca.crt"):
            assert stat.S_IMODE((server.data_dir / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
        text = (server.data_dir / "security.toml").read_text()
        for section in ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"):
            assert f'[{section}]\nkey = "' in text and f'[{section}]\nkey = ""' not in text, section
        assert f'[grpc]\nca = "{server.data_dir}/ca.crt"' in text


def test_local_backend_processes_listen_on_nothing(tmp_path):
    from faasr_easypy.environment import start_s3

    s3 = start_s3()
    try:
        folder = write_functions(tmp_path, "import time\ndef f():\n    time.sleep(2)\n")
        run = Run(s3, parse_workflow(workflow({"start": action()})), folder)
        run.backend.trigger(run.invocation)
        deadline = time.monotonic() + 10
        while not descendants(run.backend._proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # the action process is forked asynchronously
        pids = [run.backend._proc.pid] + descendants(run.backend._proc.pid)
        assert len(pids) >= 2
        assert listening_addresses(pids) == []
        run.backend.close()
    finally:
        s3.close()


def test_function_local_file_cannot_escape_the_functions_folder(tmp_path):
    from faasr_easypy.environment import start_s3

    (tmp_path / "outside.py").write_text("def f():\n    return None\n")
    folder = write_functions(tmp_path, "x = 1\n")
    data = workflow({"start": action()})
    data["FunctionLocalFile"] = {"f": "../outside.py"}
    s3 = start_s3()
    try:
        run = Run(s3, parse_workflow(data), folder).go()
        assert "FunctionLocalFile '../outside.py' is not a file inside" in run.log("start")
        assert run.results["start"]["ok"] is False
    finally:
        s3.close()


def test_embedded_s3_stopped_with_timeout_0_is_killed_at_once_and_leaves_nothing():
    """Data about to be deleted needs no clean stop: timeout=0 is SIGKILL, no SIGTERM wait."""
    server = EmbeddedS3Server().start()
    proc, data_dir = server.process, server.data_dir
    server.stop(timeout=0)
    assert proc.returncode == -9, proc.returncode  # killed, not asked to stop first
    assert not data_dir.exists()
