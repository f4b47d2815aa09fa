"""The example job: the example workflows in parallel (one mixes R and Python), each with its testscript.

    pyats run job jobs/faasr_job.py --testbed-file testbeds/local.yaml
    pyats run job jobs/faasr_job.py                       # same: the local testbed is the default

Each workflow runs as one pyATS task (testscripts/<stem>.py gets a `tester`
bound to its invocation). Options: --faasr-parallel N, --faasr-timeout S,
--faasr-stream-logs, --faasr-arg ACTION.KEY=VALUE (a list value runs a batch),
--faasr-keep-s3; `pyats run job jobs/faasr_job.py --help` lists them all.
"""

import json
import logging
from pathlib import Path

from faasr_easypy.easypy import WorkflowPool, workflow_statuses

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent
WORKFLOWS = ["data_pipeline", "conditional", "fan_out_fan_in", "failing_function", "mixed_r_python"]


def main(runtime):
    pool = WorkflowPool(runtime)
    for stem in WORKFLOWS:
        pool.submit(workflow=PROJECT / "workflows" / f"{stem}.json",
                    testscript=PROJECT / "testscripts" / f"{stem}.py")
    pool.run()

    # The live statuses every task published, as the jobfile sees them at the end.
    statuses = workflow_statuses(runtime)
    for taskid, entry in sorted(statuses.items()):
        log.info("%-20s %-16s %s", taskid, entry.get("workflow"),
                 ", ".join(f"{k}={v}" for k, v in sorted((entry.get("functions") or {}).items())))
    (Path(runtime.directory) / "faasr_statuses.json").write_text(json.dumps(statuses, indent=2, default=str))
