"""Reading a testbed YAML file without pyATS: the checks every entry point makes first.

A testbed file is checked before anything else reads it (size, UTF-8, YAML syntax, alias
expansion, the shape of a pyATS testbed), so that no input makes the harness, or pyATS
after it, hang or print a traceback. `load_file` then substitutes %ENV{VAR} the way
pyATS's loader does (an unset variable becomes "") and builds the FaasrTestbed; under
`pyats run job`, faasr_easypy.easypy.pyats_testbed.py loads the same file through pyATS instead
(which also reads extends: and pyATS's other markup), after the same checks.
"""

import os
from pathlib import Path

import yaml

from ..errors import Problem, UserError, ValidationError
from .fields import ENV_REF, _clip_line, _kind, build
from .model import COMPUTE_TYPE, STORE_TYPE

# pyATS needs minutes for a 20 MB testbed and never finishes a YAML alias bomb
# ("billion laughs"); FaaSr testbeds are a few KB.
MAX_TESTBED_BYTES = 2 * 1024 * 1024
MAX_YAML_VALUES = 100_000
# The top-level keys pyATS accepts (pyats.topology.schema); extends: and topology: only pyATS reads.
SECTIONS = ("testbed", "devices", "topology", "extends")
PYATS_ONLY = ("extends",)


def load_file(path):
    """The FaasrTestbed of a testbed YAML file, read without pyATS; UserError (or
    ValidationError) naming the file, the field and the fix."""
    path = Path(path)
    raw = read_file(path)
    data = substitute_env(raw)
    top = data.get("testbed") or {}
    devices = {name: (device.get("type"), device.get("custom"))
               for name, device in (data.get("devices") or {}).items()}
    return build(top.get("name") or path.stem, str(path), top.get("custom"), devices, raw)


def substitute_env(value, environ=None):
    """`value` with every %ENV{VAR} replaced by the variable's value ("" when unset), as pyATS does."""
    environ = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {key: substitute_env(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_env(item, environ) for item in value]
    if isinstance(value, str) and "%ENV{" in value:
        return ENV_REF.sub(lambda m: environ.get(m.group(1), ""), value)
    return value


def read_file(path, pyats=False):
    """The YAML of a testbed file (before %ENV substitution, and before pyATS sees it); UserError
    for a file that is too big, not UTF-8, not YAML, an alias bomb, or not shaped like a testbed.
    `pyats`: the file is loaded by pyATS's loader afterwards, which reads extends: and markup."""
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
    problems = _shape_problems(raw, str(path), pyats)
    if problems:
        raise ValidationError(str(path), problems)
    return raw


class _TooManyValues(Exception):
    pass


def _check_expansion(node, path):
    """Count the values the YAML expands to (aliases included) without expanding it."""
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


def _shape_problems(raw, source, pyats):
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
    for key in raw:
        if key not in SECTIONS:
            bad(str(key), "is not a section of a testbed", f"use only {', '.join(SECTIONS)} "
                "(pyATS rejects any other top-level key)")
        elif key in PYATS_ONLY and not pyats:
            bad(key, "is read only when pyATS loads the testbed (pyats run job)",
                "write the devices into this file, or run the workflow from a pyATS jobfile")
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
        if faasr_device and "os" not in device:
            bad(f"{base}.os", "is missing", "add os: linux (pyATS needs it on every device)")
        if faasr_device and "connections" not in device:
            bad(f"{base}.connections", "is missing", "add connections: {} (pyATS needs it on every device)")
    return problems
