"""`faasr-easypy report ARCHIVE.zip [-o OUT.html]`: (re)generate the HTML report.
`faasr-easypy report --history archives/ [-o OUT.html] [--runs N]`: the history of the last runs
(with ARCHIVE.zip too: that job's report with a history section).

Wiring into the main command line (faasr_easypy/cli.py):

    from .report.cli import add_subcommand
    add_subcommand(sub)            # sub = parser.add_subparsers(...)

or call ``main(argv)`` with the arguments after ``report``.
"""

import argparse
import sys

from ..arguments import positive_count
from ..errors import UserError

HELP = "write the HTML report of a pyATS job from its archive"
DESCRIPTION = ("Read faasr_results.json from a pyATS archive (.zip), a run directory or the JSON file "
               "itself, and write the self-contained HTML report (no network needed to view it).")


def configure_parser(parser):
    parser.add_argument("archive", metavar="ARCHIVE.zip", nargs="?", default=None,
                        help="archive zip of a job (or its run directory, or a faasr_results.json)")
    parser.add_argument("-o", "--output", metavar="OUT.html", default=None,
                        help="where to write the report (default: <ARCHIVE>.faasr_report.html next to "
                             "the archive; with --history alone, DIR/faasr_history.html)")
    parser.add_argument("--history", metavar="DIR", default=None,
                        help="show the last runs found in this archives folder: per workflow and testcase "
                             "results over time, flaky functions, new failures and fixed ones")
    parser.add_argument("--runs", metavar="N", type=positive_count, default=20,
                        help="how many runs of history (default 20)")
    return parser


def build_parser(prog="faasr-easypy report"):
    return configure_parser(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def run(args):
    """Run the command for parsed `args`; returns the exit code. Raises UserError on bad input."""
    from .archive import default_output, read_results, write_report
    from .model import normalise

    if args.archive is None and args.history is None:
        raise UserError("faasr-easypy report needs an archive (ARCHIVE.zip) or --history DIR. Fix: give the "
                        "archive zip a job wrote, or the archives folder whose history you want.")
    history = _history(args) if args.history else None
    if args.archive is None:
        return _write_history_page(args, history)
    results = read_results(args.archive)
    report = normalise(results)
    if history is not None:
        history = _with_current(history, results, args)
    out = args.output or default_output(args.archive)
    try:
        path = write_report(report, out, history=history)
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}.") from None
    job = report.job
    size = path.stat().st_size
    print(f"{path}: {len(report.workflows)} workflow(s), job {job.name} {job.verdict.upper()}"
          f"{' (partial)' if report.partial else ''}, {size / 1024:.0f} KiB")
    return 0


def _history(args):
    from pathlib import Path

    from .history import load_runs

    folder = Path(args.history)
    if not folder.is_dir():
        raise UserError(f"--history {args.history}: no such folder. Fix: give the archives folder the jobs "
                        "write to (the project's archives/, or the --archive-dir they were given).")
    exclude = [args.archive] if args.archive else []
    return load_runs(folder, limit=args.runs - (1 if args.archive else 0), exclude=exclude)


def _with_current(runs, results, args):
    from .history import analyse, summary_of

    return analyse(runs + [summary_of(results, archive=args.archive)])


def _write_history_page(args, runs):
    from pathlib import Path

    from .history import analyse
    from .render import render_history_html, write_atomic

    if not runs:
        raise UserError(f"--history {args.history}: no archive with FaaSr results there. Fix: give the folder "
                        "that holds the jobs' archive zips.")
    view = analyse(runs)
    out = Path(args.output) if args.output else Path(args.history) / "faasr_history.html"
    try:
        path = write_atomic(out, render_history_html(view, args.history))
    except OSError as exc:
        raise UserError(f"cannot write the history to {out}: {exc.strerror or exc}.") from None
    print(f"{path}: {len(view.runs)} run(s), {len(view.new_failures)} new failure(s), {len(view.fixed)} fixed, "
          f"{len(view.flaky)} flaky function(s), {path.stat().st_size / 1024:.0f} KiB")
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
