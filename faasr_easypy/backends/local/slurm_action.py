"""Run ONE local-backend action inside a SLURM job, the way a forked action process does.

The cluster executor (slurm_executor.py) submits each action as a batch job whose script is
`exec <python> -m faasr_easypy.backends.local.slurm_action`. The job description is the one
the scheduler sends a fork server (FAASR_EASYPY_ACTION_JOB, JSON); the action runs through
action_process._run (log, function, invoker lines, .done), and the report the fork server would
send back is put into S3 at FAASR_EASYPY_RESULT_KEY, in the logging data store's bucket, outside
the invocation's folder. S3 is the only state the node and the harness share.
"""

import json
import os
import shutil
import sys
import tempfile
import time

ENV_JOB = "FAASR_EASYPY_ACTION_JOB"
ENV_RESULT_KEY = "FAASR_EASYPY_RESULT_KEY"


def clients_for(stores):
    from faasr_easypy.s3.client import DataStore, make_client

    return {name: make_client(DataStore(**spec)) for name, spec in stores.items()}


def main():
    from faasr_easypy.backends.local.forkserver import SHIM

    sys.path.insert(0, SHIM)  # unmodified functions import FaaSr_py.client.py_client_stubs: ours
    started = time.monotonic()
    job = json.loads(os.environ.pop(ENV_JOB))
    result_key = os.environ.pop(ENV_RESULT_KEY)
    # the harness's workdir root is on its own machine: each job works in a folder of the node's
    root = tempfile.mkdtemp(prefix="faasr-easypy-slurm-action-")
    job.update(workdir_root=root, own_root=True)
    # R actions run in the fork server's warm R server, which a node does not have (yet)
    job.setdefault("r_server", {"error": "the SLURM cluster executor does not run R actions yet; run this "
                                         "workflow on the local fork server (testbeds/local.yaml) or in "
                                         "FaaSr's own runtime on SLURM (testbeds/slurm_local.yaml)"})
    clients = clients_for(job["stores"])
    from faasr_easypy.backends.local.action_process import _run

    try:
        report = _run(job, clients, started)
    except BaseException as exc:  # our own failure (S3 down, ...): report it, as the fork server does
        report = {"ok": False, "triggered": [], "error": f"{type(exc).__name__}: {exc}"}
    finally:
        os.chdir("/")
        if not job.get("keep_workdir"):
            shutil.rmtree(root, ignore_errors=True)
    report.update(job_id=job["job_id"], seconds=round(time.monotonic() - started, 4))
    store = job["stores"][job["log_store"]]
    clients[job["log_store"]].put_object(Bucket=store["bucket"], Key=result_key,
                                         Body=json.dumps(report).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
