"""A small signed S3 client for data stores on this machine, used by local actions.

Why: every forked action inherits its fork server's memory, and boto3 is most of it (its import
and one client are ~30 MiB of the server's ~40 MiB, which every action's RSS counts again), and
an action's first boto3 call copies ~2,000 of those pages (half its CPU). An action only needs
five S3 calls, so for a loopback endpoint (the embedded SeaweedFS, or a user's own S3 server on
this machine: plain HTTP, path-style, no redirects) this module makes them with SigV4 and
http.client. Stores elsewhere (AWS, remote MinIO) keep boto3 and all its behaviour.

It speaks the subset of boto3's client interface the local backend calls (put_object,
get_object, head_object, delete_object, list_objects_v2 and its paginator), with boto3's retry
rules (standard mode: connection errors, 5xx and throttling, jittered exponential backoff) and
errors that look like botocore's (`.response["Error"]["Code"]`, the same message, and
`client.exceptions.NoSuchKey`), so callers and the logs users read do not change.
"""

import datetime
import hashlib
import hmac
import http.client
import os
import random
import socket
import time
import urllib.parse
import weakref

from ..forksafe import ForkSafeLock

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_UNRESERVED = "-_.~"
_RETRY_STATUS = (500, 502, 503, 504)
_RETRY_CODES = ("Throttling", "ThrottlingException", "SlowDown", "RequestTimeout", "RequestTimeoutException",
                "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequestsException")
_CONNECTION_ERRORS = (OSError, http.client.HTTPException)  # refused, reset, timeout, bad status line
# What a kept-alive connection the server has since closed raises on its next use.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_MAX_BACKOFF = 20.0  # seconds, as botocore's standard mode


def serves(endpoint):
    """True when `endpoint` is a plain-HTTP S3 endpoint on this machine (this client's case)."""
    try:
        url = urllib.parse.urlsplit(endpoint or "")
        return url.scheme == "http" and url.hostname in _LOOPBACK_HOSTS and url.port is not None
    except ValueError:
        return False


class ClientError(Exception):
    """An S3 error response, shaped like botocore's ClientError (same message, `.response`)."""

    def __init__(self, code, message, status, operation):
        self.response = {"Error": {"Code": code, "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": status}}
        self.operation_name = operation
        super().__init__(f"An error occurred ({code}) when calling the {operation} operation: {message}")


class NoSuchKey(ClientError):
    pass


class EndpointConnectionError(ConnectionError):
    """No answer from the endpoint after every attempt (botocore's words, and the cause)."""

    def __init__(self, client, target, operation, cause):
        super().__init__(f'Could not connect to the endpoint URL: "http://{client.host_header}{target}" '
                         f"(calling the {operation} operation: {type(cause).__name__}: {cause})")


class _Exceptions:
    ClientError = ClientError
    NoSuchKey = NoSuchKey


class LiteS3Client:
    """Signed S3 requests to one loopback endpoint; thread-safe (a small connection pool)."""

    exceptions = _Exceptions

    def __init__(self, endpoint, access_key="", secret_key="", region="us-east-1", anonymous=False,
                 max_attempts=3, connect_timeout=5, read_timeout=30):
        url = urllib.parse.urlsplit(endpoint)
        self.host, self.port = url.hostname, url.port
        self.host_header = url.netloc
        self.region = region or "us-east-1"
        self.anonymous = anonymous
        self._access_key, self._secret_key = access_key, secret_key
        self.max_attempts = max(1, int(max_attempts))
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._idle = []  # connections not in use
        self._lock = ForkSafeLock()
        self._keys = {}  # date -> SigV4 signing key
        _live.add(self)

    # -- the boto3 calls the local backend makes ------------------------------
    def put_object(self, Bucket, Key, Body=b""):
        if isinstance(Body, str):
            Body = Body.encode()
        response, _ = self._request("PutObject", "PUT", Bucket, Key, body=Body)
        return {"ETag": response.getheader("ETag", "")}

    def get_object(self, Bucket, Key):
        response, conn = self._request("GetObject", "GET", Bucket, Key, stream=True)
        return {"Body": _Body(self, response, conn), "ContentLength": int(response.getheader("Content-Length") or 0)}

    def head_object(self, Bucket, Key):
        response, _ = self._request("HeadObject", "HEAD", Bucket, Key)
        return {"ContentLength": int(response.getheader("Content-Length") or 0),
                "ETag": response.getheader("ETag", "")}

    def delete_object(self, Bucket, Key):
        self._request("DeleteObject", "DELETE", Bucket, Key)
        return {}

    def list_objects_v2(self, Bucket, Prefix="", ContinuationToken=None, MaxKeys=None, StartAfter=None):
        query = {"list-type": "2", "prefix": Prefix, "encoding-type": "url"}
        if ContinuationToken:
            query["continuation-token"] = ContinuationToken
        if MaxKeys:
            query["max-keys"] = str(MaxKeys)
        if StartAfter:
            query["start-after"] = StartAfter
        _, data = self._request("ListObjectsV2", "GET", Bucket, "", query=query)
        return _parse_listing(data)

    def get_paginator(self, name):
        if name != "list_objects_v2":
            raise ValueError(f"faasr-easypy's local S3 client pages only list_objects_v2, not {name}")
        return _ListPaginator(self)

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close(conn)

    # -- HTTP ----------------------------------------------------------------
    def _request(self, operation, method, bucket, key, query=None, body=b"", stream=False):
        path = "/" + urllib.parse.quote(bucket, safe=_UNRESERVED)
        if key:
            path += "/" + urllib.parse.quote(key, safe="/" + _UNRESERVED)
        query_string = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted((query or {}).items()))
        target = path + ("?" + query_string if query_string else "")
        start = body.tell() if hasattr(body, "read") else None
        payload_hash, length = _hash_and_length(body, start)
        attempt = 0
        while True:  # each way out of the last attempt returns or raises
            attempt += 1
            if start is not None:
                body.seek(start)
            headers = self._signed_headers(method, path, query_string, payload_hash, length)
            conn, reused = None, False
            try:
                conn, reused = self._connection()
                conn.request(method, target, body=body if method in ("PUT", "POST") else None, headers=headers)
                response = conn.getresponse()
                if response.status < 300 and stream:
                    return response, conn  # the body's reader returns the connection when done
                data = response.read()
            except _CONNECTION_ERRORS as exc:
                if conn is not None:
                    _close(conn)
                if reused and isinstance(exc, _STALE):
                    attempt -= 1  # the server closed an idle connection: not a failed attempt
                    continue
                if attempt == self.max_attempts:
                    raise EndpointConnectionError(self, target, operation, exc) from exc
                _back_off(attempt)
                continue
            if response.will_close:
                _close(conn)
            else:
                self._release(conn)
            if response.status < 300:
                return response, data
            error = _client_error(response.status, data, operation, method)
            retryable = response.status in _RETRY_STATUS or error.response["Error"]["Code"] in _RETRY_CODES
            if not retryable or attempt == self.max_attempts:
                raise error
            _back_off(attempt)

    def _connection(self):
        """(connection, True when it was idle in the pool: the server may have closed it)."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if _still_ours(conn):
                return conn, True
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout, blocksize=1 << 16)
        conn.connect()
        conn.sock.settimeout(self.read_timeout)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = os.fstat(conn.sock.fileno())
        conn.faasr_socket_id = (st.st_dev, st.st_ino)
        return conn, False

    def _release(self, conn):
        with self._lock:
            if len(self._idle) < 10:
                self._idle.append(conn)
                return
        _close(conn)

    def _drop_after_fork(self):
        # The parent may still use these sockets: forget them here without a word on the wire.
        self._idle = []

    # -- SigV4 ---------------------------------------------------------------
    def _signed_headers(self, method, path, query_string, payload_hash, length):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        values = {"host": self.host_header, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
        headers = dict(values, **{"content-length": str(length)})
        if self.anonymous:
            return headers
        signed = sorted(values)
        canonical = "\n".join([method, path, query_string, "".join(f"{h}:{values[h]}\n" for h in signed),
                               ";".join(signed), payload_hash])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.new(self._signing_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self._access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(signed)}, Signature={signature}")
        return headers

    def _signing_key(self, day):
        key = self._keys.get(day)
        if key is None:
            key = ("AWS4" + self._secret_key).encode()
            for part in (day, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {day: key}
        return key

    def __repr__(self):  # never the keys
        return f"LiteS3Client(http://{self.host_header})"


class _Body:
    """A GetObject body (the part of botocore's StreamingBody callers use)."""

    def __init__(self, client, response, conn):
        self._client, self._response, self._conn = client, response, conn

    def read(self, amt=None):
        data = self._response.read(amt)
        if amt is None or not data:
            self._finish()
        return data

    def iter_chunks(self, chunk_size=1024):
        while True:
            data = self._response.read(chunk_size)
            if not data:
                self._finish()
                return
            yield data

    def close(self):
        """Before the end of the body: the connection cannot be reused."""
        if self._conn is not None:
            _close(self._conn)
            self._conn = None

    def _finish(self):
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._response.will_close:
            _close(conn)
        else:
            self._client._release(conn)


class _ListPaginator:
    def __init__(self, client):
        self._client = client

    def paginate(self, Bucket, Prefix=""):
        token = None
        while True:
            page = self._client.list_objects_v2(Bucket=Bucket, Prefix=Prefix, ContinuationToken=token)
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return


def _parse_listing(data):
    from xml.etree import ElementTree

    root = ElementTree.fromstring(data)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""

    def text(node, name, default=""):
        found = node.find(ns + name)
        return found.text or default if found is not None else default

    url_encoded = text(root, "EncodingType") == "url"
    contents = []
    for item in root.iter(ns + "Contents"):
        key = text(item, "Key")
        contents.append({"Key": urllib.parse.unquote_plus(key) if url_encoded else key,
                         "Size": int(text(item, "Size", "0")), "ETag": text(item, "ETag")})
    page = {"IsTruncated": text(root, "IsTruncated") == "true", "KeyCount": len(contents)}
    if contents:
        page["Contents"] = contents
    token = text(root, "NextContinuationToken")
    if token:
        page["NextContinuationToken"] = token
    return page


def _client_error(status, data, operation, method):
    code, message = str(status), http.client.responses.get(status, "")
    if data and method != "HEAD":
        try:
            from xml.etree import ElementTree

            root = ElementTree.fromstring(data)
            code = root.findtext("Code") or code
            message = root.findtext("Message") or message
        except ElementTree.ParseError:
            pass
    return (NoSuchKey if code == "NoSuchKey" else ClientError)(code, message, status, operation)


def _back_off(attempt):
    time.sleep(random.random() * min(_MAX_BACKOFF, 2 ** (attempt - 1)))


def _q(value):
    return urllib.parse.quote(str(value), safe=_UNRESERVED)


def _hash_and_length(body, start):
    """The payload's SHA-256 (SigV4 signs it) and its length; a file is read from `start` to its end."""
    if start is None:
        return hashlib.sha256(body).hexdigest(), len(body)
    digest, length = hashlib.sha256(), 0
    for block in iter(lambda: body.read(1 << 20), b""):
        digest.update(block)
        length += len(block)
    return digest.hexdigest(), length


def _still_ours(conn):
    """Is the pooled connection's descriptor still its socket? A function may have closed every
    descriptor (os.closerange) and opened files that took the same numbers: writing a request
    there would corrupt them, and closing it would close theirs. Such a connection is let go
    without touching the descriptor."""
    try:
        st = os.fstat(conn.sock.fileno())
        if (st.st_dev, st.st_ino) == conn.faasr_socket_id:
            return True
    except (OSError, ValueError, AttributeError):
        pass
    if conn.sock is not None:
        conn.sock.detach()
        conn.sock = None
    return False


def _close(conn):
    """Close a connection whose descriptor a function may have closed (EBADF is no error here)."""
    try:
        conn.close()
    except OSError:
        pass


_live = weakref.WeakSet()


def _after_fork_in_child():
    for client in list(_live):
        client._drop_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
