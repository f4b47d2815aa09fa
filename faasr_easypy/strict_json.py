"""JSON from users, read strictly: what Python's json module lets slip is refused.

Python's ``json`` silently keeps the last of two equal keys (a hidden second
``"FaaSrLog": "../../etc"``), accepts ``NaN``/``Infinity`` (not JSON, and no
FaaSr runtime reads them back), raises a bare ValueError for an integer of more
than 4,300 digits and a RecursionError for deep nesting. Here each of those is a
:class:`~faasr_easypy.errors.Problem` naming the JSON path, raised together as
one :class:`~faasr_easypy.errors.ValidationError` (exit code 2, no traceback).
The workflow loader, ``--faasr-arg`` values and ``faasr-easypy report`` read
JSON through :func:`loads`.
"""

import json
import sys

from .errors import Problem, ValidationError

# Deeper than any workflow, argument or results file has reason to be; it also keeps
# every later walk of the value (deepcopy, redaction, jsonschema) off the recursion limit.
MAX_DEPTH = 100
# Python's own limit for int(str): a longer integer cannot even be read.
MAX_INT_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300


class NotJSON(ValidationError):
    """The text is not JSON at all (a syntax error), as opposed to JSON that is refused."""

    def __init__(self, source, problems, reason=""):
        super().__init__(source, problems)
        self.reason = reason  # the parser's words, e.g. "Expecting ',' delimiter: line 1 column 9"


class _Refused:
    """Stands in the parsed value for a number or constant that is refused."""

    __slots__ = ("text", "why")

    def __init__(self, text, why):
        self.text = text
        self.why = why


class _DuplicateKeys(dict):
    """An object in which some key appeared more than once."""

    duplicates = ()


def loads(text, source="<json>", strict=True):
    """Parse `text` (str or bytes); ValidationError naming `source` and the JSON path on any
    problem (NotJSON for a syntax error). strict=False (files the harness wrote itself, such
    as faasr_results.json) only refuses what would crash a reader: depth and unreadable numbers."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8-sig", "replace")
    flagged = []

    def pairs(items):
        out = dict(items)
        if len(out) != len(items):
            seen, twice = set(), []
            for key, _ in items:
                if key in seen and key not in twice:
                    twice.append(key)
                seen.add(key)
            out = _DuplicateKeys(out)
            out.duplicates = tuple(twice)
            flagged.append(out)
        return out

    def constant(name):
        flagged.append(name)
        return _Refused(name, "is NaN or Infinity, which JSON does not have")

    def integer(digits):
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            flagged.append(digits)
            return _Refused(digits, f"is an integer of {len(digits.lstrip('-'))} digits, more than "
                                    f"the {MAX_INT_DIGITS} Python can read")
        return int(digits)

    def number(digits):
        value = float(digits)
        if value in (float("inf"), float("-inf")):
            flagged.append(digits)
            return _Refused(digits, "is too large for a floating-point number (it reads as Infinity)")
        return value

    hooks = dict(object_pairs_hook=pairs, parse_constant=constant, parse_float=number) if strict else {}
    try:
        value = json.loads(text, parse_int=integer, **hooks)
    except json.JSONDecodeError as exc:
        raise NotJSON(source, [Problem(
            source, f"line {exc.lineno} column {exc.colno}", f"is not valid JSON ({exc.msg})",
            "correct the JSON syntax there (a missing comma, quote or bracket is the usual cause)")],
            reason=str(exc)) from None
    except RecursionError:
        raise _too_deep(source, "$") from None
    problems = _walk(value, source, bool(flagged))
    if problems:
        raise ValidationError(source, problems)
    return value


def check_depth(value, source="<json>"):
    """ValidationError if `value` (already decoded) nests deeper than MAX_DEPTH."""
    _walk(value, source, False)


def _too_deep(source, path):
    return ValidationError(source, [Problem(
        source, path, f"nests arrays/objects more than {MAX_DEPTH} levels deep",
        "flatten the structure; no FaaSr file or argument needs that depth")])


def _walk(value, source, look):
    """Problems of the parsed `value`: refused numbers, duplicate keys (only when `look`:
    the parser flagged some) and a depth over MAX_DEPTH (always). Iterative, so depth
    itself cannot crash it."""
    problems = []
    stack = [(value, "$", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(source, path)
        if isinstance(node, dict):
            if look and isinstance(node, _DuplicateKeys):
                for key in node.duplicates:
                    problems.append(Problem(
                        source, json_path(path, key), "appears more than once in the same object "
                        "(JSON readers keep only the last one, silently)", "keep exactly one of them"))
            for key, child in node.items():
                if isinstance(child, (dict, list)) or (look and isinstance(child, _Refused)):
                    stack.append((child, json_path(path, key), depth + 1))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, (dict, list)) or (look and isinstance(child, _Refused)):
                    stack.append((child, f"{path}[{index}]", depth + 1))
        elif isinstance(node, _Refused):
            shown = node.text if len(node.text) <= 20 else node.text[:12] + "..."
            problems.append(Problem(source, path, f"{shown} {node.why}",
                                    "write a plain number (or a string, quoted, if it is text)"))
    problems.sort(key=lambda p: p.path)
    return problems


def json_path(parent, key):
    """'$.a' + 'b' -> '$.a.b', the path style of every workflow problem."""
    return f"{parent}.{key}"
