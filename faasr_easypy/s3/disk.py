"""Is the embedded S3 server's disk full?

weed answers a write it cannot store with a bare "InternalError ... please try again", which
boto3 retries (an action's client 10 times: ~37 s) before the function fails with it. The
harness owns the server and its data folder, so it can tell the true reason itself.
"""

import os
import shutil
import tempfile

from ..sizes import fmt_bytes

# weed stores an object in chunks of up to 4 MiB (`-filer.maxMB`): with less free than one,
# writes of any size fail (and the small ones soon after, when its index grows).
FULL_BELOW = 4 * 2**20


def disk_full(folder):
    """"its disk is full (...)" when the disk of `folder` has less than FULL_BELOW bytes
    free, else None (also when it cannot be asked: then nothing is known)."""
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return None
    if usage.free >= FULL_BELOW:
        return None
    in_tmp = os.path.commonpath([os.path.abspath(folder), tempfile.gettempdir()]) == tempfile.gettempdir()
    return (f"its disk is full ({fmt_bytes(usage.free)} free of {fmt_bytes(usage.total)} on the disk of its data "
            f"folder {folder}), so it cannot store what the functions write. Fix: free space on that disk"
            + (", or set TMPDIR to a folder on a disk with more room (the embedded server keeps its data "
               "in TMPDIR)" if in_tmp else ""))
