"""User-facing errors.

Every mistake a user can make (a bad workflow file, testbed, argument or S3
content) is raised as a :class:`UserError`. The command line prints its
message as one paragraph and exits non-zero, without a traceback; anything
else that escapes is a bug in faasr-easypy and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input, explained well enough to fix it."""

    exit_code = 2


class Problem:
    """One violation found in an input file: where it is and how to fix it."""

    __slots__ = ("source", "path", "message", "fix")

    def __init__(self, source, path, message, fix):
        self.source = source
        self.path = path
        self.message = message
        self.fix = fix

    def __str__(self):
        # A key may hold a newline ("start\n"): shown escaped, the problem stays one line.
        path = str(self.path).encode("unicode_escape").decode("ascii") if self.path else ""
        where = f"{self.source}: {_clip(path, 120)}" if path else str(self.source)
        return f"{where}: {_clip(self.message, 300)}. Fix: {_clip(self.fix, 300)}."

    def __repr__(self):
        return f"Problem({str(self)!r})"


def _clip(text, limit):
    """Keep one problem one readable line, even when the input holds a huge name."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 14] + f"...({len(text)} chars)"


class ValidationError(UserError):
    """Several problems found in one file, all reported at once."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{source} has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head] + [f"  - {p}" for p in self.problems]))


class BackendError(UserError):
    """A compute platform refused or could not run what we asked of it."""


class S3Error(UserError):
    """An S3 data store could not be reached or refused a request."""


def did_you_mean(word, choices, cutoff=0.75):
    """The one of `choices` that `word` is most likely a misspelling of, or None (difflib)."""
    import difflib

    if not isinstance(word, str) or not word:
        return None
    pool = [c for c in choices if isinstance(c, str) and c != word]
    match = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if not match:  # a case slip ("functionname") is a misspelling too
        match = [c for c in pool if c.lower() == word.lower()][:1]
    return match[0] if match else None


def json_type(value):
    """'object', 'array', 'string', ... as JSON calls the type of a decoded value."""
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "number", float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def describe(value):
    """'a JSON string', 'an empty array': what a user wrote, without repeating it."""
    if isinstance(value, (dict, list)) and not value:
        return f"an empty {json_type(value)}"
    return f"a JSON {json_type(value)}"


def show(value):
    """A value as it stands in the file, cut to fit one line of a problem."""
    import json

    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) < 60 else text[:57] + "..."
