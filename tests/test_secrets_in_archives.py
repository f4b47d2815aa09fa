"""No secret, in any form, reaches an archive, a report, a mail or a terminal (issue 20, items 3-5, 9).

Real parts only: `pyats run job` and `faasr-easypy run` processes, the test's own
SeaweedFS server (its keys written literally into the testbed), aiosmtpd for the
mail. A careless function prints and raises every secret it can reach (raw, URL-
encoded, base64, as a Basic auth header, JSON-escaped, and a 1,200-character log
line), a testscript fails with harness credentials in its reasons, and then every
member of the archive (unzipped), the report beside it, the mail (raw and decoded)
and the job's output are searched for every form of every secret.
"""

import base64
import email
import email.policy
import json
import secrets
import subprocess
import textwrap
import zipfile
from urllib.parse import quote, quote_plus

import pytest
import yaml

from faasr_easypy.redact import MASK, MIN_LENGTH

from .easypy_helpers import BIN, archive_from, job_env, kill_tagged, leftovers, start_job
from .test_mail import smtp_server

pytestmark = pytest.mark.reliability

# Secrets of the harness's environment. The function may read only the one its workflow names.
NAMED = {"LEAK_SERVER_PAT": "ghp_named" + secrets.token_hex(12)}
HIDDEN = {
    "Leak_Hidden_PAT": "ghp_hidden" + secrets.token_hex(12),
    "Leak_Store_SecretKey": "leak-s3-secret/" + secrets.token_hex(8) + "+x",
    "Leak_Store_AccessKey": "AKIALEAK" + secrets.token_hex(6).upper(),
}
SHORT = {"Probe_TOKEN": "1796"}  # too short to mask inside text; must not corrupt the numbers
USERS = ("someone", "x", "ab")    # Basic auth user names of every length modulo 3

FUNCTION = textwrap.dedent('''
    import base64
    import json
    import os
    from urllib.parse import quote

    from FaaSr_py.client.py_client_stubs import faasr_log, faasr_secret

    HIDDEN = {hidden!r}


    def leak(count=0):
        seen = sorted(os.environ)
        faasr_log("environment names: " + " ".join(seen))
        with open("/proc/self/environ", "rb") as fh:
            initial = fh.read().decode("utf-8", "replace")
        faasr_log("hidden in /proc/self/environ: " + str(any(v in initial for v in HIDDEN)))
        faasr_log(f"count={{count}}")
        values = [os.environ["S3_AccessKey"], os.environ["S3_SecretKey"], faasr_secret("LEAK_SERVER_PAT")]
        for value in values:
            for user in {users!r}:
                basic = base64.b64encode(f"{{user}}:{{value}}".encode()).decode()
                faasr_log(f"Authorization: Basic {{basic}}")
            print(f"raw={{value}} url={{quote(value, safe='')}} json={{json.dumps({{'v': value}})}} "
                  f"b64={{base64.b64encode(value.encode()).decode()}}")
            faasr_log(f"raw={{value}} url={{quote(value, safe='')}} json={{json.dumps({{'v': value}})}} "
                      f"b64={{base64.b64encode(value.encode()).decode()}}")
        faasr_log("long line " + "y" * 1200)
        raise RuntimeError("cannot connect with " + " ".join(values))


    def after():
        faasr_log("never runs")
''')

WORKFLOW = {
    "WorkflowName": "Leaky", "FunctionInvoke": "start", "DefaultDataStore": "S3", "LoggingDataStore": "S3",
    "FaaSrLog": "FaaSrLog",
    "ComputeServers": {"GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r",
                              "Branch": "main"}},
    "DataStores": {"S3": {"Endpoint": "https://s3.example.org", "Bucket": "faasr", "Region": "us-east-1"}},
    "ActionList": {
        "start": {"FunctionName": "leak", "FaaSServer": "GH", "Type": "Python", "Arguments": {"count": 0},
                  "InvokeNext": ["after"]},
        "after": {"FunctionName": "after", "FaaSServer": "GH", "Type": "Python", "Arguments": {},
                  "InvokeNext": []},
    },
    "Secrets": ["LEAK_SERVER_PAT"],   # FaaSr 2.1.0's list of the secrets its functions may read
}

# A testscript that fails with the harness's own credentials in its reasons and logs.
TESTSCRIPT = textwrap.dedent('''
    import base64
    import logging
    import os

    from pyats import aetest

    log = logging.getLogger(__name__)
    NAMES = {names!r}


    class Careless(aetest.Testcase):
        @aetest.test
        def completed(self, tester):
            tester.assert_function_completed("start")   # its message carries the log tail

        @aetest.test
        def reason_with_credentials(self):
            values = [os.environ[n] for n in NAMES]
            log.info("Authorization: Basic %s", base64.b64encode(("ci:" + values[0]).encode()).decode())
            print("printed " + values[1])
            self.failed("credentials " + " ".join(values))

        @aetest.test
        def exception_with_credentials(self):
            raise ValueError("raised with " + os.environ[NAMES[1]])
''')

JOBFILE = textwrap.dedent('''
    from pathlib import Path

    from faasr_easypy.easypy import WorkflowPool

    ROOT = Path(__file__).resolve().parent.parent


    def main(runtime):
        pool = WorkflowPool(runtime)
        workflow = ROOT / "workflows" / "Leaky.json"
        pool.submit(workflow, taskid="generic", arguments={{"start": {{"count": 1796}}}})
        pool.submit(workflow, taskid="careless", testscript=ROOT / "testscripts" / "careless.py")
        pool.run()
''')


def make_project(root):
    (root / "workflows" / "functions" / "Leaky").mkdir(parents=True)
    (root / "testscripts").mkdir()
    (root / "jobs").mkdir()
    (root / "workflows" / "Leaky.json").write_text(json.dumps(WORKFLOW, indent=1))
    (root / "workflows" / "functions" / "Leaky" / "leak.py").write_text(
        FUNCTION.format(hidden=sorted(HIDDEN.values()), users=USERS))
    (root / "testscripts" / "careless.py").write_text(TESTSCRIPT.format(names=sorted(HIDDEN)))
    (root / "jobs" / "leak_job.py").write_text(JOBFILE.format())
    return root / "jobs" / "leak_job.py"


def write_testbed(root, server, token):
    """The test's S3 server with its keys written into the file, and a GitHub device whose
    literal Token no workflow uses (pyATS copies the file into the archive all the same)."""
    path = root / "testbed.yaml"
    path.write_text(textwrap.dedent(f"""\
        testbed:
          name: leaky
        devices:
          s3:
            os: linux
            type: s3
            connections: {{}}
            custom:
              faasr:
                Endpoint: {server.endpoint}
                AccessKey: {server.access_key}
                SecretKey: {server.secret_key}
          local:
            os: linux
            type: faas
            connections: {{}}
            custom:
              faasr:
                FaaSType: Local
                ComputeServers: [GH]
          github:
            os: linux
            type: faas
            connections: {{}}
            custom:
              faasr:
                FaaSType: GitHubActions
                UserName: u
                ActionRepoName: r
                Branch: main
                Token: {token}
                ComputeServers: [Unused]
        """))
    return path


def forms(value):
    """Every form of `value` a careless program may write."""
    raw = value.encode()
    out = {"raw": value, "url": quote(value, safe=""), "url+": quote_plus(value),
           "json": json.dumps(value)[1:-1], "b64": base64.b64encode(raw).decode(),
           "b64url": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    for user in USERS + ("ci",):
        out[f"basic({user})"] = base64.b64encode(f"{user}:{value}".encode()).decode()
    return out


def find_leaks(texts, values):
    """[(where, which secret, which form)] of every form of every value found in `texts`."""
    leaks = []
    for where, text in texts.items():
        for name, value in values.items():
            for form, spelled in forms(value).items():
                if spelled in text:
                    leaks.append((where, name, form))
    return leaks


def mail_texts(raw, index):
    """The raw message and every part decoded (bodies, attachments)."""
    texts = {f"mail {index} (raw)": raw.decode("utf-8", "replace")}
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for n, part in enumerate(msg.walk()):
        payload = part.get_payload(decode=True)
        if payload:
            texts[f"mail {index} part {n} ({part.get_content_type()} {part.get_filename()})"] = \
                payload.decode("utf-8", "replace")
    return texts


@pytest.fixture(scope="module")
def leaky_job(tmp_path_factory):
    """One `pyats run job` of the careless project; everything it wrote, as texts."""
    from faasr_easypy.s3.server import EmbeddedS3Server, free_ports

    root = tmp_path_factory.mktemp("leaky")
    job = make_project(root)
    token = "ghp_testbed" + secrets.token_hex(10)
    tmp = root / "tmp"
    tmp.mkdir()
    step_summary = root / "step_summary.md"   # as GitHub Actions gives every step
    env = dict(NAMED, **HIDDEN, **SHORT, TMPDIR=str(tmp), GITHUB_STEP_SUMMARY=str(step_summary))
    server = EmbeddedS3Server(data_dir=root / "s3", port=free_ports(1)[0]).start()
    try:
        testbed = write_testbed(root, server, token)
        with smtp_server() as (port, received):
            config = root / "pyats.conf"
            config.write_text(f"[email]\nsmtp.host = 127.0.0.1\nsmtp.port = {port}\ndefault_domain = example.com\n")
            log = root / "job.log"
            proc = start_job(job, "--testbed-file", testbed, "--archive-dir", root / "archives",
                             "--faasr-stream-logs", "--faasr-timeout", "90", "--mail-to", "dev@example.com",
                             "--mail-html", "--pyats-configuration", config, cwd=root, log=log, env=env)
            try:
                rc = proc.wait(300)
            finally:
                kill_tagged(proc.tag)
            from .test_mail import wait_for_mail

            wait_for_mail(received)
            mails = [e.content for e in received]
        output = log.read_text(errors="replace")
        secret_values = dict(NAMED, **HIDDEN, s3_access_key=server.access_key, s3_secret_key=server.secret_key,
                             testbed_token=token)
    finally:
        server.stop()
    archive = archive_from(output)
    texts = {"job output": output}
    members = {}
    if archive is not None and archive.is_file():
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                members[name] = zf.read(name)
                texts[f"archive:{name}"] = members[name].decode("utf-8", "replace")
        beside = archive.with_name(archive.name[:-4] + ".faasr_report.html")
        if beside.is_file():
            texts["report beside the archive"] = beside.read_text(errors="replace")
    for i, raw in enumerate(mails):
        texts.update(mail_texts(raw, i))
    if step_summary.is_file():
        texts["GitHub step summary"] = step_summary.read_text(errors="replace")
    return {"rc": rc, "output": output, "archive": archive, "members": members, "texts": texts,
            "mails": mails, "secrets": secret_values, "tag": proc.tag, "tmp": tmp}


@pytest.mark.slow
def test_no_form_of_any_secret_in_any_archive_member_report_mail_or_output(leaky_job):
    members = leaky_job["members"]
    assert leaky_job["archive"] is not None, leaky_job["output"][-4000:]
    for name in ("results.json", "ResultsDetails.xml", "testbed.static.yaml", "faasr_results.json",
                 "faasr_report.html", "faasr_junit.xml", "TaskLog.generic", "TaskLog.careless", "JobLog.leak_job"):
        assert name in members, sorted(members)
    assert "GitHub step summary" in leaky_job["texts"], "no step summary was written"
    assert leaky_job["mails"], "no mail arrived"
    assert all(len(v) >= MIN_LENGTH for v in leaky_job["secrets"].values())
    leaks = find_leaks(leaky_job["texts"], leaky_job["secrets"])
    assert not leaks, leaks
    # The search could not pass by missing the leak: the function and the testscript did print them.
    tasklog = leaky_job["texts"]["archive:TaskLog.generic"]
    assert "Authorization: Basic ***" in tasklog and "raw=*** url=*** json={\"v\": \"***\"} b64=***" in tasklog
    pyats_results = leaky_job["texts"]["archive:results.json"]
    json.loads(pyats_results)
    assert "Last log lines" in pyats_results and "cannot connect with *** *** ***" in pyats_results
    assert "credentials *** *** ***" in pyats_results and "raised with ***" in pyats_results
    assert "credentials *** *** ***" in leaky_job["output"]
    assert "printed ***" in leaky_job["output"]


@pytest.mark.slow
def test_testbed_static_yaml_in_the_archive_shows_its_credentials_masked(leaky_job):
    static = yaml.safe_load(leaky_job["members"]["testbed.static.yaml"])
    faasr = {name: device["custom"]["faasr"] for name, device in static["devices"].items()}
    assert faasr["s3"]["AccessKey"] == MASK and faasr["s3"]["SecretKey"] == MASK
    assert faasr["github"]["Token"] == MASK
    assert faasr["s3"]["Endpoint"].startswith("http://127.0.0.1:")   # the rest is left as it was
    assert faasr["local"] == {"FaaSType": "Local", "ComputeServers": ["GH"]}


@pytest.mark.slow
def test_a_function_gets_only_the_secrets_faasr_would_give_it(leaky_job):
    log = leaky_job["texts"]["archive:TaskLog.generic"]
    line = next(ln for ln in log.splitlines() if "environment names: " in ln)
    seen = set(line.split("environment names: ", 1)[1].split())
    assert {"S3_AccessKey", "S3_SecretKey", "LEAK_SERVER_PAT", "PATH", "HOME"} <= seen
    assert not seen & (set(HIDDEN) | set(SHORT)), seen & (set(HIDDEN) | set(SHORT))
    assert not [n for n in seen if n.startswith("FAASR_EASYPY_") and n != "FAASR_EASYPY_TEST_TAG"], seen
    assert "hidden in /proc/self/environ: False" in log   # nor in what the process was started with


@pytest.mark.slow
def test_a_short_secret_is_reported_once_and_changes_no_number(leaky_job):
    output = leaky_job["output"]
    warning = "the secret in the environment variable Probe_TOKEN is too short to mask safely"
    assert output.count(warning) == 1, output[-3000:]
    results = json.loads(leaky_job["members"]["faasr_results.json"])   # parses
    generic = next(w for w in results["workflows"] if w["task_id"] == "generic")
    assert generic["arguments"] == {"start": {"count": 1796}}
    assert generic["verdict"] == "failed"
    assert {f["label"]: f["status"] for f in generic["functions"]} == {"start": "FAILED", "after": "SKIPPED"}
    assert "count=1796" in leaky_job["texts"]["archive:TaskLog.generic"]
    assert b"FaaSr report" in leaky_job["members"]["faasr_report.html"]
    assert leaky_job["rc"] == 1   # failed testcases, not a harness error


@pytest.mark.slow
def test_the_mail_with_a_1200_character_line_arrives_encoded(leaky_job):
    assert len(leaky_job["mails"]) == 1, leaky_job["output"][-3000:]
    raw = leaky_job["mails"][0]
    assert max(len(line) for line in raw.splitlines()) <= 998
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    report = next(p for p in msg.walk() if p.get_filename() == "faasr_report.html")
    assert report["Content-Transfer-Encoding"] == "base64"
    assert "long line " + "y" * 1200 in report.get_payload(decode=True).decode()
    assert "Missing SMTP server configuration" not in leaky_job["output"]


@pytest.mark.slow
def test_the_careless_job_leaves_nothing_behind(leaky_job):
    assert not leftovers(leaky_job["tag"])
    assert not list(leaky_job["tmp"].iterdir())


# -- when results or the mail cannot be written ----------------------------------------------------

UNWRITABLE_JOB = textwrap.dedent('''
    from pathlib import Path

    from faasr_easypy.easypy import run_workflow

    ROOT = Path(__file__).resolve().parent.parent


    def main(runtime):
        run_workflow(ROOT / "workflows" / "Quiet.json", runtime=runtime)
        # a folder where faasr_results.json must go: the results cannot be written
        (Path(runtime.directory) / "faasr_results.json").mkdir()
''')


@pytest.mark.slow
def test_results_that_cannot_be_written_and_a_refused_mail_are_loud(tmp_path):
    from aiosmtpd.controller import Controller

    from faasr_easypy.s3.server import free_ports

    (tmp_path / "workflows" / "functions" / "Quiet").mkdir(parents=True)
    (tmp_path / "jobs").mkdir()
    quiet = dict(WORKFLOW, WorkflowName="Quiet",
                 ActionList={"start": {"FunctionName": "quiet", "FaaSServer": "GH", "Type": "Python",
                                       "Arguments": {}, "InvokeNext": []}})
    (tmp_path / "workflows" / "Quiet.json").write_text(json.dumps(quiet))
    (tmp_path / "workflows" / "functions" / "Quiet" / "quiet.py").write_text("def quiet():\n    pass\n")
    job = tmp_path / "jobs" / "quiet_job.py"
    job.write_text(UNWRITABLE_JOB)

    class Refuse:
        async def handle_DATA(self, server, session, envelope):
            return "554 5.7.1 refused by policy"

    port = free_ports(1)[0]
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = tmp_path / "pyats.conf"
        config.write_text(f"[email]\nsmtp.host = 127.0.0.1\nsmtp.port = {port}\ndefault_domain = example.com\n")
        log = tmp_path / "job.log"
        proc = start_job(job, "--archive-dir", tmp_path / "archives", "--mail-to", "dev@example.com",
                         "--pyats-configuration", config, cwd=tmp_path, log=log)
        try:
            rc = proc.wait(240)
        finally:
            kill_tagged(proc.tag)
    finally:
        controller.stop()
    output = log.read_text(errors="replace")
    assert rc not in (0, None), output[-3000:]
    assert "faasr_results.json could not be written (IsADirectoryError" in output, output[-3000:]
    assert "FaasrPlugin" in output and "ERRORED" in output
    assert (f"the report mail to dev@example.com was not sent: 127.0.0.1:{port} answered 554 5.7.1 "
            "refused by policy") in output, output[-3000:]


# -- faasr-easypy run ------------------------------------------------------------------------------

@pytest.mark.slow
def test_faasr_easypy_run_stream_logs_and_outcome_are_masked(tmp_path):
    from faasr_easypy.s3.server import EmbeddedS3Server, free_ports

    make_project(tmp_path)
    server = EmbeddedS3Server(data_dir=tmp_path / "s3", port=free_ports(1)[0]).start()
    try:
        env = job_env("cli-" + secrets.token_hex(4), dict(
            NAMED, **HIDDEN, FAASR_EASYPY_S3_ENDPOINT=server.endpoint,
            FAASR_EASYPY_S3_ACCESS_KEY=server.access_key, FAASR_EASYPY_S3_SECRET_KEY=server.secret_key))
        proc = subprocess.run([str(BIN / "faasr-easypy"), "run", str(tmp_path / "workflows" / "Leaky.json"),
                               "--stream-logs", "--timeout", "60"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=180)
    finally:
        server.stop()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    outcome = output.split("Outcome:", 1)[-1]
    assert "FAILED  The function raised RuntimeError: cannot connect with *** *** ***" in outcome, output[-3000:]
    assert "[start] Authorization: Basic ***" in output and "raw=*** url=***" in output
    values = dict(NAMED, **HIDDEN, s3_access_key=server.access_key, s3_secret_key=server.secret_key)
    assert not find_leaks({"terminal": output}, values)



# -- the parts, one at a time (fast) ---------------------------------------------------------------

def test_action_environment_is_the_allow_list_the_stores_keys_and_the_named_secrets():
    from faasr_easypy.backends.local.action_env import action_environment, base_environment, named_secrets

    harness = {"PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
               "FAASR_EASYPY_S3_SECRET_KEY": "s3-secret-xyz", "FAASR_EASYPY_S3_ACCESS_KEY": "s3-access",
               "My_GitHub_PAT": "ghp_x", "Other_Store_SecretKey": "other", "AWS_SECRET_ACCESS_KEY": "aws",
               "TEST_SECRET": "named-value", "Both_TOKEN": "both-value", "FAASR_EASYPY_TEST_TAG": "tag"}
    assert base_environment(harness) == {"PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C.UTF-8",
                                         "PYTHONHASHSEED": "0", "FAASR_EASYPY_TEST_TAG": "tag"}
    workflow = {"Secrets": ["TEST_SECRET", "Both_TOKEN", "MISSING_PAT"], "ActionList": {"a": {}}}
    assert named_secrets(workflow, environ=harness) == {"TEST_SECRET": "named-value", "Both_TOKEN": "both-value"}
    assert named_secrets(workflow, given={"Both_TOKEN": "given"}, environ=harness) == \
        {"Both_TOKEN": "given", "TEST_SECRET": "named-value"}
    # what the caller hands the backend itself goes to every action, named or not
    assert named_secrets({}, given={"Own": "own-value"}, environ=harness) == {"Own": "own-value"}
    job = {"stores": {"S3": {"access_key": "ak-1", "secret_key": "sk-1"}, "Public": {"access_key": "",
                                                                                    "secret_key": ""}},
           "secrets": {"TEST_SECRET": "named-value"}}
    assert action_environment(job, harness) == dict(
        base_environment(harness), S3_AccessKey="ak-1", S3_SecretKey="sk-1", Public_AccessKey="",
        Public_SecretKey="", TEST_SECRET="named-value")


def test_the_mail_pyats_builds_is_encoded_redacted_and_a_refusal_is_explained(tmp_path):
    import smtplib

    from pyats.utils.email import EmailMsg

    from faasr_easypy.redact import Redactor
    from faasr_easypy.report.mail import encoded_message, smtp_failure

    report = tmp_path / "faasr_report.html"
    report.write_text("<pre>" + "y" * 1200 + " ghp_mailsecret123</pre>\n")
    msg = EmailMsg(from_email="faasr@example.com", to_email="dev@example.com", subject="pyATS Report",
                   body="x" * 1200 + " ghp_mailsecret123", html_email=True, html_body="<p>" + "z" * 1200,
                   attachments=[str(report)])
    out = encoded_message(msg.message(), Redactor(["ghp_mailsecret123"], include_environment=False))
    raw = out.as_bytes()
    assert max(len(line) for line in raw.splitlines()) <= 78
    assert b"ghp_mailsecret123" not in raw and out["Subject"] == "pyATS Report"
    parts = {(p.get_content_type(), p.get_filename()): p for p in out.walk() if not p.is_multipart()}
    assert set(parts) == {("text/plain", None), ("text/html", None), ("text/html", "faasr_report.html")}
    attached = parts[("text/html", "faasr_report.html")]
    assert attached["Content-Transfer-Encoding"] == "base64"
    assert attached.get_payload(decode=True).decode() == "<pre>" + "y" * 1200 + " ***</pre>\n"
    assert parts[("text/plain", None)].get_content().rstrip("\n") == "x" * 1200 + " ***"
    assert smtp_failure(smtplib.SMTPDataError(500, b"Line too long"), "mail.example.com", 25) == \
        "mail.example.com:25 answered 500 Line too long"
    assert smtp_failure(ConnectionRefusedError(111, "Connection refused"), "127.0.0.1", 9).startswith(
        "cannot reach 127.0.0.1:9 (ConnectionRefusedError")


def test_a_tester_failure_message_and_streamed_lines_mask_what_the_function_printed(tmp_path, monkeypatch,
                                                                                      capsys):
    """pytest and plain Python see the tester's messages and the runner's streamed lines
    directly (no pyATS reporter or log handler between)."""
    from faasr_easypy.environment import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY
    from faasr_easypy.tester import WorkflowTester
    from faasr_easypy.workflow import load_workflow

    from .easypy_helpers import PROJECT

    for var in (ENV_ENDPOINT, ENV_ACCESS_KEY, ENV_SECRET_KEY):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEAK_SERVER_PAT", NAMED["LEAK_SERVER_PAT"])
    make_project(tmp_path)
    wf = load_workflow(tmp_path / "workflows" / "Leaky.json")
    with WorkflowTester.from_testbed(wf, PROJECT / "testbeds" / "local.yaml", timeout=60, check_interval=0.1,
                                     stream_logs=True) as tester:
        with pytest.raises(AssertionError) as info:
            tester.assert_function_completed("start")
        store = tester.runner.data_store
    message = str(info.value)
    assert "Last log lines of start" in message and "Authorization: Basic ***" in message, message
    assert info.value.__context__ is None and info.value.__cause__ is None   # no unmasked original chained
    values = dict(NAMED, s3_access_key=store.access_key, s3_secret_key=store.secret_key)
    streamed = capsys.readouterr().out
    assert "[start] Authorization: Basic ***" in streamed, streamed[-2000:]
    assert not find_leaks({"tester message": message, "streamed lines": streamed}, values)
