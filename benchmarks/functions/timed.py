import time

from FaaSr_py.client.py_client_stubs import faasr_log


def sleepy(seconds=0.5, lines=3):
    """Log `lines` lines spread over `seconds` of sleep, so a monitor sees a log grow."""
    seconds, lines = float(seconds), max(1, int(lines))
    for i in range(lines):
        faasr_log(f"sleepy: step {i + 1} of {lines}, sleeping {seconds / lines:.3f} s")
        time.sleep(seconds / lines)
    faasr_log(f"sleepy: slept {seconds:.3f} s")
