"""FaaSr settings in a pyATS testbed: data stores and compute servers.

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
file, the field and the fix.
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem, UserError, ValidationError

STORE_TYPE = "s3"
COMPUTE_TYPE = "faas"
WILDCARD = "*"

STORE_KEYS = ("Embedded", "Endpoint", "Bucket", "Region", "AccessKey", "SecretKey", "Anonymous",
              "Writable", "DataStores")
# FaaSType -> fields it needs (as in the workflow JSON) and the credential it needs.
COMPUTE_TYPES = {
    "Local": ((), None),
    "GitHubActions": (("UserName", "ActionRepoName", "Branch"), "Token"),
    "Lambda": (("Region",), "AccessKey"),
    "OpenWhisk": (("Endpoint", "Namespace"), "Token"),
    "GoogleCloud": ((), None),
    "SLURM": (("Endpoint", "UserName", "APIVersion", "Partition"), "Token"),
    "Kubernetes": ((), None),
}
COMPUTE_KEYS = ("FaaSType", "ComputeServers", "UserName", "ActionRepoName", "Branch", "Region",
                "Endpoint", "Namespace", "APIVersion", "Partition", "Token", "AccessKey", "SecretKey",
                "MaxParallel", "ActionTimeout", "ApiUrl", "UseSecretStore", "PayloadUrl", "Runtime",
                "ActionMemoryMiB")
# Local compute only: which backend runs the actions on this machine (environment.MACHINE_BACKENDS)
RUNTIMES = ("local", "faasr-py")
# Optional compute fields passed through to the remote backends (API endpoints for tests or
# private deployments, the runtime's secret-store flag, where the runtime finds the JSON).
OPTIONAL_COMPUTE = ("ApiUrl", "Endpoint", "UseSecretStore", "PayloadUrl")
TESTBED_KEYS = ("Timeout", "CheckInterval", "ActionTimeout")
AVAILABLE_COMPUTE = ("Local", "GitHubActions", "Lambda", "OpenWhisk")

BUILTIN_LOCAL = Path(__file__).with_name("local_testbed.yaml")

# Checked before pyATS reads a file: pyATS needs minutes for a 20 MB testbed and never
# finishes a YAML alias bomb ("billion laughs"); FaaSr testbeds are a few KB.
MAX_TESTBED_BYTES = 2 * 1024 * 1024
MAX_YAML_VALUES = 100_000
ENV_REF = re.compile(r"%ENV\{([A-Za-z_][A-Za-z0-9_]*)\}")
CREDENTIAL_KEYS = ("AccessKey", "SecretKey", "Token")  # their missing variables have their own message
# S3 bucket naming rules (3-63 lowercase letters, digits, dots, hyphens)
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# DataStores / ComputeServers names a workflow can use (no paths, no spaces)
SERVED_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass
class StoreSpec:
    """One S3 data store of the testbed."""

    device: str
    embedded: bool = False
    endpoint: str = ""
    bucket: str = ""          # empty: keep the workflow's bucket name
    region: str = "us-east-1"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    anonymous: bool = False
    writable: bool = True
    serves: list[str] = field(default_factory=lambda: [WILDCARD])

    def secrets(self):
        return [s for s in (self.access_key, self.secret_key) if s]


@dataclass
class ComputeSpec:
    """One compute server of the testbed."""

    device: str
    faas_type: str
    fields: dict[str, str] = field(default_factory=dict)
    token: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)  # Lambda: the secret half of AccessKey
    max_parallel: int | None = None
    action_timeout: float | None = None
    action_memory_mib: int | None = None  # Local: what one action may allocate (RLIMIT_AS)
    serves: list[str] = field(default_factory=lambda: [WILDCARD])
    runtime: str = "local"

    @property
    def available(self):
        return self.faas_type in AVAILABLE_COMPUTE

    def secrets(self):
        return [s for s in (self.token, self.secret_key) if s]

    def server(self):
        """The ComputeServers entry this device stands for, as the workflow JSON spells it."""
        out = {"FaaSType": self.faas_type}
        for key, value in self.fields.items():
            out[key] = _truthy(value) if key == "UseSecretStore" else value
        return out

    def backend_options(self):
        """Credentials and endpoints for faasr_easypy.backends.registry.backend_for()."""
        if self.faas_type == "GitHubActions":
            return {"token": self.token or None, "api_url": self.fields.get("ApiUrl"),
                    "payload_url": self.fields.get("PayloadUrl")}
        if self.faas_type == "Lambda":
            return {"access_key": self.token or None, "secret_key": self.secret_key or None,
                    "endpoint_url": self.fields.get("Endpoint"), "payload_url": self.fields.get("PayloadUrl")}
        if self.faas_type == "OpenWhisk":
            return {"api_key": self.token or None, "payload_url": self.fields.get("PayloadUrl")}
        return {}


@dataclass
class Resolved:
    """What one workflow's DataStores and ComputeServers map to in the testbed."""

    stores: dict[str, StoreSpec]
    computes: dict[str, ComputeSpec]

    @property
    def max_parallel(self):
        values = [c.max_parallel for c in self.computes.values() if c.max_parallel]
        return min(values) if values else None

    @property
    def action_timeout(self):
        values = [c.action_timeout for c in self.computes.values() if c.action_timeout]
        return min(values) if values else None

    @property
    def action_memory_mib(self):
        values = [c.action_memory_mib for c in self.computes.values() if c.action_memory_mib]
        return min(values) if values else None


class FaasrTestbed:
    """The FaaSr view of a pyATS testbed."""

    def __init__(self, name, source, stores, computes, options=None, builtin=False):
        self.name = name
        self.source = str(source)
        self.stores: list[StoreSpec] = list(stores)
        self.computes: list[ComputeSpec] = list(computes)
        self.options = dict(options or {})
        self.builtin = builtin

    @property
    def needs_embedded_s3(self):
        return any(s.embedded for s in self.stores)

    @property
    def runs_local(self):
        """Some compute server runs actions on this machine with the local backend (its fork
        server); FaaSType Local with Runtime faasr-py runs them in faasr-py's own processes."""
        return any(c.faas_type == "Local" and c.runtime == "local" for c in self.computes)

    @property
    def is_local(self):
        return all(c.faas_type == "Local" for c in self.computes)

    def secrets(self):
        out = []
        for item in self.stores + self.computes:
            out.extend(item.secrets())
        return out

    def check_available(self):
        """UserError for compute servers faasr-easypy cannot drive yet."""
        for c in self.computes:
            if not c.available:
                raise UserError(
                    f"{self.source}: devices.{c.device}.custom.faasr.FaaSType: {c.faas_type} is not "
                    f"supported by faasr-easypy yet (it triggers {', '.join(AVAILABLE_COMPUTE[1:])} "
                    f"and runs Local). Fix: use one of those FaaSTypes, e.g. testbeds/local.yaml.")

    def _match(self, items, name):
        exact = [i for i in items if name in i.serves]
        if exact:
            return exact[0]
        wild = [i for i in items if WILDCARD in i.serves]
        return wild[0] if wild else None

    def resolve(self, workflow) -> Resolved:
        """Map every DataStore and ComputeServer of `workflow`; UserError naming what is missing."""
        problems = []
        stores, computes = {}, {}
        for name in workflow.data["DataStores"]:
            spec = self._match(self.stores, name)
            if spec is None:
                problems.append(Problem(
                    self.source, "devices", f"has no S3 data store for data store {name!r} of workflow "
                    f"{workflow.name} ({workflow.source})",
                    f"add a device of type {STORE_TYPE} with custom: faasr: DataStores: [{name}] "
                    "(or \"*\")"))
            else:
                stores[name] = spec
        servers = {a.faas_server for a in workflow.actions.values()}
        for name in sorted(servers):
            spec = self._match(self.computes, name)
            if spec is None:
                problems.append(Problem(
                    self.source, "devices", f"has no compute server for {name!r}, which workflow "
                    f"{workflow.name} ({workflow.source}) runs actions on",
                    f"add a device of type {COMPUTE_TYPE} with custom: faasr: FaaSType: Local and "
                    f"ComputeServers: [{name}] (or \"*\")"))
            else:
                computes[name] = spec
        if problems:
            raise ValidationError(self.source, problems)
        for name, spec in computes.items():
            if not spec.available:
                raise UserError(
                    f"{self.source}: devices.{spec.device}: compute server {name!r} of workflow "
                    f"{workflow.name} maps to FaaSType {spec.faas_type}, which faasr-easypy does not "
                    f"support yet. Fix: map it to a device with FaaSType "
                    f"{', '.join(AVAILABLE_COMPUTE)} (testbeds/local.yaml runs everything here).")
        return Resolved(stores, computes)

    def __repr__(self):
        return (f"FaasrTestbed({self.name!r}, {len(self.stores)} data store(s), "
                f"{len(self.computes)} compute server(s))")


def has_faasr_devices(testbed):
    """True when a loaded pyATS testbed has any device of type s3/faas or custom.faasr."""
    for device in testbed.devices.values():
        if device.type in (STORE_TYPE, COMPUTE_TYPE) or _faasr_section(device.custom) is not None:
            return True
    return False


def load_builtin():
    """The built-in local testbed (embedded S3 + local backend)."""
    from pyats.topology import loader

    return from_pyats(loader.load(str(BUILTIN_LOCAL)), builtin=True)


def load_file(path):
    """Load a testbed YAML file with pyATS and read its FaaSr settings.

    The file is checked first (size, UTF-8, YAML syntax, alias expansion, shape,
    %ENV references), so that no input makes pyATS hang or print a traceback."""
    from pyats.topology import loader

    path = Path(path)
    raw = read_file(path)
    try:
        testbed = loader.load(str(path))
    except Exception as exc:  # pyATS raises many kinds; all mean "bad file"
        detail = _clip_line(f"{type(exc).__name__}: {exc}")
        raise UserError(f"{path}: pyATS cannot load this testbed ({detail}). Fix: "
                        "every device needs os: (use linux), type: and connections: {}; FaaSr "
                        "settings go under custom: faasr:.") from None
    return from_pyats(testbed, raw=raw)


def read_file(path):
    """The YAML of a testbed file, before pyATS sees it; UserError for a file that is too big,
    not UTF-8, not YAML, an alias bomb, not shaped like a testbed, or has bad %ENV{} references."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: testbed file not found. Fix: give the path of a pyATS testbed YAML "
                        "file, e.g. testbeds/local.yaml.")
    size = path.stat().st_size
    if size > MAX_TESTBED_BYTES:
        raise UserError(f"{path}: the file is {size} bytes, more than the {MAX_TESTBED_BYTES} a testbed may "
                        "have. Fix: a FaaSr testbed is a few KB; give the right file, or keep bulky data "
                        "out of it.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UserError(f"{path}: line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                        "text. Fix: save the testbed as UTF-8.") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_expansion(node, path)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{path}: {where}this is not valid YAML ({_clip_line(problem)}). Fix: correct the "
                        "syntax (indent with spaces, close quotes and brackets); testbeds/local.yaml is "
                        "an example.") from None
    except RecursionError:
        raise UserError(f"{path}: the YAML nests too deeply to read. Fix: a testbed is a few levels deep "
                        "(testbed, devices, custom, faasr); give the right file.") from None
    problems = _shape_problems(raw, str(path))
    if problems:
        raise ValidationError(str(path), problems)
    return raw


class _TooManyValues(Exception):
    pass


def _check_expansion(node, path):
    """Count the values the YAML expands to (aliases included) without expanding it."""
    import yaml

    sizes, active = {}, set()

    def size(n):
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise UserError(f"{path}: line {n.start_mark.line + 1}: a YAML alias refers to the value that "
                            "contains it, so the testbed never ends. Fix: remove the alias (*name).")
        active.add(key)
        if isinstance(n, yaml.SequenceNode):
            children = n.value
        elif isinstance(n, yaml.MappingNode):
            children = [item for pair in n.value for item in pair]
        else:
            children = ()
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_YAML_VALUES:
                raise _TooManyValues
        active.discard(key)
        sizes[key] = total
        return total

    if node is None:
        return
    try:
        size(node)
    except _TooManyValues:
        raise UserError(f"{path}: its YAML aliases (&name / *name) expand to more than {MAX_YAML_VALUES} "
                        "values (an alias bomb). Fix: write the values out, or use fewer aliases.") from None


def _shape_problems(raw, source):
    """What pyATS would fail on with a traceback: the file is not shaped like a testbed."""
    problems = []

    def bad(path, message, fix):
        problems.append(Problem(source, path, message, fix))

    example = "see testbeds/local.yaml"
    if raw is None:
        bad("(the file)", "is empty", f"a testbed has testbed: (with name:) and devices:, {example}")
        return problems
    if not isinstance(raw, dict):
        bad("(top level)", f"is {_kind(raw)}, not a mapping", f"a testbed is a mapping with testbed: and devices:, "
            f"{example}")
        return problems
    for key in ("testbed", "devices"):
        if key in raw and not isinstance(raw[key], dict):
            bad(key, f"is {_kind(raw[key])}, not a mapping", f"make {key}: a mapping, {example}")
    testbed = raw.get("testbed")
    if isinstance(testbed, dict) and "custom" in testbed and not isinstance(testbed["custom"], dict):
        bad("testbed.custom", f"is {_kind(testbed['custom'])}, not a mapping", "make it a mapping, e.g. custom: "
            "{faasr: {Timeout: 300}}")
    devices = raw.get("devices")
    if not isinstance(devices, dict):
        return problems
    for name, device in devices.items():
        base = f"devices.{name}"
        if not isinstance(device, dict):
            bad(base, f"is {_kind(device)}, not a mapping", "give the device os: linux, type: (s3 or faas), "
                "connections: {} and custom: faasr:")
            continue
        if "type" in device and not isinstance(device["type"], str):
            bad(f"{base}.type", f"is {_kind(device['type'])}", f"write type: {STORE_TYPE} or type: {COMPUTE_TYPE}")
        custom = device.get("custom")
        if "custom" in device and not isinstance(custom, dict):
            bad(f"{base}.custom", f"is {_kind(custom)}, not a mapping", "make it a mapping with faasr: inside")
        faasr_device = device.get("type") in (STORE_TYPE, COMPUTE_TYPE) or (
            isinstance(custom, dict) and "faasr" in custom)
        if faasr_device and "connections" not in device:
            bad(f"{base}.connections", "is missing", "add connections: {} (pyATS needs it on every device)")
    return problems


def _env_problems(raw, source):
    """%ENV{...} references pyATS would pass on as literal text, and unset variables in FaaSr settings."""
    import os

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


def _clip_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def from_pyats(testbed, builtin=False, raw=None):
    """The FaasrTestbed of an already loaded pyATS Testbed object (`raw`: its YAML, if read already)."""
    source = str(getattr(testbed, "testbed_file", None) or testbed.name or "<testbed>")
    raw = _raw_yaml(source) if raw is None else raw
    problems = _env_problems(raw, source) if isinstance(raw, dict) else []

    def bad(path, message, fix):
        problems.append(Problem(source, path, message, fix))

    options = {}
    top = _faasr_section(testbed.custom)
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
    for name, device in testbed.devices.items():
        section = _faasr_section(device.custom)
        dtype = device.type
        base = f"devices.{name}"
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
        env = _env_names(raw, name)
        if dtype == STORE_TYPE:
            spec = _store(name, section, path, bad, env)
            if spec:
                stores.append(spec)
        else:
            spec = _compute(name, section, path, bad, env)
            if spec:
                computes.append(spec)
    _check_overlaps(stores, "DataStores", bad)
    _check_overlaps(computes, "ComputeServers", bad)
    if problems:
        raise ValidationError(source, problems)
    return FaasrTestbed(testbed.name, source, stores, computes, options, builtin=builtin)


# -- devices ----------------------------------------------------------------

def _store(name, section, path, bad, env):
    for key in section:
        if key not in STORE_KEYS:
            bad(f"{path}.{key}", "is not a data store field", f"use only {', '.join(STORE_KEYS)} "
                "(the workflow JSON's DataStores fields, plus credentials)")
    embedded = _flag(section, "Embedded", False, path, bad)
    serves = _serves(section.get("DataStores", WILDCARD), f"{path}.DataStores", bad)
    bucket = _text(section, "Bucket", path, bad)
    if bucket and not (BUCKET_NAME.match(bucket) and ".." not in bucket):
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
    runtime = section.get("Runtime", "local")
    if runtime not in RUNTIMES:
        bad(f"{path}.Runtime", f"{runtime!r} is not a runtime", f"use one of {', '.join(RUNTIMES)}")
        runtime = "local"
    elif runtime != "local" and ftype != "Local":
        bad(f"{path}.Runtime", f"is set on a {ftype} compute server",
            "remove it: Runtime chooses how FaaSType Local runs actions on this machine")
    fields = {k: str(section[k]) for k in needed + OPTIONAL_COMPUTE
              if section.get(k) not in (None, "") and not isinstance(section[k], (dict, list))}
    return ComputeSpec(device=name, faas_type=ftype, fields=fields, serves=serves or [WILDCARD],
                       runtime=runtime,
                       token=str(section.get(credential) or "") if credential else "",
                       secret_key=str(section.get("SecretKey") or "") if ftype == "Lambda" else "",
                       max_parallel=max_parallel, action_timeout=action_timeout, action_memory_mib=memory)


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


def _raw_yaml(source):
    """The file's YAML before %ENV substitution, to name missing variables."""
    try:
        import yaml

        with open(source, encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}
    except Exception:
        return {}


def _env_names(raw, device):
    """{field: VAR} for fields of devices.<device>.custom.faasr written as %ENV{VAR}."""
    import re

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


TRUE_WORDS = ("TRUE", "YES", "1", "ON")
FALSE_WORDS = ("FALSE", "NO", "0", "OFF", "")


def _truthy(value):
    if isinstance(value, str):
        return value.strip().upper() in TRUE_WORDS
    return bool(value)


def _flag(section, key, default, path, bad):
    """A true/false field: YAML booleans or the words true/false, yes/no, on/off, 1/0."""
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().upper() in TRUE_WORDS + FALSE_WORDS:
        return _truthy(value)
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
