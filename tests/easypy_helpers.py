"""Helpers for the pyATS job tests (tests/test_easypy_*.py): run `pyats run job`
as a user does, read its archive, and find processes it left behind."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = PROJECT / "faasr_easypy" / "easypy" / "easypy_config.yaml"
TAG_VAR = "FAASR_EASYPY_TEST_TAG"


def job_env(tag, extra=None):
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env[TAG_VAR] = tag  # inherited by weed and the fork servers: finds leftovers
    for var in ("FAASR_EASYPY_S3_ENDPOINT", "FAASR_EASYPY_S3_ACCESS_KEY", "FAASR_EASYPY_S3_SECRET_KEY"):
        env.pop(var, None)
    env.update(extra or {})
    return env


def _default_sigint():
    # A background shell starts us with SIGINT ignored, and ignored signals survive exec.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_job(jobfile, *args, cwd=PROJECT, log=None, config=True, env=None):
    """Start `pyats run job JOBFILE ARGS...`; returns (Popen, tag)."""
    tag = uuid.uuid4().hex
    cmd = [str(BIN / "pyats"), "run", "job", str(jobfile), *map(str, args)]
    if config:
        cmd += ["-C", str(CONFIG)]
    out = open(log, "w") if log else subprocess.PIPE
    proc = subprocess.Popen(cmd, cwd=str(cwd), env=job_env(tag, env), stdout=out, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=_default_sigint, start_new_session=True)
    proc.tag = tag
    return proc


def run_job(jobfile, *args, cwd=PROJECT, timeout=300, config=True, env=None):
    """Run a job to its end; (returncode, output, archive path or None, tag)."""
    proc = start_job(jobfile, *args, cwd=cwd, config=config, env=env)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise AssertionError(f"job {jobfile} did not finish in {timeout} s:\n{output[-5000:]}") from None
    return proc.returncode, output, archive_from(output), proc.tag


def archive_from(output):
    """The archive named by the job's last words ("faasr-easypy: archive PATH")."""
    for line in reversed(output.splitlines()):
        if line.startswith("faasr-easypy: archive "):
            return Path(line.split("faasr-easypy: archive ", 1)[1].strip())
    return None


def read_json(archive, name):
    with zipfile.ZipFile(archive) as zf:
        return json.loads(zf.read(name))


def all_text(archive):
    """Every file of the archive, decoded, concatenated (to look for secrets)."""
    with zipfile.ZipFile(archive) as zf:
        return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())


def names(archive):
    with zipfile.ZipFile(archive) as zf:
        return set(zf.namelist())


def task_results(archive):
    """{taskid: {"result": str, "sections": {section id: result}, "tests": {"Testcase.test": (result, reason)}}}
    from the archive's results.json."""
    report = read_json(archive, "results.json")["report"]
    out = {}
    for task in report["tasks"]:
        sections, tests = {}, {}
        for section in task.get("sections", []):
            sections[section["id"]] = section["result"]["value"]
            for child in section.get("sections", []):
                tests[f"{section['id']}.{child['id']}"] = (child["result"]["value"], child["result"].get("reason"))
        out[task["id"]] = {"result": task["result"]["value"], "sections": sections, "tests": tests}
    return out


def tagged_processes(tag):
    """[(pid, cmdline)] of live processes whose environment carries `tag`."""
    found = []
    needle = f"{TAG_VAR}={tag}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle not in fh.read():
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append((int(entry), cmd))
    return found


def leftovers(tag, wait=5.0):
    """Tagged weed / fork-server / R / pyats processes still alive `wait` s after the job ended."""
    deadline = time.monotonic() + wait
    while True:
        alive = [p for p in tagged_processes(tag)
                 if "weed" in p[1] or "forkserver" in p[1] or "pyats" in p[1] or "/exec/R " in p[1]]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def fork_servers(tag):
    """Pids of the job's fork servers (not their forked action processes)."""
    from .processes import parents

    table = parents()
    found = [(pid, cmd) for pid, cmd in tagged_processes(tag) if "backends.local.forkserver" in cmd]
    pids = {pid for pid, _ in found}
    return [pid for pid, _ in found if table.get(pid) not in pids]


def kill_tagged(tag):
    for pid, _ in tagged_processes(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


SLOW_WORKFLOW = {
    "WorkflowName": "Slow",
    "FunctionInvoke": "start",
    "DefaultDataStore": "S3",
    "LoggingDataStore": "S3",
    "FaaSrLog": "FaaSrLog",
    "ComputeServers": {"GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r",
                              "Branch": "main"}},
    "DataStores": {"S3": {"Endpoint": "https://play.min.io", "Bucket": "faasr", "Region": "us-east-1"}},
    "ActionList": {
        "start": {"FunctionName": "nap", "FaaSServer": "GH", "Type": "Python",
                  "Arguments": {"seconds": 0}, "InvokeNext": ["sleepy(2)"]},
        "sleepy": {"FunctionName": "nap", "FaaSServer": "GH", "Type": "Python",
                   "Arguments": {"seconds": 120}, "InvokeNext": []},
    },
}


def make_slow_project(root, jobfile_body):
    """A project folder with workflows/slow.json (two 120 s actions) and jobs/job.py."""
    root = Path(root)
    (root / "workflows" / "functions" / "Slow").mkdir(parents=True)
    (root / "jobs").mkdir()
    (root / "workflows" / "slow.json").write_text(json.dumps(SLOW_WORKFLOW))
    (root / "workflows" / "functions" / "Slow" / "slow.py").write_text(textwrap.dedent("""
        import time
        from FaaSr_py.client.py_client_stubs import faasr_log

        def nap(seconds):
            faasr_log(f"sleeping {seconds} s")
            time.sleep(float(seconds))
        """))
    job = root / "jobs" / "job.py"
    job.write_text("from pathlib import Path\n\nfrom faasr_easypy.easypy import run_workflow, WorkflowPool\n\n"
                   "ROOT = Path(__file__).resolve().parent.parent\n\n\n" + textwrap.dedent(jobfile_body))
    return job


def wait_for_text(path, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in Path(path).read_text(errors="replace"):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False
