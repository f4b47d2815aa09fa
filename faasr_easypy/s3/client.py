"""S3 clients for FaaSr data stores (boto3's; s3/lite.py's for an action's store on this
machine), with credentials from the environment.

FaaSr never keeps credentials in the workflow JSON: the runtime reads
`<DataStoreName>_AccessKey` and `<DataStoreName>_SecretKey`. We do the same.
"""

import os
from dataclasses import dataclass, field

from ..errors import UserError
from ..forksafe import ForkSafeLock

#: botocore error codes of "no such key/version" (a HEAD answers a bare 404)
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


def is_missing(exc):
    """True for botocore's 'no such key/version' (botocore is imported only when used)."""
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") in _MISSING


@dataclass
class DataStore:
    name: str
    bucket: str
    endpoint: str = ""
    region: str = "us-east-1"
    anonymous: bool = False
    writable: bool = True
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)

    @classmethod
    def from_workflow(cls, name, spec, environ=None):
        """The data store `name` of a workflow's DataStores, creds from the environment."""
        environ = os.environ if environ is None else environ
        return cls(
            name=name,
            bucket=spec.get("Bucket", ""),
            endpoint=spec.get("Endpoint") or "",
            region=spec.get("Region") or "us-east-1",
            anonymous=_truthy(spec.get("Anonymous", False)),
            writable=_truthy(spec.get("Writable", True)),
            access_key=environ.get(f"{name}_AccessKey", ""),
            secret_key=environ.get(f"{name}_SecretKey", ""),
        )

    def as_workflow_spec(self):
        """The DataStores entry FaaSr expects (no credentials)."""
        return {"Endpoint": self.endpoint, "Bucket": self.bucket, "Region": self.region,
                "Writable": str(self.writable).upper(), "Anonymous": str(self.anonymous).upper()}

    def credential_env(self):
        """Environment variables that give FaaSr code this store's credentials."""
        return {f"{self.name}_AccessKey": self.access_key, f"{self.name}_SecretKey": self.secret_key}

    def secrets(self):
        return [s for s in (self.access_key, self.secret_key) if s]


def check_credentials(store: DataStore):
    """A store on a custom endpoint needs keys, or to say it is anonymous (either client kind)."""
    if not store.anonymous and not (store.access_key and store.secret_key) and store.endpoint:
        raise UserError(
            f"Data store {store.name!r} ({store.endpoint}) has no credentials: set the environment "
            f"variables {store.name}_AccessKey and {store.name}_SecretKey, or mark the store "
            "\"Anonymous\": \"TRUE\" in the workflow or testbed.")


def make_client(store: DataStore, max_attempts=3, connect_timeout=5, read_timeout=30, pool=10):
    """A boto3 S3 client for `store`; path-style addressing for custom endpoints."""
    from botocore import UNSIGNED
    from botocore.config import Config

    check_credentials(store)
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=pool,
        s3={"addressing_style": "path"} if store.endpoint else {},
        signature_version=UNSIGNED if store.anonymous else "s3v4",
    )
    with _session_lock:  # botocore sessions are not thread-safe
        return _shared_session().client(
            "s3",
            endpoint_url=store.endpoint or None,
            region_name=store.region or "us-east-1",
            aws_access_key_id=store.access_key or None,
            aws_secret_access_key=store.secret_key or None,
            config=config,
        )


def action_client(store: DataStore, max_attempts=3):
    """The client an action's own S3 calls go through: s3/lite.py's for a store on this machine
    (the embedded SeaweedFS), so the action's process never loads boto3 (most of its memory and
    half its CPU); boto3 for a store anywhere else."""
    from . import lite

    if lite.serves(store.endpoint):
        check_credentials(store)
        return lite.LiteS3Client(store.endpoint, store.access_key, store.secret_key, region=store.region,
                                 anonymous=store.anonymous, max_attempts=max_attempts)
    return make_client(store, max_attempts=max_attempts)


def shared_client(store: DataStore, **settings):
    """One client per store and settings in this process, shared by its threads
    (boto3 clients are thread-safe). Made in a pyATS job process before it forks,
    it is inherited by every task, which then builds none of its own (~30 ms of CPU
    each). A forked child drops the inherited connections (see below)."""
    key = (store.endpoint, store.region, store.anonymous, store.access_key, store.secret_key,
           tuple(sorted(settings.items())))
    client = _clients.get(key)
    if client is None:
        client = make_client(store, **settings)
        client = _clients.setdefault(key, client)
    return client


# The S3 operations faasr-easypy and its local backend call.
OPERATIONS = ("GetObject", "PutObject", "HeadObject", "ListObjectsV2", "DeleteObject",
              "DeleteObjects", "CopyObject", "CreateBucket", "HeadBucket")


def prime(client):
    """Do botocore's lazy, per-client model work now, in a process that is about to fork.

    Each client resolves its model shapes, the error shapes (the first 404 parses them,
    ~20 ms) and the paginator config (read from disk) on first use. Done once before a
    fork, every forked task or action inherits the result instead of repeating it."""
    try:
        model = client.meta.service_model
        _ = model.error_shapes  # resolved on first access
        seen = set()
        for name in OPERATIONS:
            operation = model.operation_model(name)
            for shape in (operation.input_shape, operation.output_shape):
                _resolve(shape, seen)
        client.can_paginate("list_objects_v2")
    except Exception:  # another botocore: priming is only an optimisation
        pass
    return client


def _resolve(shape, seen):
    if shape is None or id(shape) in seen:
        return
    seen.add(id(shape))
    for child in getattr(shape, "members", {}).values():
        _resolve(child, seen)
    for attr in ("member", "key", "value"):
        _resolve(getattr(shape, attr, None), seen)


_session_lock = ForkSafeLock()
_session = None
_clients = {}  # shared_client() cache


def _close_connections_after_fork():
    for client in list(_clients.values()):
        # The parent may be using these connections: the child opens its own.
        try:
            client._endpoint.http_session.close()
        except Exception:
            pass


os.register_at_fork(after_in_child=_close_connections_after_fork)


def _shared_session():
    """One boto3 session for the process and the processes it forks: it caches the
    parsed S3 service model, which costs ~140 ms and ~7 MiB per client otherwise. It
    holds no connections (clients do), so forked children may keep using it.
    Credentials are passed per client, never taken from the session."""
    import boto3

    global _session
    if _session is None:
        import botocore.session

        core = botocore.session.get_session()
        # Every key of a listing carries a LastModified that botocore parses with dateutil
        # (~60 us each: 1,000 keys cost more than the rest of the page). The same strings
        # come back on every poll, and many keys share a second: parse each string once.
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=_cached_timestamp_parser())
        _session = boto3.session.Session(botocore_session=core)
    return _session


def _cached_timestamp_parser():
    """botocore's own timestamp parser, memoized by the string (results are immutable datetimes)."""
    import functools

    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

    cached = functools.lru_cache(maxsize=8192)(DEFAULT_TIMESTAMP_PARSER)

    def parse(value):
        try:
            return cached(value)
        except TypeError:  # not hashable: parse it as botocore would
            return DEFAULT_TIMESTAMP_PARSER(value)

    return parse


_gone = set()  # endpoints refuses_connections() found gone: asked once, not waited for again


def refuses_connections(endpoint, within=3.0):
    """True when nothing has listened at `endpoint` (an http(s) URL) for `within` seconds: the
    server is gone, and a write with many retries would only wait out its backoff. A short
    restart (weed is back in about a second) still counts as there."""
    import socket
    import time
    from urllib.parse import urlsplit

    url = urlsplit(endpoint or "")
    if not url.hostname:
        return False  # AWS's default endpoint: not ours to judge
    port = url.port or (443 if url.scheme == "https" else 80)
    deadline = time.monotonic() + (0 if endpoint in _gone else within)
    while True:
        try:
            socket.create_connection((url.hostname, port), timeout=1.0).close()
            _gone.discard(endpoint)
            return False
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                _gone.add(endpoint)
                return True
            time.sleep(0.25)
        except OSError:
            return False  # slow or unroutable is not "gone": let the client's retries decide


def _truthy(value):
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "YES", "1")
    return bool(value)
