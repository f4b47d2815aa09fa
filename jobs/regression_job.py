"""Regression job: every workflow of a folder with its testscript, N at a time.

    pyats run job jobs/regression_job.py [--testbed-file testbeds/local.yaml]
        [--workflows-dir workflows] [--testscripts-dir DIR] [--pattern GLOB] [--faasr-parallel N]

workflows/<stem>.json is paired with <testscripts-dir>/<stem>.py, by default the
testscripts/ folder beside the workflows folder (docs/EASYPY.md); a workflow without
one gets the generic testscript (every invoked function completed, every
ExpectedOutputs key exists). Functions default to workflows/functions/<WorkflowName>/.
Arguments are parsed strictly: an unknown or misspelled one ends the job (exit 2).
"""

import logging
from pathlib import Path

from faasr_easypy.easypy import run_workflows
from faasr_easypy.easypy.arguments import ArgumentError, StrictParser, parse_job_args, refuse
from faasr_easypy.easypy.task import GENERIC_TESTSCRIPT, find_testscript

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent


def build_parser():
    parser = StrictParser(prog="regression_job")
    parser.add_argument("--workflows-dir", default=str(PROJECT / "workflows"),
                        help="folder of workflow JSON files (default: workflows/)")
    parser.add_argument("--testscripts-dir", default=None,
                        help="folder of paired testscripts <stem>.py (default: testscripts/ beside "
                             "the workflows folder)")
    parser.add_argument("--pattern", default="*.json", help="which files of the folder (default *.json)")
    return parser


def main(runtime):
    args = parse_job_args(build_parser())  # what pyATS left in sys.argv: ours, or a mistake
    folder = Path(args.workflows_dir)
    if not folder.is_dir():
        refuse(ArgumentError(f"regression_job: --workflows-dir {folder} is not a folder. Fix: name the "
                             "folder that holds the workflow JSON files."))
    workflows = sorted(folder.glob(args.pattern))
    if not workflows:
        refuse(ArgumentError(f"regression_job: {folder} has no workflow files matching {args.pattern}. "
                             "Fix: check --workflows-dir and --pattern."))
    for path in workflows:
        script = find_testscript(path, args.testscripts_dir)
        log.info("%-28s %s", path.name, script if script != GENERIC_TESTSCRIPT else "(generic testscript)")
    run_workflows(workflows, runtime, testscripts_dir=args.testscripts_dir)
