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
        where = f"{self.source}: {_clip(self.path, 120)}" if self.path else str(self.source)
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
