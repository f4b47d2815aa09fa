"""faasr-easypy command line: validate | run | s3 serve.

User mistakes (UserError) print one paragraph and exit 2; Ctrl-C and SIGTERM
stop everything the command started and exit 130 / 143.
"""

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path

from .errors import UserError
from .redact import Redactor, redacted_output


class Terminated(BaseException):
    """SIGTERM, turned into an exception so `with` blocks clean up."""


def _on_sigterm(signum, frame):
    raise Terminated()


def build_parser():
    from .arguments import StrictParser

    # Strict: `run --timout 5` is refused with "did you mean --timeout?" (subcommands too).
    parser = StrictParser(prog="faasr-easypy",
                          description="Test FaaSr workflows on this machine or on FaaSr's platforms.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check workflow JSON files and report every problem")
    p.add_argument("workflows", nargs="+", metavar="WORKFLOW.json")
    p.add_argument("--functions", nargs="?", const="", default=None, metavar="DIR",
                   help="also check the functions folder, as run does before it starts: every .py "
                        "file compiles, every FunctionName is defined, imports resolve (DIR default: "
                        "functions/<WorkflowName> next to each workflow file)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a workflow on the embedded default (local S3 + local backend)")
    p.add_argument("workflow", metavar="WORKFLOW.json")
    p.add_argument("--functions", metavar="DIR",
                   help="folder with the workflow's Python functions "
                        "(default: functions/<WorkflowName> next to the workflow file)")
    p.add_argument("--timeout", type=positive_seconds, default=300.0, metavar="SECONDS",
                   help="overall deadline for the run (default 300)")
    p.add_argument("--action-timeout", type=positive_seconds, default=600.0, metavar="SECONDS",
                   help="time limit of one action (default 600)")
    p.add_argument("--check-interval", type=positive_seconds, default=0.5, metavar="SECONDS",
                   help="how often S3 is polled (default 0.5)")
    p.add_argument("--stream-logs", action="store_true", help="print each function's log lines as they arrive")
    p.add_argument("--max-parallel", type=int, default=None, metavar="N",
                   help="actions running at once (default 4 per core)")
    p.add_argument("--action-memory", type=positive_mib, default=None, metavar="MIB",
                   help="memory one action may allocate, in MiB (default: a quarter of this machine's RAM); "
                        "an action over it fails with 'exceeded its memory limit'")
    p.add_argument("--keep-workdirs", action="store_true",
                   help="keep each action's working directory (for debugging)")
    p.add_argument("--backend", choices=("local", "faasr-py"), default="local",
                   help="local: faasr-easypy's fast local backend (default); faasr-py: the real "
                        "faasr-py 2.1.0 runtime, one action at a time, in its own virtualenv "
                        "(created on first use; see docs/FIDELITY.md)")
    p.set_defaults(func=cmd_run)

    from .report.cli import add_subcommand as add_report_subcommand
    add_report_subcommand(sub)  # faasr-easypy report ARCHIVE.zip

    p = sub.add_parser("s3", help="the embedded S3 server")
    s3sub = p.add_subparsers(dest="s3_command", metavar="ACTION")
    serve = s3sub.add_parser("serve", help="serve the embedded S3 server until Ctrl-C")
    serve.add_argument("--port", type=int, default=None, help="S3 port (default: a free one)")
    serve.add_argument("--data-dir", default=None, help="keep data in this folder (default: a temporary one)")
    serve.add_argument("--bucket", default="faasr", help="bucket to create (default faasr)")
    serve.set_defaults(func=cmd_s3_serve)
    p.set_defaults(func=lambda args: _usage(p))
    return parser


def positive_seconds(text):
    """argparse type: a number of seconds greater than 0 (also used by the Easypy plugin)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def positive_mib(text):
    """argparse type: a whole number of MiB, at least 16."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of MiB") from None
    if value < 16:
        raise argparse.ArgumentTypeError(f"{text!r} is too small: give at least 16 (MiB)")
    return value


def _usage(parser):
    parser.print_help(sys.stderr)
    return 2


def cmd_validate(args):
    from .backends.local.r_packages import validate_warnings as r_validate_warnings
    from .errors import ValidationError
    from .function_check import require_functions
    from .workflow import default_functions_dir, load_workflow

    failed = 0
    for path in args.workflows:
        try:
            wf = load_workflow(path)
            checked = ""
            if args.functions is not None:
                folder = Path(args.functions) if args.functions else default_functions_dir(path, wf.name)
                require_functions(wf, folder, fix_folder=_functions_fix(path))
                checked = f", functions in {folder} OK"
        except ValidationError as exc:
            failed += 1
            print(exc, file=sys.stderr)
            continue
        ranked = sum(1 for a in wf.actions if wf.is_ranked(a))
        print(f"{path}: OK - workflow {wf.name}, {len(wf.actions)} actions, entry {wf.entry}"
              + (f", {ranked} ranked" if ranked else "") + checked)
        for warning in r_validate_warnings(wf):  # R actions: what is missing on this machine
            print(f"{path}: warning - {warning}", file=sys.stderr)
    # The exit code of every user mistake (run gives the same for the same file).
    return ValidationError.exit_code if failed else 0


def _functions_fix(workflow_path):
    return f"pass --functions DIR naming the folder that holds the Python functions of {workflow_path}"


def cmd_run(args):
    from .environment import LocalEnvironment
    from .function_check import actions_interpreter, require_functions
    from .runner import WorkflowRunner
    from .status_table import StatusTable
    from .workflow import default_functions_dir, load_workflow

    wf = load_workflow(args.workflow)
    functions = Path(args.functions) if args.functions else default_functions_dir(args.workflow, wf.name)
    # Before S3 starts: a missing function or package fails here, not after the trigger.
    require_functions(wf, functions, interpreter=actions_interpreter(args.backend),
                      fix_folder=_functions_fix(args.workflow))
    with LocalEnvironment(wf, functions, max_parallel=args.max_parallel,
                          action_timeout=args.action_timeout, keep_workdirs=args.keep_workdirs,
                          backend=args.backend, action_memory_mib=args.action_memory) as env:
        redactor = getattr(args, "redactor", None)
        if redactor is not None:  # the S3 keys of this run (an embedded server makes new ones)
            redactor.add(*env.s3.secrets(), source="the S3 server")
        table = StatusTable(wf)
        # Watched through S3 alone, exactly as a run on GitHub Actions would be.
        runner = WorkflowRunner(wf, env.backend, env.logging_store, timeout=args.timeout,
                                check_interval=args.check_interval, stream_logs=args.stream_logs,
                                on_status_change=table.on_status_change, log_printer=table.print_log,
                                s3_server=env.s3.server)
        print(f"S3: {env.s3.endpoint} bucket {env.logging_store.bucket}")
        print(f"Invocation folder: {runner.invocation.folder}", flush=True)
        started = time.monotonic()
        with runner:
            runner.wait()
        return _print_outcome(wf, runner, table.labels, time.monotonic() - started)


def _print_outcome(wf, runner, labels, seconds):
    from .monitor.statuses import BLOCKING_STATUSES

    statuses = runner.get_function_statuses()
    print("Outcome:")
    bad = 0
    for label in labels:
        state = statuses[label]
        if state.status in BLOCKING_STATUSES or not state.status.is_final:
            bad += 1
        reason = f"  {state.reason}" if state.reason else ""
        print(f"  {label:<30} {state.status.value}{reason}")
    verdict = "timed out" if runner.timed_out else ("failed" if bad else "passed")
    print(f"Workflow {wf.name} {verdict} in {seconds:.2f} s "
          f"({runner.s3_requests} S3 requests to watch it)")
    return 0 if not bad and not runner.timed_out else 1


def cmd_s3_serve(args):
    import os

    from .environment import ENV_ACCESS_KEY, ENV_SECRET_KEY
    from .s3.server import EmbeddedS3Server

    # Credentials from the environment when given, so clients already know them;
    # otherwise generated, and the secret goes to a private file, never the terminal.
    server = EmbeddedS3Server(data_dir=args.data_dir, bucket=args.bucket, port=args.port,
                              access_key=os.environ.get(ENV_ACCESS_KEY),
                              secret_key=os.environ.get(ENV_SECRET_KEY))
    with server:
        print(f"S3 endpoint: {server.endpoint}  bucket: {server.bucket}  "
              f"(ready in {server.startup_seconds:.2f} s)")
        print(f"  export FAASR_EASYPY_S3_ENDPOINT={server.endpoint}")
        if not os.environ.get(ENV_SECRET_KEY):
            secret_file = Path(server.data_dir) / "secret_key"
            secret_file.write_text(server.secret_key)
            secret_file.chmod(0o600)
            print(f"  export {ENV_ACCESS_KEY}={server.access_key}")
            print(f"  export {ENV_SECRET_KEY}=$(cat {secret_file})")
        print("Serving; press Ctrl-C to stop.", flush=True)
        while server.running:
            time.sleep(0.5)
        raise UserError(f"The S3 server stopped by itself; its log is {server.data_dir}/weed.log")


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UserError as exc:
        print(f"{exc} (see {parser.prog} --help)", file=sys.stderr)
        return exc.exit_code
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # Everything a command prints (streamed function logs, reasons, errors) is masked,
    # except by `s3 serve`, whose job is to print its keys.
    args.redactor = Redactor()
    masked = redacted_output(args.redactor) if args.func is not cmd_s3_serve else contextlib.nullcontext()
    try:
        with masked:
            try:
                return args.func(args)
            except UserError as exc:
                print(f"faasr-easypy: {exc}", file=sys.stderr)
                return exc.exit_code
            except KeyboardInterrupt:
                print("faasr-easypy: interrupted; everything it started has been stopped", file=sys.stderr)
                return 130
            except Terminated:
                print("faasr-easypy: terminated; everything it started has been stopped", file=sys.stderr)
                return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
