"""The faasr-easypy command as a user runs it: real processes, exit codes, output."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .processes import alive, cmdline, descendants

BIN = Path(sys.executable).parent / "faasr-easypy"
pytestmark = pytest.mark.timeout(180)


def cli(*args, **kwargs):
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
    data = json.loads(Path("workflows/data_pipeline.json").read_text())
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


def screen_of(raw):
    """The text a terminal shows after `raw`: plays the only controls the status table
    uses (colours, ESC[nF: up n lines to column 0, ESC[J: erase below) on a line list."""
    import re

    lines, row = [""], 0
    for token in re.split(r"(\x1b\[\d*[A-Za-z]|\r?\n)", raw.replace("\r\n", "\n")):
        if not token:
            continue
        if token == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        elif token.startswith("\x1b["):
            code, n = token[-1], int(token[2:-1] or 1)
            if code == "F":
                row = max(0, row - n)
            elif code == "J":
                del lines[row + 1:]
                lines[row] = ""
        else:
            lines[row] += token
    return [line for line in lines if line.strip()]


def test_on_a_terminal_the_status_table_is_redrawn_in_place():
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN), "run", "workflows/conditional.json", "--stream-logs",
                             "--check-interval", "0.1"], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
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
    assert proc.wait(60) == 0
    text = raw.decode(errors="replace")
    assert "\x1b[" in text and "F\x1b[J" in text, "no in-place redraw on a terminal"
    screen = screen_of(text)
    assert "Outcome:" in screen, screen
    table = [line.split() for line in screen[:screen.index("Outcome:")] if line.startswith("  ")]
    labels = [row[0] for row in table]
    # Redrawn, not appended: one row per function, each with its final status.
    assert sorted(labels) == ["above", "below", "check-threshold"], screen
    assert {row[1] for row in table} == {"COMPLETED", "NOT_INVOKED"}, screen
    assert any(line.startswith("[") and "]" in line for line in screen), "streamed log lines go above the table"


def test_a_hanging_function_times_out_and_its_successor_never_runs(tmp_path):
    import shutil

    functions = tmp_path / "functions"
    shutil.copytree("workflows/functions/DataPipeline", functions)
    (functions / "hang.py").write_text(
        "import time\nfrom FaaSr_py.client.py_client_stubs import faasr_log\n\n"
        "def hang(**kwargs):\n    faasr_log('hanging')\n    time.sleep(300)\n")
    data = json.loads(Path("workflows/data_pipeline.json").read_text())
    data["ActionList"]["compute-sum"]["FunctionName"] = "hang"
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(data))
    started = time.monotonic()
    res = cli("run", str(wf), "--functions", str(functions), "--timeout", "4", "--check-interval", "0.2")
    assert res.returncode == 1, res.stderr
    assert time.monotonic() - started < 60
    outcome = {line.split()[0]: line.split()[1] for line in
               res.stdout.split("Outcome:", 1)[1].splitlines() if line.startswith("  ")}
    assert outcome["create-input"] == "COMPLETED", res.stdout
    assert outcome["compute-sum"] == "TIMEOUT", res.stdout
    assert outcome["publish"] in ("TIMEOUT", "SKIPPED"), res.stdout
    assert "Workflow DataPipeline timed out" in res.stdout
