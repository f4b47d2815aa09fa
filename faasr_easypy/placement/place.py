"""Where one workflow runs under a testbed: its data stores and the backend.

`FaasrTestbed.resolve()` (model.py) maps a workflow's DataStore and ComputeServer names onto
testbed devices; this module turns that mapping into the objects a run needs:
DataStore objects (the embedded S3 server or the device's endpoint and keys) and
the backend of the entry action's compute server (Local runs here, the others are
triggered on their platform). The pyATS task (task.WorkflowSession) and the
pytest plugin and WorkflowRunner all place workflows this way, so a testbed means the
same in each.
"""

from contextlib import contextmanager
from pathlib import Path

from ..defaults import DEFAULT_BUCKET, setting
from ..errors import UserError


def data_stores(workflow, resolved, embedded_s3=None, ensured_buckets=()):
    """{DataStore name: DataStore} for every data store of `workflow`, buckets ensured.

    `embedded_s3` is the S3 behind devices with `Embedded: true` (anything with endpoint,
    region and keys: an environment.S3Service; None when none runs);
    `ensured_buckets` are buckets of it known to exist already.
    """
    from ..environment import S3Service
    from ..s3.client import DataStore

    stores = {}
    for name, spec in resolved.stores.items():
        bucket = bucket_for(workflow, name, spec)
        if spec.embedded:
            if embedded_s3 is None:
                raise UserError("The job's embedded S3 server is not running. Fix: enable the "
                                "faasr_easypy Easypy plugin and start tasks from the jobfile.")
            store = DataStore(name=name, bucket=bucket, endpoint=embedded_s3.endpoint,
                              region=embedded_s3.region, access_key=embedded_s3.access_key,
                              secret_key=embedded_s3.secret_key)
        else:
            store = DataStore(name=name, bucket=bucket, endpoint=spec.endpoint, region=spec.region,
                              anonymous=spec.anonymous, writable=spec.writable,
                              access_key=spec.access_key, secret_key=spec.secret_key)
        if not store.anonymous and not (spec.embedded and bucket in ensured_buckets):
            S3Service(store.endpoint, store.access_key, store.secret_key,
                      region=store.region).ensure_bucket(store)
        stores[name] = store
    return stores


def bucket_for(workflow, name, spec):
    """The bucket data store `name` of `workflow` uses: the testbed's, else the workflow's, else faasr."""
    return spec.bucket or workflow.data["DataStores"][name].get("Bucket") or DEFAULT_BUCKET


def entry_compute(workflow, resolved):
    """(server name, ComputeSpec) of the compute server that runs the entry action."""
    server = workflow.actions[workflow.entry].faas_server
    return server, resolved.computes[server]


def check_functions_folder(workflow, resolved, functions, fix):
    """UserError when actions run here and their functions folder is missing."""
    _, compute = entry_compute(workflow, resolved)
    runs_our_runtime = compute.faas_type == "Local" or (compute.faas_type == "SLURM" and compute.runtime == "local")
    if runs_our_runtime and not Path(functions).is_dir():
        raise UserError(f"The functions folder {functions} of workflow {workflow.name} ({workflow.source}) "
                        f"does not exist. Fix: {fix}")


def make_backend(workflow, resolved, functions, stores, action_timeout=None, fork_server=None):
    """The backend of the entry action's compute server: a backend on this machine for
    FaaSType Local (the local one or faasr-py, by the device's Runtime), else the
    platform's trigger (GitHub Actions, Lambda, OpenWhisk)."""
    server, compute = entry_compute(workflow, resolved)
    if compute.faas_type == "Local":
        from ..environment import machine_backend

        options = {"max_parallel": resolved.max_parallel, "fork_server": fork_server}
        timeout = action_timeout or resolved.action_timeout
        if timeout:
            options["action_timeout"] = timeout
        if resolved.action_memory_mib:
            options["action_memory_mib"] = resolved.action_memory_mib
        return machine_backend(compute.runtime, Path(functions), stores, **options)
    if compute.faas_type == "SLURM" and compute.runtime == "local":
        return _cluster_backend(compute, resolved, functions, stores, action_timeout)
    options = {k: v for k, v in compute.backend_options().items() if v}
    if compute.faas_type == "SLURM":
        options["data_stores"] = stores  # SLURM jobs get the data stores in OVERWRITTEN (no secret store)
        if compute.github_standin:
            from ..backends.faasr_py.on_slurm import FaaSrPyOnSlurmBackend

            return FaaSrPyOnSlurmBackend(workflow, server, Path(functions), server=compute.server(), **options)
    from ..backends.registry import backend_for

    return backend_for(workflow, server, server=compute.server(), **options)


def _cluster_backend(compute, resolved, functions, stores, action_timeout=None):
    """Our own runtime on a SLURM cluster: the local scheduler, each action a SLURM job."""
    import functools

    from ..backends.local import LocalBackend
    from ..backends.local.slurm_executor import SlurmExecutor

    server = compute.server()
    executor = functools.partial(SlurmExecutor, endpoint=server["Endpoint"], token=compute.token,
                                 user=server.get("UserName") or "root",
                                 partition=server.get("Partition") or "faasr",
                                 api_version=server.get("APIVersion") or "v0.0.37",
                                 working_dir=server.get("WorkingDirectory"))
    options = {"max_parallel": resolved.max_parallel, "executor": executor}
    timeout = action_timeout or resolved.action_timeout
    if timeout:
        options["action_timeout"] = timeout
    return LocalBackend(Path(functions), stores, **options)


@contextmanager
def placed(workflow, testbed, functions, fix, embedded_s3=None, action_timeout=None):
    """(backend, logging DataStore) of `workflow` placed by `testbed` outside a pyATS job
    (the pytest plugin, WorkflowRunner.from_testbed); the backend is closed on exit.
    Action time limit: `action_timeout` > the device's ActionTimeout > the testbed's > default."""
    resolved = testbed.resolve(workflow)
    check_functions_folder(workflow, resolved, functions, fix=fix)
    stores = data_stores(workflow, resolved, embedded_s3=embedded_s3)
    backend = make_backend(workflow, resolved, functions, stores,
                           action_timeout=setting("action_timeout", action_timeout or resolved.action_timeout, testbed))
    try:
        yield backend, stores[workflow.logging_data_store]
    finally:
        backend.close()
