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
    # "ab" is too short to mask inside text, but a value that is exactly "ab" is masked
    assert "ab" in r and r.secret_count == 2 and r.redact(" ab ") == "***"
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


@pytest.mark.parametrize("value", ["ghp_abcd", "a" * 200, "with space inside", "ünïcødé-sëcret"])
def test_arbitrary_values(value):
    r = Redactor([value], include_environment=False)
    assert value not in r.redact(f"<{value}>") and r.redact(f"<{value}>") == "<***>"


# -- base64, values, short secrets, structured files (issue 20, items 3-5) ---------------------------

@pytest.mark.parametrize("prefix", ["", "a", "ab", "someone:", "x:", "user12:", "Basic-prefix-of-any-length:"])
def test_base64_carrying_a_secret_at_any_offset_is_masked_whole(prefix):
    r = Redactor([AWS_SECRET], include_environment=False)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode((prefix + AWS_SECRET + "-tail").encode()).decode()
        out = r.redact(f"Authorization: Basic {encoded} next")
        assert out == "Authorization: Basic *** next", (prefix, out)


def test_base64_of_other_text_is_left_alone():
    r = Redactor([AWS_SECRET, PAT], include_environment=False)
    text = "Basic " + base64.b64encode(b"someone:an-innocent-password").decode() + " ok"
    assert r.redact(text) == text


def test_html_and_double_json_escaped_forms():
    secret = 'quote"and<angle>&amp'
    r = Redactor([secret], include_environment=False)
    import html as html_module

    for form in (html_module.escape(secret), json.dumps(json.dumps(secret))):
        assert secret not in r.redact(form) and "***" in r.redact(form)


def test_redact_value_keeps_structure_and_numbers():
    r = Redactor([PAT, "1796"], include_environment=False)
    data = {"count": 1796, "ratio": 17.96, "ok": True, "none": None, "pin": "1796", "line": "count=1796",
            "list": [PAT, 1796, ("x", PAT)], PAT: "key holds it", "***": "a key already masked"}
    out = r.redact_value(data)
    assert out["count"] == 1796 and out["ratio"] == 17.96 and out["ok"] is True and out["none"] is None
    assert out["pin"] == MASK                     # a whole value equal to a short secret
    assert out["line"] == "count=1796"            # ... but not inside text
    assert out["list"] == [MASK, 1796, ("x", MASK)]
    assert len(out) == len(data) and "***" in out and "****" in out   # two keys stay two keys
    assert data["list"][0] == PAT                 # the input is not changed
    json.dumps(out)


def test_a_short_secret_is_reported_once_by_name_never_by_value(caplog):
    import faasr_easypy.redact as redact_module

    redact_module._reported_short.discard("the environment variable Probe_TOKEN")
    with caplog.at_level(logging.WARNING, logger="faasr_easypy.redact"):
        Redactor(environ={"Probe_TOKEN": "1796"})
        Redactor(environ={"Probe_TOKEN": "1796"})
    messages = [rec.getMessage() for rec in caplog.records]
    assert len(messages) == 1, messages
    assert "the secret in the environment variable Probe_TOKEN is too short to mask safely" in messages[0]
    assert "1796" not in messages[0]


def test_json_and_yaml_files_are_redacted_value_by_value(tmp_path):
    import yaml

    r = Redactor([AWS_SECRET, "12345678"], include_environment=False)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"size": 123456789, "reason": f"key {AWS_SECRET}", "n": [12345678]},
                                  indent=2))
    assert r.redact_file(results)
    assert json.loads(results.read_text()) == {"size": 123456789, "reason": "key ***", "n": [12345678]}
    static = tmp_path / "testbed.static.yaml"
    static.write_text(f"devices:\n  s3:\n    custom:\n      faasr:\n        SecretKey: {AWS_SECRET}\n"
                      f"        Port: 12345678\n# {AWS_SECRET} in a comment\n")
    assert r.redact_file(static)
    assert yaml.safe_load(static.read_text()) == \
        {"devices": {"s3": {"custom": {"faasr": {"SecretKey": "***", "Port": 12345678}}}}}
    assert AWS_SECRET not in static.read_text()
    broken = tmp_path / "broken.json"
    broken.write_text(f'{{"not json {AWS_SECRET}')
    assert r.redact_file(broken) and broken.read_text() == '{"not json ***'   # text, as a fallback


def test_secrets_in_data_finds_credentials_under_any_key_but_not_setting_words():
    from faasr_easypy.redact import secrets_in_data

    data = {"devices": {"a": {"custom": {"faasr": {"Token": "ghp_tok_1234", "Endpoint": "http://x"}},
                              "credentials": {"default": {"username": "admin", "password": "pw-123456"}}}},
            "auth_mode": "local", "api_key": 12345678, "GH_PAT": ["ghp_list_1234"], "key": "s3/object"}
    # "admin" (a short plain word under "credentials") and "local" are settings, not secrets
    assert sorted(secrets_in_data(data)) == sorted(["ghp_tok_1234", "pw-123456", "12345678", "ghp_list_1234"])


def test_redacting_stream_finds_a_secret_written_in_pieces():
    from faasr_easypy.redact import RedactingStream

    out = io.StringIO()
    stream = RedactingStream(out, Redactor([PAT], include_environment=False))
    stream.write("token " + PAT[:10])
    stream.write(PAT[10:] + " end\nnext ")
    assert out.getvalue() == "token *** end\n"
    stream.flush()
    assert out.getvalue() == "token *** end\nnext "


def test_record_factory_redacts_records_for_handlers_added_later():
    from faasr_easypy.redact import install_record_factory

    previous = logging.getLogRecordFactory()
    try:
        install_record_factory(Redactor([PAT], include_environment=False))
        install_record_factory(Redactor([AWS_SECRET], include_environment=False))  # swaps the redactor
        stream = io.StringIO()
        logger = logging.getLogger("test-redact-factory")
        logger.propagate = False
        handler = logging.StreamHandler(stream)   # no filter on it
        logger.addHandler(handler)
        logger.warning("key %s", AWS_SECRET)
        assert stream.getvalue() == "key ***\n"
        assert logging.getLogRecordFactory() is not previous
    finally:
        logging.setLogRecordFactory(previous)


def test_the_trie_pattern_matches_like_a_longest_first_alternation():
    import random
    import re

    from faasr_easypy.redact import _literal_pattern

    rng = random.Random(20)
    for _ in range(300):
        words = {"".join(rng.choice("ab.c*") for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 8))}
        naive = re.compile("|".join(re.escape(w) for w in sorted(words, key=lambda v: (-len(v), v))))
        trie = _literal_pattern(words)
        for _ in range(20):
            text = "".join(rng.choice("ab.c*x") for _ in range(rng.randint(0, 30)))
            assert [m.span() for m in trie.finditer(text)] == [m.span() for m in naive.finditer(text)], \
                (words, text)


def test_a_kilobytes_long_secret_payload_is_masked():
    payload = json.dumps({"ComputeServers": {"GH": {"Token": "ghp_" + "t" * 20}}, "pad": "p" * 20000})
    r = Redactor(environ={"SECRET_PAYLOAD": payload})
    assert r.redact(f"x {payload} y ghp_{'t' * 20} z") == "x *** y *** z"
