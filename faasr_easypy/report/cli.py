"""`faasr-easypy report ARCHIVE.zip [-o OUT.html]`: (re)generate the HTML report.

Wiring into the main command line (faasr_easypy/cli.py):

    from .report.cli import add_subcommand
    add_subcommand(sub)            # sub = parser.add_subparsers(...)

or call ``main(argv)`` with the arguments after ``report``.
"""

import argparse
import sys

from ..errors import UserError

HELP = "write the HTML report of a pyATS job from its archive"
DESCRIPTION = ("Read faasr_results.json from a pyATS archive (.zip), a run directory or the JSON file "
               "itself, and write the self-contained HTML report (no network needed to view it).")


def configure_parser(parser):
    parser.add_argument("archive", metavar="ARCHIVE.zip",
                        help="archive zip of a job (or its run directory, or a faasr_results.json)")
    parser.add_argument("-o", "--output", metavar="OUT.html", default=None,
                        help="where to write the report (default: <ARCHIVE>.faasr_report.html next to "
                             "the archive)")
    return parser


def build_parser(prog="faasr-easypy report"):
    return configure_parser(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def run(args):
    """Run the command for parsed `args`; returns the exit code. Raises UserError on bad input."""
    from .archive import default_output, read_results, write_report
    from .model import normalise

    report = normalise(read_results(args.archive))
    out = args.output or default_output(args.archive)
    try:
        path = write_report(report, out)
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}.") from None
    job = report.job
    size = path.stat().st_size
    print(f"{path}: {len(report.workflows)} workflow(s), job {job.name} {job.verdict.upper()}"
          f"{' (partial)' if report.partial else ''}, {size / 1024:.0f} KiB")
    return 0


def add_subcommand(subparsers):
    """Add `report` to the main CLI's subparsers; its func takes the parsed args."""
    p = subparsers.add_parser("report", help=HELP, description=DESCRIPTION)
    configure_parser(p)
    p.set_defaults(func=run)
    return p


def main(argv=None):
    """Entry point: returns 0 on success, 2 on a user error (message on stderr, no traceback)."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"faasr-easypy: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
