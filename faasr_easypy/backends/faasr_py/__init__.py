"""The faasr-py backend: actions run in the real faasr-py 2.1.0 runtime (a fidelity check)."""

from .backend import FaaSrPyBackend  # noqa: F401
from .venv import FaaSrPyUnavailable, faasr_py_python  # noqa: F401
