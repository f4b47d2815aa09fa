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
                "MaxParallel", "ActionTimeout", "ApiUrl", "UseSecretStore", "PayloadUrl", "Runtime")
# Local compute only: which backend runs the actions on this machine (environment.MACHINE_BACKENDS)
RUNTIMES = ("local", "faasr-py")
# Optional compute fields passed through to the remote backends (API endpoints for tests or
# private deployments, the runtime's secret-store flag, where the runtime finds the JSON).
OPTIONAL_COMPUTE = ("ApiUrl", "Endpoint", "UseSecretStore", "PayloadUrl")
TESTBED_KEYS = ("Timeout", "CheckInterval", "ActionTimeout")
AVAILABLE_COMPUTE = ("Local", "GitHubActions", "Lambda", "OpenWhisk")

BUILTIN_LOCAL = Path(__file__).with_name("local_testbed.yaml")


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
    """Load a testbed YAML file with pyATS and read its FaaSr settings."""
    from pyats.topology import loader

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: testbed file not found. Fix: give the path of a pyATS testbed YAML "
                        "file, e.g. testbeds/local.yaml.")
    try:
        testbed = loader.load(str(path))
    except Exception as exc:  # pyATS raises many kinds; all mean "bad file"
        raise UserError(f"{path}: pyATS cannot load this testbed ({type(exc).__name__}: {exc}). Fix: "
                        "every device needs os: (use linux), type: and connections: {}; FaaSr "
                        "settings go under custom: faasr:.") from exc
    return from_pyats(testbed)


def from_pyats(testbed, builtin=False):
    """The FaasrTestbed of an already loaded pyATS Testbed object."""
    source = str(getattr(testbed, "testbed_file", None) or testbed.name or "<testbed>")
    raw = _raw_yaml(source)
    problems = []

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
    embedded = _truthy(section.get("Embedded", False))
    serves = _serves(section.get("DataStores", WILDCARD), f"{path}.DataStores", bad)
    spec = StoreSpec(device=name, embedded=embedded, serves=serves or [WILDCARD],
                     bucket=str(section.get("Bucket") or ""),
                     region=str(section.get("Region") or "us-east-1"),
                     anonymous=_truthy(section.get("Anonymous", False)),
                     writable=_truthy(section.get("Writable", True)))
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
    if ftype not in COMPUTE_TYPES:
        bad(f"{path}.FaaSType", "is missing" if ftype is None else f"{ftype!r} is not a FaaSr compute type",
            f"use one of {', '.join(COMPUTE_TYPES)} (Local runs actions on this machine)")
        return None
    needed, credential = COMPUTE_TYPES[ftype]
    for key in needed:
        if not section.get(key):
            bad(f"{path}.{key}", f"is missing (a {ftype} compute server needs it)", f"add {key}")
    if credential and not section.get(credential):
        var = env.get(credential)
        bad(f"{path}.{credential}", (f"is empty: the environment variable {var} is not set" if var
                                     else f"is missing (a {ftype} compute server needs it)"),
            f"export {var}" if var else f"add {credential}: \"%ENV{{{name.upper()}_{credential.upper()}}}\" "
            "and export that variable")
    serves = _serves(section.get("ComputeServers", WILDCARD), f"{path}.ComputeServers", bad)
    max_parallel = section.get("MaxParallel")
    if max_parallel is not None and not (isinstance(max_parallel, int) and max_parallel > 0):
        bad(f"{path}.MaxParallel", f"{max_parallel!r} is not a positive whole number",
            "give how many actions may run at once, e.g. 8")
        max_parallel = None
    action_timeout = section.get("ActionTimeout")
    if action_timeout is not None:
        action_timeout = _positive(action_timeout)
        if action_timeout is None:
            bad(f"{path}.ActionTimeout", "is not a positive number of seconds", "give seconds, e.g. 600")
    runtime = section.get("Runtime", "local")
    if runtime not in RUNTIMES:
        bad(f"{path}.Runtime", f"{runtime!r} is not a runtime", f"use one of {', '.join(RUNTIMES)}")
        runtime = "local"
    elif runtime != "local" and ftype != "Local":
        bad(f"{path}.Runtime", f"is set on a {ftype} compute server",
            "remove it: Runtime chooses how FaaSType Local runs actions on this machine")
    fields = {k: str(section[k]) for k in needed + OPTIONAL_COMPUTE if section.get(k) not in (None, "")}
    return ComputeSpec(device=name, faas_type=ftype, fields=fields, serves=serves or [WILDCARD],
                       runtime=runtime,
                       token=str(section.get(credential) or "") if credential else "",
                       secret_key=str(section.get("SecretKey") or "") if ftype == "Lambda" else "",
                       max_parallel=max_parallel, action_timeout=action_timeout)


def _serves(value, path, bad):
    if value == WILDCARD:
        return [WILDCARD]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        bad(path, f"{value!r} is not a list of names", "give a list of the workflow's names, or \"*\" for all")
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


def _truthy(value):
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "YES", "1", "ON")
    return bool(value)


def _positive(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _kind(value):
    return f"a {type(value).__name__}"
