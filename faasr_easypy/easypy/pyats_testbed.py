"""A testbed loaded through pyATS (`pyats.topology.loader`), in FaaSr terms.

Under `pyats run job` the testbed is pyATS's own object (`runtime.testbed`, the `testbed`
of every task), so its FaaSr view is built from that object; the checks, the fields and
the model are faasr_easypy/placement/'s, which never imports pyATS.
"""

from pathlib import Path

from ..errors import UserError
from ..placement.fields import _clip_line, _faasr_section, build
from ..placement.model import COMPUTE_TYPE, STORE_TYPE
from ..placement.testbed_file import read_file

BUILTIN_LOCAL = Path(__file__).with_name("local_testbed.yaml")


def has_faasr_devices(testbed):
    """True when a loaded pyATS testbed has any device of type s3/faas or custom.faasr."""
    for device in testbed.devices.values():
        if device.type in (STORE_TYPE, COMPUTE_TYPE) or _faasr_section(device.custom) is not None:
            return True
    return False


def load_builtin():
    """The built-in local testbed (embedded S3 + local backend), loaded by pyATS."""
    from pyats.topology import loader

    return from_pyats(loader.load(str(BUILTIN_LOCAL)), builtin=True)


def load_file(path):
    """Check a testbed YAML file (placement.testbed_file.read_file), load it with pyATS and
    read its FaaSr settings; every failure is a one-paragraph UserError."""
    from pyats.topology import loader

    path = Path(path)
    raw = read_file(path, pyats=True)
    try:
        testbed = loader.load(str(path))
    except Exception as exc:  # pyATS raises many kinds; all mean "bad file"
        detail = _clip_line(f"{type(exc).__name__}: {exc}")
        raise UserError(f"{path}: pyATS cannot load this testbed ({detail}). Fix: "
                        "every device needs os: (use linux), type: and connections: {}; FaaSr "
                        "settings go under custom: faasr:.") from None
    return from_pyats(testbed, raw=raw)


def from_pyats(testbed, builtin=False, raw=None):
    """The FaasrTestbed of an already loaded pyATS Testbed object (`raw`: its YAML, if read already)."""
    source = str(getattr(testbed, "testbed_file", None) or testbed.name or "<testbed>")
    raw = _raw_yaml(source) if raw is None else raw
    devices = {name: (device.type, device.custom) for name, device in testbed.devices.items()}
    return build(testbed.name, source, testbed.custom, devices, raw, builtin=builtin)


def _raw_yaml(source):
    """The file's YAML before %ENV substitution, to name missing variables."""
    try:
        import yaml

        with open(source, encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}
    except Exception:
        return {}
