"""S3 access: a client factory for FaaSr data stores and the embedded server."""

from .client import DataStore, make_client  # noqa: F401
