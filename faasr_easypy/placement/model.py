"""The FaaSr view of a testbed: data stores, compute servers and what a workflow maps to.

Plain data with no pyATS in it: `testbed_file.load_file` builds a FaasrTestbed from a
testbed YAML file, `faasr_easypy.easypy.pyats_testbed.from_pyats` from a loaded pyATS Testbed,
and `place.py` turns a `Resolved` mapping into data stores and a backend.
"""

from dataclasses import dataclass, field

from ..errors import Problem, UserError, ValidationError

STORE_TYPE = "s3"
COMPUTE_TYPE = "faas"
WILDCARD = "*"

AVAILABLE_COMPUTE = ("Local", "GitHubActions", "Lambda", "OpenWhisk", "SLURM")


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
    github_standin: bool = False  # SLURM: serve PAYLOAD_URL and functions from a loopback GitHub

    @property
    def available(self):
        return self.faas_type in AVAILABLE_COMPUTE

    def secrets(self):
        return [s for s in (self.token, self.secret_key) if s]

    def server(self):
        """The ComputeServers entry this device stands for, as the workflow JSON spells it."""
        out = {"FaaSType": self.faas_type}
        for key, value in self.fields.items():
            out[key] = truthy(value) if key == "UseSecretStore" else value
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
        if self.faas_type == "SLURM":
            return {"token": self.token or None, "payload_url": self.fields.get("PayloadUrl")}
        return {}


@dataclass
class Resolved:
    """What one workflow's DataStores and ComputeServers map to in the testbed."""

    stores: dict[str, StoreSpec]
    computes: dict[str, ComputeSpec]

    @property
    def max_parallel(self):
        return self._smallest("max_parallel")

    @property
    def action_timeout(self):
        return self._smallest("action_timeout")

    def _smallest(self, field_name):
        """The strictest limit any of the workflow's compute servers sets (None: none does)."""
        values = [getattr(c, field_name) for c in self.computes.values() if getattr(c, field_name)]
        return min(values) if values else None

    @property
    def action_memory_mib(self):
        values = [c.action_memory_mib for c in self.computes.values() if c.action_memory_mib]
        return min(values) if values else None


class FaasrTestbed:
    """The FaaSr view of a testbed (read by placement.testbed_file or from a pyATS Testbed)."""

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


TRUE_WORDS = ("TRUE", "YES", "1", "ON")
FALSE_WORDS = ("FALSE", "NO", "0", "OFF", "")


def truthy(value):
    """A YAML boolean or one of the TRUE_WORDS (any case)."""
    if isinstance(value, str):
        return value.strip().upper() in TRUE_WORDS
    return bool(value)
