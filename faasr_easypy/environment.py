"""The embedded default environment: an S3 server plus a backend on this machine.

The backend is the local one (fast, parallel) or, with backend="faasr-py",
the real faasr-py 2.1.0 runtime, one action at a time (docs/FIDELITY.md).

Every data store a workflow names is served by one S3 server: the embedded
SeaweedFS (started here) or an external endpoint given by
FAASR_EASYPY_S3_ENDPOINT with FAASR_EASYPY_S3_ACCESS_KEY / _SECRET_KEY (MinIO,
AWS). Each store keeps its own bucket name; missing buckets are created.
"""

import os
import signal
import sys
import threading

from .backends.local import LocalBackend
from .defaults import DEFAULT_BUCKET, DEFAULTS, RUNTIMES
from .errors import S3Error, UserError
from .s3.client import DataStore, make_client
from .s3.server import EmbeddedS3Server

ENV_ENDPOINT = "FAASR_EASYPY_S3_ENDPOINT"
ENV_ACCESS_KEY = "FAASR_EASYPY_S3_ACCESS_KEY"
ENV_SECRET_KEY = "FAASR_EASYPY_S3_SECRET_KEY"


class S3Service:
    """One S3 endpoint with credentials; hands out DataStore objects for workflows."""

    def __init__(self, endpoint, access_key, secret_key, region="us-east-1", server=None):
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.server = server  # the EmbeddedS3Server when we started one
        self._buckets = set()

    @classmethod
    def from_environment(cls, environ=None):
        """An external S3 named by FAASR_EASYPY_S3_ENDPOINT, or None."""
        environ = os.environ if environ is None else environ
        endpoint = environ.get(ENV_ENDPOINT)
        if not endpoint:
            return None
        key, secret = environ.get(ENV_ACCESS_KEY), environ.get(ENV_SECRET_KEY)
        if not (key and secret):
            raise S3Error(f"{ENV_ENDPOINT} is set to {endpoint}, but {ENV_ACCESS_KEY} and "
                          f"{ENV_SECRET_KEY} are not: export both credentials, or unset "
                          f"{ENV_ENDPOINT} to use the embedded S3 server.")
        return cls(endpoint, key, secret)

    def store(self, name, bucket):
        return DataStore(name=name, bucket=bucket, endpoint=self.endpoint, region=self.region,
                         access_key=self.access_key, secret_key=self.secret_key)

    def stores_for(self, workflow):
        """DataStore objects for every data store of `workflow`, buckets ensured."""
        stores = {}
        for name, spec in workflow.data["DataStores"].items():
            stores[name] = self.store(name, spec.get("Bucket") or DEFAULT_BUCKET)
            self.ensure_bucket(stores[name])
        return stores

    def ensure_bucket(self, store):
        from botocore.exceptions import ClientError

        if store.bucket in self._buckets:
            return
        client = make_client(store)
        try:
            client.head_bucket(Bucket=store.bucket)
        except ClientError:
            try:
                client.create_bucket(Bucket=store.bucket)
            except ClientError as exc:
                raise S3Error(f"Bucket {store.bucket!r} for data store {store.name!r} does not exist "
                              f"on {self.endpoint} and could not be created ({exc}): create it, or "
                              "name an existing bucket in the workflow's DataStores.") from exc
        self._buckets.add(store.bucket)

    def secrets(self):
        return [self.access_key, self.secret_key]

    def close(self):
        if self.server is not None:
            self.server.stop()

    def __repr__(self):  # forked tasks inherit it; the keys never reach a log
        return f"S3Service({self.endpoint!r}, keys hidden)"


def start_s3(data_dir=None, port=None):
    """The S3 service for a run: external if configured, else a new embedded server."""
    external = S3Service.from_environment()
    if external is not None:
        return external
    server = EmbeddedS3Server(data_dir=data_dir, port=port).start()
    return S3Service(server.endpoint, server.access_key, server.secret_key, server=server)


#: backends that run a workflow's functions on this machine, by their command-line name (the
#: testbed's Runtime names them too)
MACHINE_BACKENDS = RUNTIMES


def machine_backend(name, functions_dir, stores, **options):
    """The backend `name` (one of MACHINE_BACKENDS) for `functions_dir` on `stores`."""
    if name == "local":
        return LocalBackend(functions_dir, stores, **options)
    if name == "faasr-py":
        from .backends.faasr_py import FaaSrPyBackend  # creates faasr-py's virtualenv on first use

        options.pop("max_parallel", None)  # one action per host: faasr-py's RPC port is fixed
        options.pop("fork_server", None)   # the local backend's; faasr-py starts its own processes
        options.pop("action_memory_mib", None)  # the local backend's limit
        options.setdefault("progress", _say)
        return FaaSrPyBackend(functions_dir, stores, **options)
    raise UserError(f"Unknown backend {name!r}: use one of {', '.join(MACHINE_BACKENDS)}.")


class _sigint_held:
    """Hold SIGINT for the duration (main thread only); raise KeyboardInterrupt after, if one came."""

    def __enter__(self):
        self.previous = None
        self.caught = False
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self.caught = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            if self.caught and exc[0] is None:
                raise KeyboardInterrupt


def _say(message):
    print(f"faasr-easypy: {message}", file=sys.stderr, flush=True)


class LocalEnvironment:
    """S3 plus a backend on this machine for one workflow; a context manager.

    `s3` may be an S3Service shared with others (the pyATS job shares one per
    job); if None, one is started here and stopped on exit (its data kept in
    `s3_data_dir` when given, else deleted).
    """

    def __init__(self, workflow, functions_dir, s3=None, max_parallel=None, action_timeout=DEFAULTS["action_timeout"],
                 keep_workdirs=False, backend="local", s3_data_dir=None,
                 action_memory_mib=None):
        self.workflow = workflow
        self.action_memory_mib = action_memory_mib
        self.functions_dir = functions_dir
        self._own_s3 = s3 is None
        self.s3 = s3
        self.max_parallel = max_parallel
        self.action_timeout = action_timeout
        self.keep_workdirs = keep_workdirs
        self.backend_name = backend
        self.s3_data_dir = s3_data_dir  # the embedded server's data folder, kept (None: a temporary one)
        self.stores = {}
        self.backend = None
        self._fork_server = None

    @property
    def logging_store(self):
        return self.stores[self.workflow.logging_data_store]

    def __enter__(self):
        try:
            options = {}
            if self.backend_name == "local":
                # Started first: its interpreter imports boto3 while weed starts below.
                from .backends.local.server_process import ForkServerProcess

                self._fork_server = ForkServerProcess().start()
                options["fork_server"] = self._fork_server
            if self.s3 is None:
                self.s3 = start_s3(data_dir=self.s3_data_dir)
            self.stores = self.s3.stores_for(self.workflow)
            self.backend = machine_backend(self.backend_name, self.functions_dir, self.stores,
                                           max_parallel=self.max_parallel,
                                           action_timeout=self.action_timeout,
                                           keep_workdirs=self.keep_workdirs,
                                           action_memory_mib=self.action_memory_mib, **options)
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        # A second Ctrl-C while we stop must not cut the stop short (it left the S3 data
        # and action folders behind): it is held until all are closed, then raised.
        with _sigint_held():
            try:
                if self.backend is not None:
                    self.backend.close()
                if self._fork_server is not None:
                    self._fork_server.stop()
                    self._fork_server = None
            finally:
                if self._own_s3 and self.s3 is not None:
                    self.s3.close()

    def __exit__(self, *exc):
        self.close()
