"""The faasr-easypy command as a user runs it: real processes, exit codes, output."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import REPO
from .processes import alive, cmdline, descendants

BIN = Path(sys.executable).parent / "faasr-easypy"
pytestmark = pytest.mark.timeout(180)


def cli(*args, **kwargs):
    """The command run from the repository root (the arguments' relative paths are its)."""
    kwargs.setdefault("cwd", REPO)
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120, **kwargs)


def test_validate_ok_and_bad(tmp_path):
    ok = cli("validate", "workflows/data_pipeline.json", "workflows/fan_out_fan_in.json")
    assert ok.returncode == 0
    assert "workflows/fan_out_fan_in.json: OK - workflow FanOutFanIn, 3 actions, entry split, 1 ranked" in ok.stdout

    bad = tmp_path / "bad.json"
    bad.write_text('{"WorkflowName": "x", "ActionList": {"a": {"InvokeNext": ["a"]}}}')
    res = cli("validate", str(bad))
    assert res.returncode == 2
    assert f"{bad} has" in res.stderr and "$.FunctionInvoke: is missing" in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_file_is_a_clear_error():
    res = cli("run", "no/such/workflow.json")
    assert res.returncode == 2
    assert "no/such/workflow.json: file not found" in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_arguments_are_refused_by_argparse():
    res = cli("run", "workflows/data_pipeline.json", "--timeout", "-3")
    assert res.returncode == 2 and "must be greater than 0" in res.stderr


def test_missing_functions_folder(tmp_path):
    res = cli("run", "workflows/data_pipeline.json", "--functions", str(tmp_path / "nope"))
    assert res.returncode == 2
    assert "functions folder" in res.stderr and "--functions DIR" in res.stderr
    assert "Traceback" not in res.stderr


def test_run_passing_workflow_prints_folder_and_outcomes():
    res = cli("run", "workflows/fan_out_fan_in.json")
    assert res.returncode == 0, res.stderr
    assert "Invocation folder: FaaSrLog/FanOutFanIn/" in res.stdout
    for label in ("split", "square(1)", "square(5)", "gather"):
        assert any(line.split()[:2] == [label, "COMPLETED"] for line in res.stdout.splitlines()), label
    assert "Workflow FanOutFanIn passed" in res.stdout


def test_run_failing_workflow_exits_non_zero():
    res = cli("run", "workflows/failing_function.json")
    assert res.returncode == 1
    assert "explode" in res.stdout and "FAILED" in res.stdout
    assert "Workflow FailingStep failed" in res.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_to_a_running_run_leaves_no_process_behind(tmp_path, sig, code):
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "slow.py").write_text(
        "import time\nfrom FaaSr_py.client.py_client_stubs import faasr_log\n\n"
        "def f(**kwargs):\n    faasr_log('sleeping')\n    time.sleep(300)\n")
    data = json.loads((REPO / "workflows/data_pipeline.json").read_text())
    for spec in data["ActionList"].values():
        spec["FunctionName"] = "f"
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(data))
    proc = subprocess.Popen([str(BIN), "run", str(wf), "--functions", str(functions)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = []
        deadline = time.monotonic() + 30
        # wait until the S3 server, the fork server and the action process all exist
        while time.monotonic() < deadline:
            started = descendants(proc.pid)
            names = [cmdline(p) for p in started]
            if any("weed" in n for n in names) and sum("forkserver" in n for n in names) >= 2:
                break
            time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail(f"processes did not start: {proc.communicate()}")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "everything it started has been stopped" in err
    assert "Traceback" not in err
    time.sleep(0.2)
    left = [p for p in started if alive(p)]
    assert not left, [cmdline(p) for p in left]


def test_s3_serve_starts_and_stops_on_ctrl_c(tmp_path):
    proc = subprocess.Popen([str(BIN), "s3", "serve", "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("S3 endpoint: http://127.0.0.1:"), line
        endpoint = line.split()[2]
        out = ""
        while "Serving" not in out:
            out += proc.stdout.readline()
        assert "FAASR_EASYPY_S3_SECRET_KEY=$(cat" in out
        secret = (tmp_path / "data" / "secret_key").read_text()
        assert secret not in out  # the secret never reaches the terminal
        import boto3
        key = out.split("FAASR_EASYPY_S3_ACCESS_KEY=")[1].split()[0]
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                              aws_secret_access_key=secret, region_name="us-east-1")
        client.put_object(Bucket="faasr", Key="hello", Body=b"world")
        assert client.get_object(Bucket="faasr", Key="hello")["Body"].read() == b"world"
        started = descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)  # a hang guard: a clean stop takes ~2 s, more on a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    time.sleep(0.2)
    assert not [p for p in started if alive(p)]


def test_external_s3_endpoint_is_used_instead_of_the_embedded_server():
    from faasr_easypy.s3.client import make_client
    from faasr_easypy.s3.server import EmbeddedS3Server

    with EmbeddedS3Server(bucket="external") as external:
        env = dict(os.environ, FAASR_EASYPY_S3_ENDPOINT=external.endpoint,
                   FAASR_EASYPY_S3_ACCESS_KEY=external.access_key,
                   FAASR_EASYPY_S3_SECRET_KEY=external.secret_key)
        res = cli("run", "workflows/data_pipeline.json", env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"S3: {external.endpoint} bucket faasr" in res.stdout
        folder = res.stdout.split("Invocation folder: ")[1].split()[0]
        client = make_client(external.data_store())
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="faasr", Prefix=folder)["Contents"]]
        assert f"{folder}/function_completions/publish.done" in keys
        assert external.secret_key not in res.stdout + res.stderr


def test_external_s3_without_credentials_is_a_clear_error():
    env = dict(os.environ, FAASR_EASYPY_S3_ENDPOINT="http://127.0.0.1:9")
    env.pop("FAASR_EASYPY_S3_ACCESS_KEY", None)
    env.pop("FAASR_EASYPY_S3_SECRET_KEY", None)
    res = cli("run", "workflows/data_pipeline.json", env=env)
    assert res.returncode == 2
    assert "FAASR_EASYPY_S3_ACCESS_KEY and FAASR_EASYPY_S3_SECRET_KEY are not" in res.stderr
    assert "Traceback" not in res.stderr


def run_in_terminal(columns, *args, rows=40):
    """`faasr-easypy ARGS` on a pseudo-terminal of `columns` x `rows`; (exit code, final screen
    lines as a VT100 terminal (pyte) shows them, raw bytes)."""
    import fcntl
    import pty
    import struct
    import termios

    import pyte

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([str(BIN), *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env,
                            cwd=REPO)
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        raw += chunk
    os.close(master)
    code = proc.wait(60)
    screen = pyte.Screen(columns, 400)   # tall enough that nothing scrolls away
    pyte.ByteStream(screen).feed(raw)
    return code, [line.rstrip() for line in screen.display if line.strip()], raw


@pytest.mark.parametrize("columns", [50, 200])
def test_on_a_terminal_the_live_table_fits_and_is_redrawn_in_place(columns):
    code, screen, raw = run_in_terminal(columns, "run", "workflows/fan_out_fan_in.json", "--stream-logs")
    assert code == 0, "\n".join(screen)
    assert b"\x1b[" in raw, "no terminal control codes: not drawn live"
    text = "\n".join(screen)
    # redrawn, not appended: the table (its title with the done/total counter) is there once
    assert sum(line.startswith("FanOutFanIn  ") and " done" in line for line in screen) == 1, text
    [title] = [line for line in screen if line.startswith("FanOutFanIn  ")]
    assert "7/7 done" in title, title
    header = next(i for i, line in enumerate(screen) if line.split()[:2] == ["function", "status"])
    rows = screen[header + 1:header + 8]
    labels = ["split", "square(1)", "square(2)", "square(3)", "square(4)", "square(5)", "gather"]
    assert [row.split()[0] for row in rows] == labels, text          # one line per function, none stacked
    for row in rows:
        cells = row.split()
        assert cells[1] == "COMPLETED" and cells[2].endswith("s") and float(cells[2][:-1]) >= 0, row
    assert all(len(line) <= columns for line in screen)
    assert "Workflow FanOutFanIn passed" in text
    assert "Outcome:" not in text                                     # the table already shows it
    assert any(line.startswith("[split] ") for line in screen), "streamed log lines go above the table"


def test_piped_output_is_one_line_per_change_with_a_counter():
    res = cli("run", "workflows/failing_function.json")
    assert res.returncode == 1
    changes = [line for line in res.stdout.splitlines() if line.startswith("[") and "s] [" in line]
    assert "\x1b" not in res.stdout
    assert changes[-1].split("] [", 1)[1].startswith("3/3] ")
    finals = [line.split()[3:5] for line in changes if line.split()[4] in ("COMPLETED", "FAILED", "SKIPPED")]
    assert finals == [["prepare", "COMPLETED"], ["explode", "FAILED"], ["after-explode", "SKIPPED"]], changes
    assert "Outcome:" in res.stdout


def test_keep_s3_keeps_the_data_and_s3_ls_cat_read_it(tmp_path):
    kept = tmp_path / "kept"
    res = cli("run", "workflows/fan_out_fan_in.json", "--keep-s3", str(kept))
    assert res.returncode == 0, res.stderr
    folder = next(line.split(": ", 1)[1] for line in res.stdout.splitlines()
                  if line.startswith("Invocation folder: "))
    invocation_id = folder.rstrip("/").rsplit("/", 1)[1]
    assert f"S3 data kept in {kept}. Look at it with:" in res.stdout
    assert f"  faasr-easypy s3 ls --data-dir {kept} {folder}/" in res.stdout
    assert kept.is_dir()
    listing = cli("s3", "ls", "--data-dir", str(kept))
    assert listing.returncode == 0, listing.stderr
    keys = [line.split()[1] for line in listing.stdout.splitlines()]
    assert f"faasr/{folder}/gather.txt" in keys and f"faasr/fan/{invocation_id}/total.txt" in keys, keys
    total = cli("s3", "cat", "--data-dir", str(kept), f"fan/{invocation_id}/total.txt")
    assert total.returncode == 0 and total.stdout == "55", (total.stdout, total.stderr)
    log = cli("s3", "cat", "--data-dir", str(kept), f"{folder}/gather.txt")
    assert "gather" in log.stdout
    missing = cli("s3", "cat", "--data-dir", str(kept), "no/such/key")
    assert missing.returncode == 2 and "NoSuchKey" in missing.stderr and "Traceback" not in missing.stderr


def test_s3_ls_without_data_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAASR_EASYPY_S3_")}
    res = cli("s3", "ls", env=env)
    assert res.returncode == 2 and "--data-dir DIR" in res.stderr and "Traceback" not in res.stderr
    res = cli("s3", "ls", "--data-dir", str(tmp_path / "nothing"), env=env)
    assert res.returncode == 2 and "no S3 data there" in res.stderr


def test_a_hanging_function_times_out_and_its_successor_never_runs(tmp_path):
    import shutil

    functions = tmp_path / "functions"
    shutil.copytree(REPO / "workflows/functions/DataPipeline", functions)
    (functions / "hang.py").write_text(
        "import time\nfrom FaaSr_py.client.py_client_stubs import faasr_log\n\n"
        "def hang(**kwargs):\n    faasr_log('hanging')\n    time.sleep(300)\n")
    data = json.loads((REPO / "workflows/data_pipeline.json").read_text())
    data["ActionList"]["compute-sum"]["FunctionName"] = "hang"
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(data))
    res = cli("run", str(wf), "--functions", str(functions), "--timeout", "4", "--check-interval", "0.2")
    assert res.returncode == 1, res.stderr
    outcome = {line.split()[0]: line.split()[1] for line in
               res.stdout.split("Outcome:", 1)[1].splitlines() if line.startswith("  ")}
    assert outcome["create-input"] == "COMPLETED", res.stdout
    assert outcome["compute-sum"] == "TIMEOUT", res.stdout
    assert outcome["publish"] in ("TIMEOUT", "SKIPPED"), res.stdout
    assert "Workflow DataPipeline timed out" in res.stdout
