"""Run ONE local-backend action inside a SLURM job, the way a forked action process does.

The cluster executor (slurm_executor.py) submits each action as a batch job whose script is
`exec <python> -m faasr_easypy.backends.local.slurm_action`. The job description is the one
the scheduler sends a fork server (FAASR_EASYPY_ACTION_JOB, JSON); the action runs through
action_process._run (log, function, invoker lines, .done), and the report the fork server would
send back is put into S3 at FAASR_EASYPY_RESULT_KEY, in the logging data store's bucket, outside
the invocation's folder. S3 is the only state the node and the harness share.

An R action gets its own R server (r_server.py, the one the fork server keeps warm), started
cold in this job for this one action and stopped before the job ends: a few hundred ms of
Rscript start-up, which a cluster job can afford. It is this process's child, so SLURM's
process tracking ends it with the job, and it exits by itself when this process is gone (EOF
on its control FIFO).
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
    from faasr_easypy.s3.client import DataStore, action_client

    return {name: action_client(DataStore(**spec)) for name, spec in stores.items()}


def main():
    from faasr_easypy.backends.local.forkserver import SHIM

    sys.path.insert(0, SHIM)  # unmodified functions import FaaSr_py.client.py_client_stubs: ours
    started = time.monotonic()
    job = json.loads(os.environ.pop(ENV_JOB))
    result_key = os.environ.pop(ENV_RESULT_KEY)
    # the harness's workdir root is on its own machine: each job works in a folder of the node's
    root = tempfile.mkdtemp(prefix="faasr-easypy-slurm-action-")
    job.update(workdir_root=root, own_root=True)
    r_server = None
    if job.get("type") == "R":
        from faasr_easypy.backends.local.r_server import RServer

        # started before the job's environment is entered, as the fork server's is; R starts
        # while this process sets up its S3 clients and log
        r_server = RServer(parent=root)
        job["r_server"] = r_server.info()
    clients = clients_for(job["stores"])
    from faasr_easypy.backends.local.action_process import _run, describe, limit_memory

    progress = {"triggered": [], "final_written": False}
    try:
        limit_memory(job.get("memory_limit_mib"))  # as a forked action process: the action's own cap
        report = _run(job, clients, started, progress)
    except BaseException as exc:  # our own failure (S3 down, ...): report it, as the fork server does
        # once its invoker lines are in S3 the successors must run, as on the fork server
        report = {"ok": False, "triggered": progress["triggered"], "error": describe(exc)}
    finally:
        if r_server is not None:
            r_server.action_ended(os.getpid())  # the worker is gone already (r_action closes it)
            r_server.stop()  # nothing of R outlives the job
        os.chdir("/")
        if not job.get("keep_workdir"):
            shutil.rmtree(root, ignore_errors=True)
    report.update(job_id=job["job_id"], seconds=round(time.monotonic() - started, 4))
    store = job["stores"][job["log_store"]]
    clients[job["log_store"]].put_object(Bucket=store["bucket"], Key=result_key,
                                         Body=json.dumps(report).encode())
    return 0


if __name__ == "__main__":
    code = main()
    # The report is in S3: end as a forked action process does (os._exit), without the interpreter's
    # teardown (~0.1 s with boto3 loaded), so the job frees its node sooner; a thread the function
    # left running ends with it, as on the fork server.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
