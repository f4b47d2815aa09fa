"""faasr-easypy command line: validate | run | report | s3 serve/ls/cat.

User mistakes (UserError) print one paragraph and exit 2; Ctrl-C and SIGTERM
stop everything the command started and exit 130 / 143.
"""

import contextlib
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .arguments import positive_mib, positive_seconds
from .defaults import DEFAULT_BUCKET, DEFAULTS
from .defaults import RUNTIMES as MACHINE_BACKENDS
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

    p = sub.add_parser("run", help="run a workflow on the embedded default (local S3 + local backend) "
                                   "or where a testbed says")
    p.add_argument("workflow", metavar="WORKFLOW.json")
    p.add_argument("--testbed", metavar="YAML", default=None,
                   help="testbed saying where functions run and where S3 is, as for `pyats run job "
                        "--testbed-file` (default: the embedded S3 server and --backend)")
    p.add_argument("--functions", metavar="DIR",
                   help="folder with the workflow's Python functions "
                        "(default: functions/<WorkflowName> next to the workflow file)")
    p.add_argument("--arg", "--faasr-arg", dest="args", metavar="ACTION.KEY=VALUE", action="append", default=[],
                   help="override an action argument for this run (VALUE is JSON when it parses); repeatable")
    p.add_argument("--timeout", type=positive_seconds, default=None, metavar="SECONDS",
                   help=f"overall deadline for the run (default: testbed Timeout, else {DEFAULTS['timeout']:g})")
    p.add_argument("--action-timeout", type=positive_seconds, default=None, metavar="SECONDS",
                   help=f"time limit of one action (default: testbed ActionTimeout, else "
                        f"{DEFAULTS['action_timeout']:g})")
    p.add_argument("--check-interval", type=positive_seconds, default=None, metavar="SECONDS",
                   help=f"how often S3 is polled (default: testbed CheckInterval, else "
                        f"{DEFAULTS['check_interval']:g})")
    p.add_argument("--stream-logs", action="store_true", help="print each function's log lines as they arrive")
    p.add_argument("--max-parallel-actions", "--max-parallel", dest="max_parallel_actions", type=int,
                   default=DEFAULTS["max_parallel_actions"], metavar="N",
                   help="actions running at once (default 4 per core)")
    p.add_argument("--action-memory", type=positive_mib, default=None, metavar="MIB",
                   help="memory one action may allocate, in MiB (default: a quarter of this machine's RAM); "
                        "an action over it fails with 'exceeded its memory limit'")
    p.add_argument("--keep-workdirs", action="store_true",
                   help="keep each action's working directory (for debugging)")
    p.add_argument("--keep-s3", nargs="?", const="", default=None, metavar="DIR",
                   help="keep the embedded S3 server's data after the run (in DIR, default a new folder "
                        "in the temp folder) and print how to look at it with `faasr-easypy s3 ls/cat`")
    p.add_argument("--backend", choices=MACHINE_BACKENDS, default=None,
                   help="local: faasr-easypy's fast local backend (default); faasr-py: the real "
                        "faasr-py 2.1.0 runtime, one action at a time, in its own virtualenv "
                        "(created on first use; see docs/FIDELITY.md); with --testbed, the testbed's "
                        "Runtime says")
    p.set_defaults(func=cmd_run)

    from .report.cli import add_subcommand as add_report_subcommand
    add_report_subcommand(sub)  # faasr-easypy report ARCHIVE.zip

    p = sub.add_parser("s3", help="the embedded S3 server")
    s3sub = p.add_subparsers(dest="s3_command", metavar="ACTION")
    serve = s3sub.add_parser("serve", help="serve the embedded S3 server until Ctrl-C")
    serve.add_argument("--port", type=int, default=None, help="S3 port (default: a free one)")
    serve.add_argument("--data-dir", default=None, help="keep data in this folder (default: a temporary one)")
    serve.add_argument("--bucket", default=DEFAULT_BUCKET, help=f"bucket to create (default {DEFAULT_BUCKET})")
    serve.set_defaults(func=cmd_s3_serve)
    where = ("the embedded server's data folder (printed by `run --keep-s3`; default: the S3 of "
             "FAASR_EASYPY_S3_ENDPOINT)")
    ls = s3sub.add_parser("ls", help="list objects (kept data of `run --keep-s3`, or FAASR_EASYPY_S3_ENDPOINT)")
    ls.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="only keys starting with PREFIX")
    ls.add_argument("--data-dir", default=None, help=where)
    ls.add_argument("--bucket", default=None, help="only this bucket (default: every bucket)")
    ls.set_defaults(func=cmd_s3_ls)
    cat = s3sub.add_parser("cat", help="print one object (kept data of `run --keep-s3`, or FAASR_EASYPY_S3_ENDPOINT)")
    cat.add_argument("key", metavar="KEY")
    cat.add_argument("--data-dir", default=None, help=where)
    cat.add_argument("--bucket", default="faasr", help="bucket (default faasr)")
    cat.set_defaults(func=cmd_s3_cat)
    p.set_defaults(func=lambda args: _usage(p))
    return parser


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
    from .function_check import actions_interpreter, require_functions
    from .overrides import check_actions, overrides_from
    from .runner import WorkflowRunner
    from .status_table import StatusTable
    from .workflow import default_functions_dir, load_workflow

    wf = load_workflow(args.workflow)
    overrides = overrides_from(args.args, option="--arg")
    check_actions(overrides, wf, args.workflow)
    table = StatusTable(wf)
    # Watched through S3 alone, exactly as a run on GitHub Actions would be.
    options = dict(timeout=args.timeout, check_interval=args.check_interval, stream_logs=args.stream_logs,
                   on_status_change=table.on_status_change, log_printer=table.print_log, overrides=overrides)
    redactor = getattr(args, "redactor", None)
    if args.testbed:
        if args.backend or args.max_parallel_actions or args.keep_workdirs or args.keep_s3 is not None:
            raise UserError("--backend, --max-parallel-actions, --keep-workdirs and --keep-s3 set up the embedded "
                            f"default; with --testbed {args.testbed} the testbed says where the workflow runs. "
                            "Fix: give its devices' Runtime / MaxParallel in the testbed, or leave --testbed out.")
        runner = WorkflowRunner.from_testbed(wf, args.testbed, functions=args.functions,
                                             action_timeout=args.action_timeout, **options)
        return _watch(wf, runner, table, f"testbed {args.testbed}", redactor)
    from .environment import LocalEnvironment

    functions = Path(args.functions) if args.functions else default_functions_dir(args.workflow, wf.name)
    # Before S3 starts: a missing function or package fails here, not after the trigger.
    backend = args.backend or MACHINE_BACKENDS[0]
    require_functions(wf, functions, interpreter=actions_interpreter(backend),
                      fix_folder=_functions_fix(args.workflow))
    kept = _kept_s3_folder(args.keep_s3, wf.name)
    with LocalEnvironment(wf, functions, max_parallel=args.max_parallel_actions,
                          action_timeout=args.action_timeout or DEFAULTS["action_timeout"],
                          keep_workdirs=args.keep_workdirs, backend=backend, s3_data_dir=kept,
                          action_memory_mib=args.action_memory) as env:
        runner = WorkflowRunner(wf, env.backend, env.logging_store, s3_server=env.s3.server, **options)
        after = (lambda: _how_to_look(runner, kept)) if args.keep_s3 is not None else None
        return _watch(wf, runner, table, f"S3: {env.s3.endpoint}", redactor, after)


def _watch(wf, runner, table, where, redactor=None, after=None):
    """Print where the run is, then start it (the table draws from the first status on)."""
    try:
        if redactor is not None:  # the S3 keys of this run (an embedded server makes new ones)
            store = runner.data_store
            redactor.add(*[k for k in (store.access_key, store.secret_key) if k], source="the S3 server")
        table.follow(runner.get_function_statuses)
        print(f"{where} bucket {runner.data_store.bucket}")
        print(f"Invocation folder: {runner.invocation.folder}", flush=True)
        started = time.monotonic()
        with table, runner:
            runner.wait()
        code = _print_outcome(wf, runner, table.labels, time.monotonic() - started, listed=not table.live)
        if after is not None:
            after()
        return code
    finally:
        runner.close()


def _kept_s3_folder(option, workflow_name):
    """The data folder `--keep-s3 [DIR]` asks for (None: not kept). An external S3
    (FAASR_EASYPY_S3_ENDPOINT) keeps its data anyway."""
    import os
    import tempfile

    from .environment import ENV_ENDPOINT

    if option is None or os.environ.get(ENV_ENDPOINT):
        return None
    if option:
        folder = Path(option)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--keep-s3 {option}: that is a file, not a folder. Fix: name a folder "
                            "(new, or one a previous --keep-s3 run wrote), or leave DIR out.")
        return folder
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"faasr-easypy-s3-{workflow_name}-{stamp}-"))


def _how_to_look(runner, kept):
    folder = runner.invocation.folder
    log = runner.layout.log_key(runner.workflow.entry)
    where = f" --data-dir {kept}" if kept else ""
    bucket = runner.data_store.bucket
    print(f"S3 data kept {'in ' + str(kept) if kept else 'on ' + runner.data_store.endpoint}. Look at it with:")
    print(f"  faasr-easypy s3 ls{where} {folder}/")
    print(f"  faasr-easypy s3 cat{where} --bucket {bucket} '{log}'")
    if kept:
        print(f"  faasr-easypy s3 serve{where}    (serve it to any S3 client)")
        print(f"Delete the folder when you are done: rm -r {kept}")


def _print_outcome(wf, runner, labels, seconds, listed=True):
    """The verdict line, after one line per function unless the live table already shows them."""
    from .monitor.statuses import BLOCKING_STATUSES

    statuses = runner.get_function_statuses()
    if listed:
        print("Outcome:")
    bad = 0
    for label in labels:
        state = statuses[label]
        if state.status in BLOCKING_STATUSES or not state.status.is_final:
            bad += 1
        reason = f"  {state.reason}" if state.reason else ""
        if listed:
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


@contextmanager
def _s3_for_reading(data_dir):
    """(S3Service, was started here) for `s3 ls/cat`: the kept data folder served by a
    new embedded server for as long as the command runs, or FAASR_EASYPY_S3_ENDPOINT."""
    from .environment import ENV_ENDPOINT, S3Service
    from .s3.server import EmbeddedS3Server

    if data_dir:
        folder = Path(data_dir)
        if not folder.is_dir() or not any(folder.iterdir()):
            raise UserError(f"--data-dir {data_dir}: no S3 data there. Fix: give the folder "
                            "`faasr-easypy run --keep-s3` printed.")
        with EmbeddedS3Server(data_dir=folder) as server:
            yield S3Service(server.endpoint, server.access_key, server.secret_key, server=server)
        return
    external = S3Service.from_environment()
    if external is None:
        raise UserError(f"No S3 to read: pass --data-dir DIR (the folder `faasr-easypy run --keep-s3` "
                        f"printed), or set {ENV_ENDPOINT} and its keys for an external S3.")
    yield external


def cmd_s3_ls(args):
    from .s3.client import make_client

    with _s3_for_reading(args.data_dir) as s3:
        client = make_client(s3.store("ls", args.bucket or "faasr"))
        buckets = [args.bucket] if args.bucket else [b["Name"] for b in client.list_buckets().get("Buckets", [])]
        count = 0
        for bucket in buckets:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=args.prefix):
                for obj in page.get("Contents", []):
                    if obj["Key"].startswith(".faasr-easypy-ready/"):
                        continue  # the server's own readiness probe
                    print(f"{obj['Size']:>10}  {bucket}/{obj['Key']}")
                    count += 1
        print(f"{count} object{'s' if count != 1 else ''}", file=sys.stderr)
    return 0


def cmd_s3_cat(args):
    from botocore.exceptions import ClientError

    from .s3.client import make_client

    with _s3_for_reading(args.data_dir) as s3:
        client = make_client(s3.store("cat", args.bucket))
        try:
            body = client.get_object(Bucket=args.bucket, Key=args.key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise UserError(f"s3://{args.bucket}/{args.key}: {code or exc}. Fix: list the keys with "
                            f"`faasr-easypy s3 ls{' --data-dir ' + args.data_dir if args.data_dir else ''} "
                            f"PREFIX` and give one of them.") from None
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0


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
                # Everything is stopped: a second Ctrl-C now must not turn the exit into a
                # death by SIGINT (Python's exit puts SIGINT back to SIG_DFL, a fast stop is
                # over within 50 ms of the first).
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                print("faasr-easypy: interrupted; everything it started has been stopped", file=sys.stderr)
                return 130
            except Terminated:
                print("faasr-easypy: terminated; everything it started has been stopped", file=sys.stderr)
                return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
