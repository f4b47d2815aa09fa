import time

from FaaSr_py.client.py_client_stubs import faasr_log


def stamp():
    """Log wall-clock start, so a benchmark can measure dispatch from outside."""
    faasr_log(f"t={time.time():.6f}")


def noop():
    return None
