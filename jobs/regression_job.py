"""Regression job: every workflow of a folder with its testscript, N at a time.

    pyats run job jobs/regression_job.py [--testbed-file testbeds/local.yaml]
        [--workflows-dir workflows] [--testscripts-dir testscripts] [--faasr-parallel N]

workflows/<stem>.json is paired with testscripts/<stem>.py; a workflow without
one gets the generic testscript (every invoked function completed, every
ExpectedOutputs key exists). Functions default to workflows/functions/<WorkflowName>/.
"""

import argparse
import logging
import sys
from pathlib import Path

from faasr_easypy.easypy import run_workflows

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="regression_job")
    parser.add_argument("--workflows-dir", default=str(PROJECT / "workflows"),
                        help="folder of workflow JSON files (default: workflows/)")
    parser.add_argument("--testscripts-dir", default=str(PROJECT / "testscripts"),
                        help="folder of paired testscripts <stem>.py (default: testscripts/)")
    parser.add_argument("--pattern", default="*.json", help="which files of the folder (default *.json)")
    # pyATS leaves the arguments it does not know in sys.argv for the jobfile.
    args, _ = parser.parse_known_args(argv)
    return args


def main(runtime):
    args = parse_args(sys.argv[1:])
    folder = Path(args.workflows_dir)
    workflows = sorted(folder.glob(args.pattern))
    if not workflows:
        raise SystemExit(f"{folder}: no workflow files matching {args.pattern}")
    for path in workflows:
        script = Path(args.testscripts_dir) / f"{path.stem}.py"
        log.info("%-28s %s", path.name, script.name if script.is_file() else "(generic testscript)")
    run_workflows(workflows, runtime, testscripts_dir=args.testscripts_dir)
