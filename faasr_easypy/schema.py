"""A workflow checked against FaaSr's own schema (``schemas/FaaSr.schema.json``).

The schema is the one faasr-py 2.1.0 ships and validates every payload with
(provenance in ``schemas/README.md``). Its findings, from the ``jsonschema``
library, are worded like the graph checks of ``workflow.py``: the JSON path,
what was found, and the fix, with a "did you mean" for a misspelled key.
"""

import functools
import hashlib
import json
from pathlib import Path
from typing import List

from .errors import Problem, did_you_mean
from .errors import describe as _describe
from .errors import show as _show

SCHEMA_FILE = Path(__file__).with_name("schemas") / "FaaSr.schema.json"
# The sha256 of the pinned copy (schemas/README.md): a changed file is a changed contract.
SCHEMA_SHA256 = "bd074ebc40ac575f522096ea9cbfe2cbe79ec8f0d8498c113759573e3aa843bb"


UNKNOWN_KEY = "is not a key FaaSr's schema allows here"


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_digest() -> str:
    return hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def known_keys(where) -> tuple:
    """The keys FaaSr's schema names for `where`: "top", "action", "server" or "store"."""
    props = schema()["properties"]
    if where == "top":
        return tuple(props)
    section = {"action": "ActionList", "server": "ComputeServers", "store": "DataStores"}[where]
    return tuple(props[section]["patternProperties"][""]["properties"])


def schema_problems(data, source) -> List[Problem]:
    """Every place where `data` breaks FaaSr's schema, as Problems (file order is not kept:
    jsonschema reports by keyword; the caller merges them with its own)."""
    problems = []
    for error in _validator().iter_errors(data):
        problems.extend(_translate(error, source))
    return problems


def path_of(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _translate(error, source):
    path = path_of(error.absolute_path)
    kind = error.validator
    instance = error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list((error.schema.get("properties") or {}))
        extra = [k for k in instance if k not in allowed]
        return [Problem(source, f"{path}.{key}", UNKNOWN_KEY,
                        _key_fix(key, allowed, path)) for key in extra]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        where = f"{path}.{missing}"
        near = did_you_mean(missing, list(instance) if isinstance(instance, dict) else [])
        fix = f"add \"{missing}\"" + (f" (is {near!r} a misspelling of it?)" if near else "")
        return [Problem(source, where, "is missing (FaaSr's schema requires it)", fix)]
    if kind == "propertyNames":
        return [Problem(source, f"{path}.{error.instance}", "is not a name FaaSr accepts here",
                        "use a letter followed by letters, digits or '-'")]
    if kind == "enum":
        choices = [c for c in error.validator_value]
        near = did_you_mean(instance, [c for c in choices if isinstance(c, str)]) \
            if isinstance(instance, str) else None
        return [Problem(source, path, f"{_show(instance)} is not one FaaSr accepts",
                        (f"did you mean {near!r}? " if near else "") + f"use one of {_names(choices)}")]
    if kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return [Problem(source, path, f"is {_describe(instance)}, FaaSr's schema wants {_a(wanted)}",
                        f"make it {_a(wanted)}")]
    if kind in ("minLength", "minProperties", "minItems"):
        return [Problem(source, path, f"is {_describe(instance)}", "give it a value (FaaSr's schema "
                        f"needs {kind[3:].lower()} of at least {error.validator_value})")]
    if kind == "pattern":
        return [Problem(source, path, f"{_show(instance)} does not match FaaSr's pattern "
                        f"{error.validator_value}", "use only the characters that pattern allows")]
    return [Problem(source, path, f"{_show(instance)} breaks FaaSr's schema ({error.message})",
                    f"see {SCHEMA_FILE.name} (the rule '{kind}' at {'/'.join(map(str, error.schema_path))})")]


def _key_fix(key, allowed, path):
    near = did_you_mean(key, allowed)
    if near:
        return f"did you mean {near!r}? Rename it"
    return f"remove it; the keys allowed in {path} are {_names(allowed)}"


def _names(names):
    return ", ".join(repr(n) for n in names)


def _a(type_name):
    return {"object": "an object", "array": "an array", "integer": "an integer"}.get(type_name, f"a {type_name}")
