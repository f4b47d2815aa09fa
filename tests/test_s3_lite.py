"""The small signed S3 client actions use for a store on this machine (s3/lite.py): against the
real embedded SeaweedFS it must read, write, list and fail exactly as boto3 does on the same
server; against a scripted HTTP server on loopback, retry as botocore's standard mode does."""

import http.server
import io
import os
import textwrap
import threading

import pytest

from faasr_easypy.backends.local import LocalBackend
from faasr_easypy.backends.local.forkserver import _action_client
from faasr_easypy.errors import UserError
from faasr_easypy.invocation import Invocation
from faasr_easypy.s3 import lite
from faasr_easypy.s3.client import make_client
from faasr_easypy.workflow import parse_workflow

from .workflow_factory import action, workflow

pytestmark = pytest.mark.timeout(120)

# Keys FaaSr users write: spaces, '+', '%', '&', '=', non-ASCII, nested folders.
ODD_KEYS = ["lite/plain.txt", "lite/with space.csv", "lite/a+b=c&d.json", "lite/100%.txt",
            "lite/ünï/cödé.txt", "lite/deep/er/still/x~y_z-1.bin"]


@pytest.fixture(scope="module")
def clients(s3_server):
    boto = make_client(s3_server.data_store())
    client = lite.LiteS3Client(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    yield client, boto, s3_server.bucket
    client.close()


def test_it_serves_only_plain_http_on_this_machine():
    assert lite.serves("http://127.0.0.1:8333") and lite.serves("http://localhost:9000")
    assert lite.serves("http://[::1]:9000")
    for endpoint in ("https://127.0.0.1:8333", "http://s3.example.org:80", "http://127.0.0.1",
                     "", None, "http://[bad"):
        assert not lite.serves(endpoint), endpoint


def test_what_it_writes_boto3_reads_and_the_other_way_round(clients, tmp_path):
    client, boto, bucket = clients
    for i, key in enumerate(ODD_KEYS):
        client.put_object(Bucket=bucket, Key=key, Body=f"lite {i}")
        assert boto.get_object(Bucket=bucket, Key=key)["Body"].read() == f"lite {i}".encode()
        boto.put_object(Bucket=bucket, Key=key, Body=f"boto {i}".encode())
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == f"boto {i}".encode()
        assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(f"boto {i}")
    # A file body is sent from where it stands to its end, as boto3 does; also a file-like
    # object without a descriptor.
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    with open(big, "rb") as fh:
        fh.seek(1000)
        client.put_object(Bucket=bucket, Key="lite/big.bin", Body=fh)
    chunks = list(client.get_object(Bucket=bucket, Key="lite/big.bin")["Body"].iter_chunks(1 << 20))
    assert b"".join(chunks) == big.read_bytes()[1000:] and len(chunks) >= 3
    client.put_object(Bucket=bucket, Key="lite/mem", Body=io.BytesIO(b"in memory"))
    assert boto.get_object(Bucket=bucket, Key="lite/mem")["Body"].read() == b"in memory"
    client.delete_object(Bucket=bucket, Key="lite/mem")
    with pytest.raises(boto.exceptions.NoSuchKey):
        boto.get_object(Bucket=bucket, Key="lite/mem")


def test_listing_pages_past_1000_keys_like_boto3(clients):
    client, boto, bucket = clients
    for i in range(1050):
        client.put_object(Bucket=bucket, Key=f"many/{i:04d} +&%=ü", Body=b"1")
    paginator = client.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, Prefix="many/"))
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    expected = [o["Key"] for page in boto.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/")
                for o in page.get("Contents", [])]
    assert len(pages) >= 2 and keys == expected and len(keys) == 1050
    assert keys[0] == "many/0000 +&%=ü"
    empty = list(paginator.paginate(Bucket=bucket, Prefix="nothing-here/"))
    assert empty and all("Contents" not in page for page in empty)
    with pytest.raises(ValueError, match="list_objects_v2"):
        client.get_paginator("list_objects")


def test_errors_read_as_botocore_writes_them(clients):
    client, boto, bucket = clients
    for call in ("get_object", "head_object"):
        with pytest.raises(Exception) as theirs:
            getattr(boto, call)(Bucket=bucket, Key="lite/absent")
        with pytest.raises(lite.ClientError) as ours:
            getattr(client, call)(Bucket=bucket, Key="lite/absent")
        assert str(ours.value) == str(theirs.value)
        assert ours.value.response["Error"]["Code"] == theirs.value.response["Error"]["Code"]
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=bucket, Key="lite/absent")


def test_a_wrong_secret_is_refused_and_no_key_is_ever_shown(s3_server):
    wrong = "not-the-secret-" + "x" * 20
    client = lite.LiteS3Client(s3_server.endpoint, s3_server.access_key, wrong, max_attempts=1)
    with pytest.raises(lite.ClientError) as refused:
        client.put_object(Bucket=s3_server.bucket, Key="lite/forged.done", Body=b"True")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    anonymous = lite.LiteS3Client(s3_server.endpoint, anonymous=True, max_attempts=1)
    with pytest.raises(lite.ClientError) as unsigned:
        anonymous.put_object(Bucket=s3_server.bucket, Key="lite/forged.done", Body=b"True")
    assert unsigned.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    for shown in (str(refused.value), repr(client), str(unsigned.value)):
        assert wrong not in shown and s3_server.access_key not in shown


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from `script` (status, body, close-silently) in order, then 200; counts requests."""

    protocol_version = "HTTP/1.1"
    script, seen = [], []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path, "Authorization" in self.headers))
        status, body, drop = self.script.pop(0) if self.script else (200, b"", False)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = drop  # without a "Connection: close": a kept-alive socket that dies

    do_GET = do_PUT = do_HEAD = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.script, Scripted.seen = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def error(code):
    return f"<Error><Code>{code}</Code><Message>{code} here</Message></Error>".encode()


def test_5xx_and_throttling_are_retried_client_errors_are_not(scripted, monkeypatch):
    monkeypatch.setattr(lite, "_back_off", lambda attempt: None)
    client = lite.LiteS3Client(scripted, "AK", "SK", max_attempts=4)
    Scripted.script = [(503, error("SlowDown"), False), (500, error("InternalError"), False),
                       (400, error("RequestTimeout"), False)]
    client.put_object(Bucket="b", Key="k", Body=b"x")
    assert [s[:2] for s in Scripted.seen] == [("PUT", "/b/k")] * 4 and all(s[2] for s in Scripted.seen)
    Scripted.seen.clear()
    Scripted.script = [(403, error("AccessDenied"), False)]
    with pytest.raises(lite.ClientError, match=r"\(AccessDenied\) when calling the PutObject operation"):
        client.put_object(Bucket="b", Key="k", Body=b"x")
    assert len(Scripted.seen) == 1
    Scripted.seen.clear()
    Scripted.script = [(503, error("SlowDown"), False)] * 4
    with pytest.raises(lite.ClientError, match="SlowDown"):
        client.get_object(Bucket="b", Key="k")
    assert len(Scripted.seen) == 4, "max_attempts counts every attempt, the first one too"


def test_a_kept_alive_connection_the_server_dropped_is_not_a_failed_attempt(scripted, monkeypatch):
    backoffs = []
    monkeypatch.setattr(lite, "_back_off", backoffs.append)
    client = lite.LiteS3Client(scripted, "AK", "SK", max_attempts=1)
    Scripted.script = [(200, b"", True)]  # answers, then closes the socket the client keeps
    client.put_object(Bucket="b", Key="first", Body=b"x")
    client.put_object(Bucket="b", Key="second", Body=b"y")
    assert [s[1] for s in Scripted.seen] == ["/b/first", "/b/second"] and backoffs == []


def test_no_server_is_a_connection_error_naming_the_endpoint_after_every_attempt(monkeypatch):
    import socket

    backoffs = []
    monkeypatch.setattr(lite, "_back_off", backoffs.append)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = lite.LiteS3Client(f"http://127.0.0.1:{port}", "AK", "SK", max_attempts=3)
    with pytest.raises(lite.EndpointConnectionError, match=rf'"http://127.0.0.1:{port}/b/k".*HeadObject.*refused'):
        client.head_object(Bucket="b", Key="k")
    assert backoffs == [1, 2]


def test_a_forked_child_opens_its_own_connections(clients):
    client, boto, bucket = clients
    client.put_object(Bucket=bucket, Key="lite/parent", Body=b"p")
    assert client._idle, "the parent keeps its connection for the next request"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            pooled = len(client._idle)
            client.put_object(Bucket=bucket, Key="lite/child", Body=b"c")
            os.write(w, f"{pooled}".encode())
        finally:
            os._exit(0)
    os.close(w)
    said = os.read(r, 100).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert said == "0", "a forked child must not write on its parent's sockets"
    assert client.get_object(Bucket=bucket, Key="lite/child")["Body"].read() == b"c"
    assert client.get_object(Bucket=bucket, Key="lite/parent")["Body"].read() == b"p"


def test_a_pooled_socket_whose_descriptor_a_function_reused_is_left_alone(clients, tmp_path):
    """os.closerange(3, ...) then open(): the file gets the pooled socket's number."""
    client, boto, bucket = clients
    client.put_object(Bucket=bucket, Key="lite/before", Body=b"b")
    fds = [conn.sock.fileno() for conn in client._idle]
    for fd in fds:
        os.close(fd)
    files = [open(tmp_path / f"f{i}", "w+b") for i in range(len(fds))]
    try:
        assert sorted(f.fileno() for f in files) == sorted(fds)
        client.put_object(Bucket=bucket, Key="lite/after", Body=b"a")
        assert client.get_object(Bucket=bucket, Key="lite/after")["Body"].read() == b"a"
        for f in files:  # nothing written to, nor closed on, the function's files
            f.write(b"still mine")
            f.seek(0)
            assert f.read() == b"still mine"
    finally:
        for f in files:
            f.close()


def store(endpoint, **over):
    return dict({"name": "S3", "bucket": "faasr", "endpoint": endpoint, "region": "us-east-1",
                 "anonymous": False, "access_key": "AK", "secret_key": "SK"}, **over)


def test_actions_use_it_only_for_a_store_on_this_machine():
    assert isinstance(_action_client(store("http://127.0.0.1:8333"), for_children=True), lite.LiteS3Client)
    remote = _action_client(store("https://s3.example.org"), for_children=False)
    assert type(remote).__module__ == "botocore.client"
    with pytest.raises(UserError, match="S3_AccessKey and S3_SecretKey"):
        _action_client(store("http://127.0.0.1:8333", secret_key=""), for_children=True)


FUNCTIONS = """
import sys
from FaaSr_py.client.py_client_stubs import faasr_get_folder_list, faasr_log, faasr_put_file

def check():
    open("mods.txt", "w").write(str(sorted(m for m in ("boto3", "botocore") if m in sys.modules)))
    faasr_put_file(local_file="mods.txt", remote_folder="lite", remote_file="mods.txt")
    faasr_log(f"listed {faasr_get_folder_list(prefix='lite/mods')}")
"""


def test_actions_on_the_embedded_store_run_without_boto3(s3_server, tmp_path):
    from faasr_easypy.environment import S3Service

    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "funcs.py").write_text(textwrap.dedent(FUNCTIONS))
    wf = parse_workflow(workflow({"start": action(function="check")}))
    stores = S3Service(s3_server.endpoint, s3_server.access_key, s3_server.secret_key).stores_for(wf)
    backend = LocalBackend(functions, stores)
    inv = Invocation(wf)
    try:
        backend.trigger(inv)
        assert backend.wait(inv, 60)
        assert backend.results(inv)["start"]["ok"], backend.results(inv)
    finally:
        backend.close()
    boto = make_client(s3_server.data_store())
    assert boto.get_object(Bucket="faasr", Key="lite/mods.txt")["Body"].read() == b"[]"
    log = boto.get_object(Bucket="faasr", Key=inv.layout.log_key("start"))["Body"].read().decode()
    assert "listed ['lite/mods.txt']" in log, log
