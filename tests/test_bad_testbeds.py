"""Bad testbed files never crash or hang the harness (issue 7): a corpus of
malformed testbed YAML, generated from one valid testbed plus hand-written edge
cases (wrong types, missing fields, unknown device types, invalid UTF-8, huge
files, alias bombs, names with ../, bad %ENV{} references). Each gives a
UserError naming the file, the field and the fix; through `pyats run job` a
sample gives that paragraph, exit code 2, no traceback, nothing left running.
The corpus goes through both loaders: the core's (PyYAML, used by WorkflowRunner and
pytest) and the pyATS one (`pyats run job`)."""

import copy

import pytest
import yaml

from faasr_easypy.easypy import pyats_testbed
from faasr_easypy.errors import UserError
from faasr_easypy.placement.testbed_file import MAX_TESTBED_BYTES, load_file

from .easypy_helpers import leftovers, run_job
from .helpers import REPO, glob_files

pytestmark = pytest.mark.reliability

SECRET = "corpus-secret-value-0123"
TOKEN = "ghp_corpus_token_value_0123"


def _device(dtype, faasr):
    return {"os": "linux", "type": dtype, "connections": {}, "custom": {"faasr": faasr}}


BASE = {
    "testbed": {"name": "corpus", "custom": {"faasr": {"Timeout": 60, "CheckInterval": 0.5, "ActionTimeout": 30}}},
    "devices": {
        "store": _device("s3", {"Endpoint": "http://127.0.0.1:9000", "Region": "us-east-1", "Bucket": "faasr",
                                "AccessKey": "AKIA-corpus", "SecretKey": SECRET, "DataStores": ["My_S3_Bucket"]}),
        "embedded": _device("s3", {"Embedded": True, "DataStores": ["Other"]}),
        "local": _device("faas", {"FaaSType": "Local", "ComputeServers": ["My_Local"], "MaxParallel": 4}),
        "github": _device("faas", {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r",
                                   "Branch": "main", "Token": TOKEN, "ComputeServers": ["My_GitHub_Account"]}),
    },
}
STORE = "devices.store.custom.faasr"
GITHUB = "devices.github.custom.faasr"
LOCAL = "devices.local.custom.faasr"
WRONG_SHAPES = [[1], {"a": 1}]
UNSET = "FAASR_EASYPY_CORPUS_UNSET_VARIABLE"


def _mutants():
    """(name, bytes, text the error must contain): at least 100 malformed testbeds."""
    out = []

    def add(name, expected, data=None, mutate=None):
        if mutate is not None:
            data = copy.deepcopy(BASE)
            mutate(data)
        raw = data if isinstance(data, bytes) else yaml.safe_dump(data, sort_keys=False).encode()
        out.append((name, raw, expected))

    def faasr(data, device):
        return data["devices"][device]["custom"]["faasr"]

    def setter(device, key, value):
        def mutate(data):
            faasr(data, device)[key] = value
        return mutate

    def deleter(device, key):
        def mutate(data):
            del faasr(data, device)[key]
        return mutate

    # testbed-level settings: wrong types and values, an unknown one
    for key in ("Timeout", "CheckInterval", "ActionTimeout"):
        for i, value in enumerate([0, -1, "abc", True, [1], {"a": 1}, "inf", None]):
            add(f"testbed-{key}-{i}", f"testbed.custom.faasr.{key}",
                mutate=lambda d, k=key, v=value: d["testbed"]["custom"]["faasr"].__setitem__(k, v))
    add("testbed-unknown-setting", "testbed.custom.faasr.Colour",
        mutate=lambda d: d["testbed"]["custom"]["faasr"].__setitem__("Colour", "blue"))
    add("testbed-faasr-list", "testbed.custom.faasr", mutate=lambda d: d["testbed"]["custom"].__setitem__("faasr", [1]))
    add("testbed-custom-list", "testbed.custom", mutate=lambda d: d["testbed"].__setitem__("custom", [1]))

    # data store fields
    for key in ("Embedded", "Anonymous", "Writable"):
        for i, value in enumerate(["maybe", [1], {"a": 1}, 7]):
            add(f"store-{key}-{i}", f"{STORE}.{key}", mutate=setter("store", key, value))
    for key in ("Bucket", "Region", "AccessKey", "SecretKey", "Endpoint"):
        for i, value in enumerate(WRONG_SHAPES):
            add(f"store-{key}-shape-{i}", f"{STORE}.{key}", mutate=setter("store", key, value))
    for i, bucket in enumerate(["../escape", "a", "UPPER", "with space", "-lead", "x" * 70, "a..b", "a/b",
                                "../../etc/passwd"]):
        add(f"store-bucket-name-{i}", f"{STORE}.Bucket", mutate=setter("store", "Bucket", bucket))
    for i, endpoint in enumerate(["ftp://x", "s3.amazonaws.com", 5, "", "../etc", True]):
        add(f"store-endpoint-{i}", f"{STORE}.Endpoint", mutate=setter("store", "Endpoint", endpoint))
    for key in ("Endpoint", "AccessKey", "SecretKey"):
        add(f"store-missing-{key}", f"{STORE}.{key}", mutate=deleter("store", key))
    add("store-unknown-field", f"{STORE}.Colour", mutate=setter("store", "Colour", "blue"))
    add("embedded-with-endpoint", "devices.embedded.custom.faasr.Endpoint",
        mutate=setter("embedded", "Endpoint", "http://127.0.0.1:1"))

    # compute server fields
    for key in ("UserName", "ActionRepoName", "Branch", "Token"):
        add(f"github-missing-{key}", f"{GITHUB}.{key}", mutate=deleter("github", key))
    for key in ("UserName", "Branch", "Token", "ApiUrl", "PayloadUrl"):
        for i, value in enumerate(WRONG_SHAPES):
            add(f"github-{key}-shape-{i}", f"{GITHUB}.{key}", mutate=setter("github", key, value))
    add("github-api-url", f"{GITHUB}.ApiUrl", mutate=setter("github", "ApiUrl", "api.github.com"))
    add("github-secret-store", f"{GITHUB}.UseSecretStore", mutate=setter("github", "UseSecretStore", "maybe"))
    for ftype, needed in (("Lambda", ("Region", "AccessKey")), ("OpenWhisk", ("Endpoint", "Namespace", "Token")),
                          ("SLURM", ("Endpoint", "UserName", "APIVersion", "Partition", "Token"))):
        for key in needed:
            def mutate(data, ftype=ftype, key=key):
                data["devices"]["github"]["custom"]["faasr"] = {"FaaSType": ftype, "ComputeServers": ["X"]}
            add(f"{ftype.lower()}-missing-{key}", f"{GITHUB}.{key}", mutate=mutate)
    for i, ftype in enumerate(["Heroku", "", None, [1], {"a": 1}, "local", 5]):
        add(f"faastype-{i}", f"{LOCAL}.FaaSType", mutate=setter("local", "FaaSType", ftype))
    add("faastype-missing", f"{LOCAL}.FaaSType", mutate=deleter("local", "FaaSType"))
    for i, value in enumerate([0, -2, 1.5, True, "8", [1]]):
        add(f"max-parallel-{i}", f"{LOCAL}.MaxParallel", mutate=setter("local", "MaxParallel", value))
    for i, value in enumerate([0, "x", True, [1]]):
        add(f"action-timeout-{i}", f"{LOCAL}.ActionTimeout", mutate=setter("local", "ActionTimeout", value))
    for i, value in enumerate([0, 8, True, "512", 1.5, [1]]):
        add(f"action-memory-{i}", f"{LOCAL}.ActionMemoryMiB", mutate=setter("local", "ActionMemoryMiB", value))
    add("compute-unknown-field", f"{LOCAL}.Colour", mutate=setter("local", "Colour", "blue"))

    # which workflow names a device serves
    for device, key, path in (("store", "DataStores", STORE), ("local", "ComputeServers", LOCAL)):
        for i, value in enumerate([[], [1], "../x", ["../x"], ["a/b"], ["with space"], {"a": 1}, [""], [None]]):
            add(f"{device}-{key}-{i}", f"{path}.{key}", mutate=setter(device, key, value))
        add(f"{device}-{key}-overlap", key, mutate=lambda d, dev=device, k=key: (
            faasr(d, dev).__setitem__(k, "*"),
            faasr(d, "embedded" if dev == "store" else "github").__setitem__(k, "*")))

    # device types and shapes
    for i, dtype in enumerate(["router", "S3", "FaaS", "s3 ", 5, ["s3"]]):
        add(f"device-type-{i}", "devices.store.type",
            mutate=lambda d, t=dtype: d["devices"]["store"].__setitem__("type", t))
    add("store-without-faasr", f"{STORE}", mutate=lambda d: d["devices"]["store"]["custom"].pop("faasr"))
    add("store-without-custom", f"{STORE}", mutate=lambda d: d["devices"]["store"].pop("custom"))
    for i, value in enumerate([[1], "text"]):
        add(f"faasr-section-{i}", STORE,
            mutate=lambda d, v=value: d["devices"]["store"]["custom"].__setitem__("faasr", v))
    for i, value in enumerate(["a string", [1, 2], None]):
        add(f"device-shape-{i}", "devices.store", mutate=lambda d, v=value: d["devices"].__setitem__("store", v))
    add("device-custom-list", "devices.store.custom", mutate=lambda d: d["devices"]["store"].__setitem__("custom", [1]))
    add("device-without-connections", "devices.store.connections",
        mutate=lambda d: d["devices"]["store"].pop("connections"))
    add("dotdot-device-without-connections", "devices.../../etc/passwd.connections",
        mutate=lambda d: d["devices"].__setitem__(
            "../../etc/passwd", {"os": "linux", "type": "s3", "custom": {"faasr": {"Embedded": True}}}))
    for i, value in enumerate([[1], "devices", 5]):
        add(f"devices-shape-{i}", "devices", mutate=lambda d, v=value: d.__setitem__("devices", v))
    add("testbed-shape", "testbed", mutate=lambda d: d.__setitem__("testbed", ["corpus"]))
    add("unknown-top-level-key", "colour", mutate=lambda d: d.__setitem__("colour", "blue"))

    # %ENV{} references
    for i, ref in enumerate(["%ENV{}", "%ENV{UNCLOSED", "%ENV{A B}", "%ENV{1ABC}", "%ENV(X)", "x-%ENV{",
                             "%ENV{A}%ENV"]):
        add(f"env-malformed-{i}", f"{STORE}.SecretKey", mutate=setter("store", "SecretKey", ref))
    add("env-unset-credential", UNSET, mutate=setter("store", "AccessKey", f"%ENV{{{UNSET}}}"))
    add("env-unset-token", UNSET, mutate=setter("github", "Token", f"%ENV{{{UNSET}}}"))
    add("env-unset-bucket", f"{STORE}.Bucket", mutate=setter("store", "Bucket", f"%ENV{{{UNSET}}}"))
    add("env-unset-region", f"{STORE}.Region", mutate=setter("store", "Region", f"%ENV{{{UNSET}}}"))

    # raw text: encodings, syntax, sizes
    text = yaml.safe_dump(BASE, sort_keys=False).encode()
    add("invalid-utf8", "not UTF-8", text.replace(b"corpus", b"cor\xffpus", 1))
    add("latin1", "not UTF-8", text.replace(b"us-east-1", "us-\u00e9ast-1".encode("latin-1")))
    add("lone-continuation-byte", "not UTF-8", text + b"# \x80\n")
    add("utf16", "not UTF-8", text.decode().encode("utf-16"))
    add("nul-bytes", "not valid YAML", text.replace(b"corpus", b"cor\x00pus", 1))
    add("tab-indent", "not valid YAML", text.replace(b"\n  ", b"\n\t", 1))
    add("unclosed-quote", "not valid YAML", text + b'extra: "never closed\n')
    add("unclosed-bracket", "not valid YAML", text.replace(b"- My_S3_Bucket", b"[My_S3_Bucket", 1))
    add("bad-indent", "not valid YAML", b"testbed:\n  name: x\n devices: {}\n")
    add("two-documents", "not valid YAML", text + b"---\n" + text)
    add("lone-colon", "not valid YAML", b": :\n:\n")
    add("empty", "is empty", b"")
    add("only-comment", "is empty", b"# nothing here\n")
    add("top-level-list", "(top level)", b"- testbed\n- devices\n")
    add("top-level-string", "(top level)", b"just a string\n")
    add("top-level-number", "(top level)", b"42\n")
    add("huge", "bytes", text + b"# " + b"x" * (MAX_TESTBED_BYTES + 10) + b"\n")
    add("deep-nesting", "nests too deeply", b"testbed: " + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    bomb = ["testbed:", "  name: bomb", "  custom:", '    a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    bomb += [f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    add("alias-bomb", "alias bomb", "\n".join(bomb).encode() + b"\n")
    add("recursive-alias", "refers to the value that contains it", b"testbed:\n  name: x\n  custom:\n    a: &a [*a]\n")
    return out


MUTANTS = _mutants()
LOADERS = {"core": load_file, "pyats": pyats_testbed.load_file}


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_the_base_testbed_is_valid(tmp_path, loader):
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(BASE))
    tb = LOADERS[loader](path)
    assert len(tb.stores) == 2 and len(tb.computes) == 2


def test_corpus_is_large_enough():
    assert len(MUTANTS) >= 100, len(MUTANTS)
    assert len({name for name, _, _ in MUTANTS}) == len(MUTANTS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-testbeds")
    out = []
    for name, raw, expected in MUTANTS:
        path = folder / f"{name}.yaml"
        path.write_bytes(raw)
        out.append((path, expected))
    return out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_bad_testbed_gives_a_clear_error(corpus, monkeypatch, loader):
    monkeypatch.delenv(UNSET, raising=False)
    for path, expected in corpus:
        with pytest.raises(UserError) as info:
            LOADERS[loader](path)
        text = str(info.value)
        assert str(path) in text, text[:300]
        assert expected in text, (path.name, expected, text[:600])
        assert "Fix:" in text, text[:600]
        assert "Traceback" not in text
        assert all(len(line) < 700 for line in text.splitlines()), text[:700]
        assert SECRET not in text and TOKEN not in text, path.name


# A sample through the real command line: pyats run job with the bad file as --testbed-file.
CLI_SAMPLE = ["invalid-utf8", "devices-shape-0", "device-without-connections", "env-malformed-1",
              "store-bucket-name-0", "huge", "alias-bomb", "faastype-3"]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_pyats_run_job_refuses_a_bad_testbed_in_one_paragraph(corpus, name):
    path, expected = next((p, e) for p, e in corpus if p.stem == name)
    rc, out, archive, tag = run_job(REPO / "jobs/faasr_job.py", "--testbed-file", path, "--no-mail", timeout=120)
    assert rc == 2, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert f"faasr-easypy: {path}" in out and expected in out, out[-3000:]
    assert archive is None  # refused before the job started: nothing ran
    assert not leftovers(tag)
    assert SECRET not in out and TOKEN not in out


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_the_shipped_testbeds_still_load(loader, monkeypatch):
    monkeypatch.setenv("FAASR_EASYPY_SLURM_ENDPOINT", "http://127.0.0.1:6820")  # slurm_local.yaml's
    monkeypatch.setenv("FAASR_EASYPY_SLURM_TOKEN", "eyJ-not-a-real-token")
    for path in glob_files(REPO / "testbeds", "*.yaml"):
        if "github" not in path.name:  # needs its %ENV variables (tests/test_easypy_units.py)
            LOADERS[loader](path)
