"""Pick the trigger backend from the FaaSType of the entry action's compute server.

    backend = backend_for(workflow)                       # the workflow's own ComputeServers
    backend = backend_for(workflow, server={...}, token=...)  # a testbed's override

Only the entry action is triggered by faasr-easypy; every later action is
triggered by the FaaSr runtime itself, on whatever server its FaaSServer names.
"""

import importlib

from ..errors import BackendError
from ..workflow import FAAS_TYPES
from .remote import resolve_server

#: FaaSType -> "module:class" of the backend that triggers it
BACKENDS = {
    "GitHubActions": "faasr_easypy.backends.github_actions:GitHubActionsBackend",
    "Lambda": "faasr_easypy.backends.lambda_:LambdaBackend",
    "OpenWhisk": "faasr_easypy.backends.openwhisk:OpenWhiskBackend",
    "SLURM": "faasr_easypy.backends.slurm:SlurmBackend",
}


class LocalBackendRequired(BackendError):
    """The server is FaaSType Local: build a LocalBackend (it needs functions and data stores)."""


def faas_type_of(workflow, server_name=None, server=None):
    """(server name, FaaSType) of the server running the entry action (or `server_name`)."""
    name, spec = resolve_server(workflow, server_name, server)
    return name, spec.get("FaaSType")


def backend_class(faas_type):
    """The Backend class for `faas_type`; BackendError if faasr-easypy cannot trigger it."""
    if faas_type in BACKENDS:
        module, _, cls = BACKENDS[faas_type].partition(":")
        return getattr(importlib.import_module(module), cls)
    if faas_type == "Local":
        raise LocalBackendRequired(
            "FaaSType Local runs the functions on this machine: use "
            "faasr_easypy.backends.local.LocalBackend(functions_dir, data_stores) instead of a "
            "remote trigger backend.")
    if faas_type in FAAS_TYPES:
        raise BackendError(
            f"FaaSType {faas_type} is not supported by faasr-easypy yet. Run this workflow with a "
            f"testbed whose compute server is one of {', '.join(sorted(BACKENDS))} or Local.")
    raise BackendError(
        f"FaaSType {faas_type!r} is not a FaaSr compute type. Use one of "
        f"{', '.join(t for t in FAAS_TYPES if t != 'Local')}.")


def backend_for(workflow, server_name=None, **options):
    """The Backend that triggers `workflow`'s entry action.

    `server_name` defaults to the entry action's FaaSServer. `options` go to
    the backend's constructor: ``server`` (a dict replacing the workflow's
    ComputeServers entry, e.g. from a testbed), credentials (``token``,
    ``access_key``/``secret_key``, ``api_key``), endpoints for tests
    (``api_url``, ``endpoint_url``, ``endpoint``), ``payload_url``,
    ``payload_path``, ``timeout``, ``max_retries``, ...
    """
    name, faas_type = faas_type_of(workflow, server_name, options.get("server"))
    cls = backend_class(faas_type)
    return cls(workflow, name, **options)


__all__ = ["BACKENDS", "LocalBackendRequired", "backend_class", "backend_for", "faas_type_of"]
