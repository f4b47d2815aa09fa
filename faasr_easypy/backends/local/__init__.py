"""The local compute backend: unmodified FaaSr Python functions on this machine."""

from .scheduler import LocalBackend, default_parallelism  # noqa: F401
