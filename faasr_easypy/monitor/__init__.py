"""The S3-only monitor: statuses, the poller, the state machine and the loop.

It reads nothing but S3, so the same code watches a local run and a run on
GitHub Actions, Lambda or OpenWhisk.
"""

from .platforms import INVOCATION_PATTERNS, parse_invocation  # noqa: F401
from .poller import S3Poller  # noqa: F401
from .state_machine import InvocationStateMachine  # noqa: F401
from .statuses import FINAL_STATUSES, FunctionState, Status, is_final  # noqa: F401
from .watch import InvocationMonitor, MonitorLoop  # noqa: F401
