"""Secrets never reach logs, reports or the archive: faasr_easypy.redact."""

import base64
import io
import json
import logging
import os
from urllib.parse import quote

import pytest

from faasr_easypy.redact import MASK, Redactor, is_secret_name, secrets_from_environment

PAT = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OW_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

ENV = {
    "My_GitHub_Account_PAT": PAT,
    "My_S3_Bucket_AccessKey": "AKIAIOSFODNN7EXAMPLE",
    "My_S3_Bucket_SecretKey": AWS_SECRET,
    "My_OW_Account_API_KEY": OW_KEY,
    "My_OW2_APIkey": "user2:pass2word",
    "SLURM_Token": "eyJhbGciOiJIUzI1NiJ9.slurm",
    "GITHUB_TOKEN": "ghs_workflowtoken42",
    "FAASR_EASYPY_S3_SECRET_KEY": "embedded-secret-123",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-xyz/abc+def",
    "HOME": "/home/tester",
    "PATH": "/usr/bin:/bin",
    "LD_LIBRARY_PATH": "/opt/lib",
    "USE_TOKEN": "true",  # a setting, not a secret
    "SHORT_PAT": "abc",   # too short to redact safely
}


def test_secret_names():
    for name in ("My_GitHub_Account_PAT", "x_AccessKey", "x_SecretKey", "x_API_KEY", "x_APIkey", "X_TOKEN",
                 "x_Token", "GITHUB_TOKEN", "GH_PAT", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "FAASR_EASYPY_S3_SECRET_KEY", "SECRET_PAYLOAD"):
        assert is_secret_name(name), name
    for name in ("PATH", "LD_LIBRARY_PATH", "HOME", "PATTERN", "TOKENIZER", "MY_PATH", "AWS_REGION"):
        assert not is_secret_name(name), name


def test_collects_secret_values_from_the_environment():
    values = secrets_from_environment(ENV)
    for value in (PAT, AWS_SECRET, OW_KEY, "user2:pass2word", "eyJhbGciOiJIUzI1NiJ9.slurm", "ghs_workflowtoken42",
                  "embedded-secret-123", "aws-secret-xyz/abc+def", "AKIAIOSFODNN7EXAMPLE"):
        assert value in values
    assert "/home/tester" not in values and "/usr/bin:/bin" not in values
    assert "true" not in values


def test_redact_replaces_every_secret_and_nothing_else():
    r = Redactor(environ=ENV)
    text = (f"Authorization: token {PAT}\nkey={AWS_SECRET} home=/home/tester path=/usr/bin:/bin "
            "flag=true abc")
    out = r.redact(text)
    assert PAT not in out and AWS_SECRET not in out
    assert out.count(MASK) == 2
    assert "/home/tester" in out and "/usr/bin:/bin" in out and "flag=true abc" in out


def test_explicit_values_short_values_and_no_environment():
    r = Redactor(["explicit-secret-1", "ab", "", None], include_environment=False)
    assert r.redact(f"x explicit-secret-1 y ab {PAT}") == f"x *** y ab {PAT}"
    assert "ab" not in r and r.secret_count == 1
    assert Redactor(include_environment=False).redact("nothing to do") == "nothing to do"
    assert Redactor(include_environment=False).redact(None) is None
    assert "explicit" not in repr(r)


def test_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("Some_Server_PAT", "ghp_fromtheenvironment1")
    assert Redactor().redact("ghp_fromtheenvironment1!") == "***!"


def test_encoded_forms_are_redacted_too():
    r = Redactor([AWS_SECRET, OW_KEY], include_environment=False)
    basic = base64.b64encode(OW_KEY.encode()).decode()
    text = " ".join([quote(AWS_SECRET, safe=""), json.dumps({"k": AWS_SECRET}), f"Basic {basic}",
                     repr({"k": OW_KEY})])
    out = r.redact(text)
    for form in (quote(AWS_SECRET, safe=""), AWS_SECRET, basic, OW_KEY):
        assert form not in out
    assert out.startswith("*** ") and "Basic ***" in out


def test_longer_secret_containing_a_shorter_one_is_masked_whole():
    r = Redactor(["pass2word", "user2:pass2word"], include_environment=False)
    assert r.redact("auth user2:pass2word end") == "auth *** end"


def test_secrets_inside_a_json_valued_credential():
    payload = json.dumps({"ComputeServers": {"GH": {"FaaSType": "GitHubActions", "Token": "ghp_inside_json_1"}},
                          "DataStores": {"S3": {"AccessKey": "inner-access-1", "SecretKey": "inner-secret-1",
                                                "Bucket": "faasr"}}})
    r = Redactor(environ={"SECRET_PAYLOAD": payload})
    out = r.redact("token ghp_inside_json_1 keys inner-access-1 inner-secret-1 bucket faasr")
    assert out == "token *** keys *** *** bucket faasr"


def test_redact_file_in_place(tmp_path):
    r = Redactor(environ=ENV)
    log = tmp_path / "start.txt"
    log.write_text(f"[1.0] [INFO] [x.py] using {PAT}\r\n[1.1] [INFO] [x.py] ok\n", encoding="utf-8")
    os.chmod(log, 0o640)
    assert r.redact_file(log) is True
    assert log.read_bytes() == b"[1.0] [INFO] [x.py] using ***\r\n[1.1] [INFO] [x.py] ok\n"
    assert (os.stat(log).st_mode & 0o777) == 0o640
    assert r.redact_file(log) is False  # nothing left to do
    assert [p.name for p in tmp_path.iterdir()] == ["start.txt"]  # no temporary file left behind


def test_redact_file_keeps_non_utf8_bytes_and_skips_binary(tmp_path):
    r = Redactor([PAT], include_environment=False)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9 " + PAT.encode() + b" \xff\n")
    assert r.redact_file(latin)
    assert latin.read_bytes() == b"caf\xe9 *** \xff\n"
    binary = tmp_path / "data.bin"
    raw = b"\x00\x01" + PAT.encode() + b"\x00"
    binary.write_bytes(raw)
    assert r.redact_file(binary) is False and binary.read_bytes() == raw


def test_redact_file_streams_large_files(tmp_path):
    r = Redactor([PAT], include_environment=False)
    big = tmp_path / "big.log"
    line = "x" * 100 + "\n"
    with open(big, "w") as f:
        f.writelines(line if i % 1000 else f"secret {PAT}\n" for i in range(30000))
    assert r.redact_file(big)
    content = big.read_text()
    assert PAT not in content and content.count("secret ***") == 30


def test_redact_tree(tmp_path):
    r = Redactor(environ=ENV)
    archive = tmp_path / "archive"
    (archive / "logs" / "FaaSrLog").mkdir(parents=True)
    (archive / "report.html").write_text(f"<td>{AWS_SECRET}</td>")
    (archive / "logs" / "FaaSrLog" / "a.txt").write_text(f"token {PAT}")
    (archive / "logs" / "clean.txt").write_text("nothing secret here")
    (archive / "faasr_results.json").write_text(json.dumps({"env": {"GITHUB_TOKEN": "ghs_workflowtoken42"}}))
    (archive / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + PAT.encode())
    outside = tmp_path / "outside.txt"
    outside.write_text(f"outside {PAT}")
    (archive / "link.txt").symlink_to(outside)

    changed = sorted(os.path.relpath(p, archive) for p in r.redact_tree(archive))
    assert changed == ["faasr_results.json", "logs/FaaSrLog/a.txt", "report.html"]
    assert (archive / "report.html").read_text() == "<td>***</td>"
    assert (archive / "logs" / "FaaSrLog" / "a.txt").read_text() == "token ***"
    assert json.loads((archive / "faasr_results.json").read_text()) == {"env": {"GITHUB_TOKEN": "***"}}
    assert PAT.encode() in (archive / "image.png").read_bytes()  # binary: untouched
    assert outside.read_text() == f"outside {PAT}"  # links are not followed


def test_redact_tree_without_secrets_touches_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    assert Redactor(include_environment=False).redact_tree(tmp_path) == []


def _logger_with(redactor):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(redactor.logging_filter())
    logger = logging.getLogger(f"test-redact-{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_logging_filter_redacts_message_args_and_traceback():
    r = Redactor([PAT, AWS_SECRET], include_environment=False)
    logger, stream = _logger_with(r)
    logger.info("dispatch with token %s to %s", PAT, "repo")
    logger.warning(f"inline {AWS_SECRET}")
    try:
        raise RuntimeError(f"failed with {PAT}")
    except RuntimeError:
        logger.exception("boom %s", "x")
    logger.info("bad format %s %s", PAT)  # a broken call must still be redacted, not raise
    out = stream.getvalue()
    assert PAT not in out and AWS_SECRET not in out
    assert "INFO dispatch with token *** to repo" in out
    assert "WARNING inline ***" in out
    assert "RuntimeError: failed with ***" in out and "Traceback" in out


@pytest.mark.parametrize("value", ["ghp_a", "a" * 200, "with space inside", "ünïcødé-sëcret"])
def test_arbitrary_values(value):
    r = Redactor([value], include_environment=False)
    assert value not in r.redact(f"<{value}>") and r.redact(f"<{value}>") == "<***>"
