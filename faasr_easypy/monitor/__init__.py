"""The S3-only monitor: statuses, the poller, the state machine and the loop.

It reads nothing but S3, so the same code watches a local run and a run on
GitHub Actions, Lambda or OpenWhisk.
"""

# Loaded on first use: report/ reads the status names without loading the poller and boto3.
_API = {"INVOCATION_PATTERNS": "platforms", "parse_invocation": "platforms", "S3Poller": "poller",
        "InvocationStateMachine": "state_machine", "FINAL_STATUSES": "statuses", "FunctionState": "statuses",
        "Status": "statuses", "is_final": "statuses", "InvocationMonitor": "watch", "MonitorLoop": "watch"}

__all__ = sorted(_API)


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'faasr_easypy.monitor' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
