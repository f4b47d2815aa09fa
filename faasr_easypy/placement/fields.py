"""FaaSr settings in a testbed, checked field by field: data stores and compute servers.

A testbed maps the *names* a workflow JSON uses (its DataStores and
ComputeServers) onto real things, so the same workflow file runs on the
embedded default or on real S3 + GitHub Actions just by changing
``--testbed-file``. FaaSr settings live in ``custom: faasr:`` sections and use
the workflow JSON's own field names::

    devices:
      s3:                          # any name
        os: linux                  # pyATS needs os and connections on a device
        type: s3                   # s3 = a data store, faas = a compute server
        connections: {}
        custom:
          faasr:
            Embedded: true         # the job's embedded S3 server, or Endpoint/Bucket/Region/AccessKey/SecretKey
            DataStores: "*"        # which workflow DataStores it serves: names, or "*" (the default)
      local:
        os: linux
        type: faas
        connections: {}
        custom:
          faasr:
            FaaSType: Local        # Local; GitHubActions, Lambda, ... with their JSON fields
            ComputeServers: "*"

Testbed level ``custom: faasr:`` may hold job defaults: Timeout, CheckInterval,
ActionTimeout (seconds). Every mistake is reported at once, each naming the
file, the field and the fix. `build()` takes the testbed's parts, however they
were read: from the YAML (testbed_file.py) or from a pyATS Testbed object
(faasr_easypy.easypy.pyats_testbed.py).
"""

import math
import os
import re

from .. import defaults, workflow
from ..errors import Problem, ValidationError
from ..workflow import FAAS_TYPES
from .model import (
    COMPUTE_TYPE,
    FALSE_WORDS,
    STORE_TYPE,
    TRUE_WORDS,
    WILDCARD,
    ComputeSpec,
    FaasrTestbed,
    StoreSpec,
    truthy,
)

STORE_KEYS = ("Embedded", "Endpoint", "Bucket", "Region", "AccessKey", "SecretKey", "Anonymous",
              "Writable", "DataStores")
# FaaSType -> the credential a testbed device of that type needs.
COMPUTE_CREDENTIALS = {"Local": None, "GitHubActions": "Token", "Lambda": "AccessKey", "OpenWhisk": "Token",
                       "GoogleCloud": None, "SLURM": "Token", "Kubernetes": None}
# FaaSType -> fields it needs (the workflow JSON's, workflow.FAAS_TYPES; Local is the testbed's own,
# which a workflow may not name) and the credential it needs.
COMPUTE_TYPES = {ftype: (() if ftype == "Local" else FAAS_TYPES[ftype], credential)
                 for ftype, credential in COMPUTE_CREDENTIALS.items()}
COMPUTE_KEYS = ("FaaSType", "ComputeServers", "UserName", "ActionRepoName", "Branch", "Region",
                "Endpoint", "Namespace", "APIVersion", "Partition", "Token", "AccessKey", "SecretKey",
                "MaxParallel", "ActionTimeout", "ApiUrl", "UseSecretStore", "PayloadUrl", "Runtime",
                "GitHubStandIn", "WorkingDirectory", "TimeLimit", "ActionMemoryMiB")
RUNTIMES = defaults.RUNTIMES  # Local compute only: which backend runs the actions on this machine
# Optional compute fields passed through to the remote backends (API endpoints for tests or
# private deployments, the runtime's secret-store flag, where the runtime finds the JSON).
OPTIONAL_COMPUTE = ("ApiUrl", "Endpoint", "UseSecretStore", "PayloadUrl", "WorkingDirectory", "TimeLimit")
TESTBED_KEYS = tuple(defaults.TESTBED_KEYS.values())
ENV_REF = re.compile(r"%ENV\{([A-Za-z_][A-Za-z0-9_]*)\}")
CREDENTIAL_KEYS = ("AccessKey", "SecretKey", "Token")  # their missing variables have their own message

BUCKET_NAME = workflow.BUCKET_NAME  # S3's rules, as the workflow JSON's Bucket is checked
# DataStores / ComputeServers names a workflow can use (no paths, no spaces)
SERVED_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def build(name, source, custom, devices, raw, builtin=False):
    """The FaasrTestbed of testbed `name` read from `source`: `custom` is its testbed-level
    custom: mapping, `devices` {device name: (type, custom mapping)}, `raw` the file's YAML
    before %ENV substitution (to name unset variables). ValidationError listing every problem."""
    problems = _env_problems(raw, source) if isinstance(raw, dict) else []

    def bad(path, message, fix):
        problems.append(Problem(source, path, message, fix))

    options = {}
    top = _faasr_section(custom)
    if top is not None:
        if not isinstance(top, dict):
            bad("testbed.custom.faasr", f"is {_kind(top)}", f"make it a mapping with {', '.join(TESTBED_KEYS)}")
        else:
            for key, value in top.items():
                path = f"testbed.custom.faasr.{key}"
                if key not in TESTBED_KEYS:
                    bad(path, "is not a FaaSr testbed setting", f"use one of {', '.join(TESTBED_KEYS)}")
                    continue
                number = _positive(value)
                if number is None:
                    bad(path, f"{value!r} is not a positive number of seconds", "give seconds, e.g. 300")
                else:
                    options[key] = number

    stores, computes = [], []
    for device_name, (dtype, device_custom) in devices.items():
        section = _faasr_section(device_custom)
        base = f"devices.{device_name}"
        if dtype not in (STORE_TYPE, COMPUTE_TYPE):
            if section is not None:
                bad(f"{base}.type", f"is {dtype!r}, but the device has a custom: faasr: section",
                    f"use type: {STORE_TYPE} for an S3 data store or type: {COMPUTE_TYPE} for a compute server")
            continue
        path = f"{base}.custom.faasr"
        if section is None:
            bad(path, "is missing", "add custom: faasr: with " + (
                "Embedded: true, or Endpoint, Region, AccessKey and SecretKey" if dtype == STORE_TYPE
                else "FaaSType: Local (or the compute server's FaaSr fields)"))
            continue
        if not isinstance(section, dict):
            bad(path, f"is {_kind(section)}", "make it a mapping of FaaSr fields")
            continue
        env = _env_names(raw, device_name)
        if dtype == STORE_TYPE:
            spec = _store(device_name, section, path, bad, env)
            if spec:
                stores.append(spec)
        else:
            spec = _compute(device_name, section, path, bad, env)
            if spec:
                computes.append(spec)
    _check_overlaps(stores, "DataStores", bad)
    _check_overlaps(computes, "ComputeServers", bad)
    if problems:
        raise ValidationError(source, problems)
    return FaasrTestbed(name, source, stores, computes, options, builtin=builtin)


def _env_problems(raw, source):
    """%ENV{...} references pyATS would pass on as literal text, and unset variables in FaaSr settings."""
    problems = []

    def walk(value, path, in_faasr):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key), in_faasr or key == "faasr")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]", in_faasr)
        elif isinstance(value, str) and "%ENV" in value:
            if "%ENV" in ENV_REF.sub("", value):
                problems.append(Problem(source, path, f"{_clip_line(value)!r} has a malformed %ENV reference",
                                        "write %ENV{VARIABLE_NAME}: letters, digits and _ between the braces"))
                return
            key = path.rsplit(".", 1)[-1]
            if in_faasr and key not in CREDENTIAL_KEYS:
                for var in ENV_REF.findall(value):
                    if var not in os.environ:
                        problems.append(Problem(source, path, f"names the environment variable {var}, which "
                                                "is not set", f"export {var}, or write the value itself"))

    walk(raw, "", False)
    return problems


# -- devices ----------------------------------------------------------------

def _store(name, section, path, bad, env):
    for key in section:
        if key not in STORE_KEYS:
            bad(f"{path}.{key}", "is not a data store field", f"use only {', '.join(STORE_KEYS)} "
                "(the workflow JSON's DataStores fields, plus credentials)")
    embedded = _flag(section, "Embedded", False, path, bad)
    serves = _serves(section.get("DataStores", WILDCARD), f"{path}.DataStores", bad)
    bucket = _text(section, "Bucket", path, bad)
    if bucket and not (BUCKET_NAME.fullmatch(bucket) and ".." not in bucket):
        bad(f"{path}.Bucket", f"{_clip_line(bucket, 80)!r} is not a valid S3 bucket name",
            "use 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or "
            "digit (e.g. faasr), or leave Bucket out to keep the workflow's bucket")
    spec = StoreSpec(device=name, embedded=embedded, serves=serves or [WILDCARD], bucket=bucket,
                     region=_text(section, "Region", path, bad) or "us-east-1",
                     anonymous=_flag(section, "Anonymous", False, path, bad),
                     writable=_flag(section, "Writable", True, path, bad))
    for key in ("AccessKey", "SecretKey"):
        _text(section, key, path, bad)
    if embedded:
        for key in ("Endpoint", "AccessKey", "SecretKey"):
            if section.get(key):
                bad(f"{path}.{key}", "is set on an Embedded data store",
                    "remove it (the job starts the embedded server and makes its own credentials), "
                    "or remove Embedded: true to use that endpoint")
        return spec
    endpoint = section.get("Endpoint")
    if endpoint in (None, ""):
        bad(f"{path}.Endpoint", "is missing", "give the S3 endpoint URL (e.g. https://s3.us-east-1."
            "amazonaws.com), or set Embedded: true for the job's embedded S3 server")
    elif not (isinstance(endpoint, str) and endpoint.startswith(("http://", "https://"))):
        bad(f"{path}.Endpoint", f"{endpoint!r} is not an http(s) URL", "use a URL such as https://s3.amazonaws.com")
    else:
        spec.endpoint = endpoint
    if not spec.anonymous:
        for key in ("AccessKey", "SecretKey"):
            value = section.get(key)
            if not value:
                var = env.get(key)
                bad(f"{path}.{key}", (f"is empty: the environment variable {var} is not set" if var
                                      else "is missing"),
                    (f"export {var}" if var else f"add {key}: \"%ENV{{MY_STORE_{key}}}\" and export "
                     "that variable (never write credentials into the file)"))
        spec.access_key = str(section.get("AccessKey") or "")
        spec.secret_key = str(section.get("SecretKey") or "")
    return spec


def _compute(name, section, path, bad, env):
    for key in section:
        if key not in COMPUTE_KEYS:
            bad(f"{path}.{key}", "is not a compute server field", f"use only {', '.join(COMPUTE_KEYS)}")
    ftype = section.get("FaaSType")
    if not isinstance(ftype, str) or ftype not in COMPUTE_TYPES:
        bad(f"{path}.FaaSType", "is missing" if ftype is None else f"{ftype!r} is not a FaaSr compute type",
            f"use one of {', '.join(COMPUTE_TYPES)} (Local runs actions on this machine)")
        return None
    needed, credential = COMPUTE_TYPES[ftype]
    for key in needed:
        if not section.get(key):
            bad(f"{path}.{key}", f"is missing (a {ftype} compute server needs it)", f"add {key}")
    for key in {*needed, *OPTIONAL_COMPUTE, "Token", "AccessKey", "SecretKey"}:
        if key != "UseSecretStore":
            _text(section, key, path, bad)
    for key in ("ApiUrl", "Endpoint"):
        value = section.get(key)
        if isinstance(value, str) and value and not value.startswith(("http://", "https://")):
            bad(f"{path}.{key}", f"{_clip_line(value, 80)!r} is not an http(s) URL",
                "give a URL such as https://api.github.com")
    if "UseSecretStore" in section:
        _flag(section, "UseSecretStore", False, path, bad)
    # SLURM on this machine only: GitHub (PAYLOAD_URL, FunctionGitRepo) played by a loopback stand-in
    github_standin = _flag(section, "GitHubStandIn", False, path, bad) if "GitHubStandIn" in section else False
    if github_standin and ftype != "SLURM":
        bad(f"{path}.GitHubStandIn", f"is set on a {ftype} compute server",
            "remove it: only a SLURM test cluster on this machine fetches from the GitHub stand-in")
    if credential and not section.get(credential):
        var = env.get(credential)
        bad(f"{path}.{credential}", (f"is empty: the environment variable {var} is not set" if var
                                     else f"is missing (a {ftype} compute server needs it)"),
            f"export {var}" if var else f"add {credential}: \"%ENV{{{name.upper()}_{credential.upper()}}}\" "
            "and export that variable")
    serves = _serves(section.get("ComputeServers", WILDCARD), f"{path}.ComputeServers", bad)
    max_parallel = section.get("MaxParallel")
    if max_parallel is not None and not (isinstance(max_parallel, int) and not isinstance(max_parallel, bool)
                                         and max_parallel > 0):
        bad(f"{path}.MaxParallel", f"{max_parallel!r} is not a positive whole number",
            "give how many actions may run at once, e.g. 8")
        max_parallel = None
    action_timeout = section.get("ActionTimeout")
    if action_timeout is not None:
        action_timeout = _positive(action_timeout)
        if action_timeout is None:
            bad(f"{path}.ActionTimeout", "is not a positive number of seconds", "give seconds, e.g. 600")
    memory = section.get("ActionMemoryMiB")
    if memory is not None and not (isinstance(memory, int) and not isinstance(memory, bool) and memory >= 16):
        bad(f"{path}.ActionMemoryMiB", f"{memory!r} is not a whole number of MiB of at least 16",
            "give the memory one action may use, e.g. 4096")
        memory = None
    # SLURM: faasr-py (FaaSr's own job and container, the default) or local (our runtime, one job
    # per action: the cluster executor)
    runtime = section.get("Runtime", "faasr-py" if ftype == "SLURM" else "local")
    if runtime not in RUNTIMES:
        bad(f"{path}.Runtime", f"{runtime!r} is not a runtime", f"use one of {', '.join(RUNTIMES)}")
        runtime = "local"
    elif runtime != "local" and ftype not in ("Local", "SLURM"):
        bad(f"{path}.Runtime", f"is set on a {ftype} compute server",
            "remove it: Runtime chooses how FaaSType Local (or SLURM) runs actions")
    fields = {k: str(section[k]) for k in needed + OPTIONAL_COMPUTE
              if section.get(k) not in (None, "") and not isinstance(section[k], (dict, list))}
    return ComputeSpec(device=name, faas_type=ftype, fields=fields, serves=serves or [WILDCARD],
                       runtime=runtime,
                       token=str(section.get(credential) or "") if credential else "",
                       secret_key=str(section.get("SecretKey") or "") if ftype == "Lambda" else "",
                       max_parallel=max_parallel, action_timeout=action_timeout,
                       github_standin=bool(github_standin), action_memory_mib=memory)


def _serves(value, path, bad):
    if value == WILDCARD:
        return [WILDCARD]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        bad(path, f"{_clip_line(repr(value), 120)} is not a list of names",
            "give a list of the workflow's names, or \"*\" for all")
        return None
    wrong = [v for v in value if v != WILDCARD and (not SERVED_NAME.match(v) or ".." in v)]
    if wrong:
        bad(path, f"{_clip_line(repr(wrong[0]), 120)} is not a name a workflow can use",
            "give the workflow's DataStores / ComputeServers names (letters, digits, _ . -; no paths "
            "or spaces), or \"*\" for all")
        return None
    return list(value)


def _check_overlaps(items, key, bad):
    seen = {}
    for item in items:
        for name in item.serves:
            if name in seen:
                what = "more than one device serves every name (\"*\")" if name == WILDCARD \
                    else f"{name!r} is served by two devices"
                bad(f"devices.{item.device}.custom.faasr.{key}", f"{what} ({seen[name]} and {item.device})",
                    f"give each device its own {key} list")
            else:
                seen[name] = item.device


# -- helpers ----------------------------------------------------------------

def _faasr_section(custom):
    if not custom:
        return None
    try:
        return custom.get("faasr")
    except AttributeError:
        return None


def _env_names(raw, device):
    """{field: VAR} for fields of devices.<device>.custom.faasr written as %ENV{VAR}."""
    try:
        section = raw["devices"][device]["custom"]["faasr"]
    except (KeyError, TypeError):
        return {}
    out = {}
    for key, value in (section or {}).items():
        m = re.fullmatch(r"\s*%ENV\{(\w+)\}\s*", str(value))
        if m:
            out[key] = m.group(1)
    return out


def _flag(section, key, default, path, bad):
    """A true/false field: YAML booleans or the words true/false, yes/no, on/off, 1/0."""
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().upper() in TRUE_WORDS + FALSE_WORDS:
        return truthy(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    bad(f"{path}.{key}", f"{_clip_line(repr(value), 80)} is not true or false", "write true or false")
    return default


def _text(section, key, path, bad):
    """A single text field ("" when absent); numbers are accepted as text, mappings and lists are not."""
    value = section.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    bad(f"{path}.{key}", f"is {_kind(value)}, not a single value", f"write {key}: followed by one text value")
    return ""


def _positive(value):
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and math.isfinite(number) else None


def _kind(value):
    return f"a {type(value).__name__}"


def _clip_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
