"""A failure's own words, from the traceback pyATS keeps with a section's result.

pyATS records a failed or errored section as "Caught an assertion failure while
executing section X" and keeps the traceback beside it (``result.data["traceback"]``
in the reporter, ``result.data.traceback`` in results.json). What a reader wants is
the exception line (``AssertionError: sum mismatch: expected 211, found 210``) and
where in the testscript it was raised (``testscripts/x.py:21``, with the code line).
"""

import re
from dataclasses import dataclass
from pathlib import Path

_FRAME_RE = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')


@dataclass
class Failure:
    message: str | None = None     # the exception line(s): "AssertionError: ..."
    file: str | None = None        # where it was raised: the testscript's frame if there is one
    line: int | None = None
    code: str | None = None        # the source line of that frame

    def location(self, root=None):
        """'testscripts/x.py:21' (relative to `root` when it is inside it), or None."""
        if not self.file or self.line is None:
            return None
        path = self.file
        if root:
            try:
                path = str(Path(self.file).resolve().relative_to(Path(root).resolve()))
            except (ValueError, OSError):
                pass
        return f"{path}:{self.line}"


def failure_of(traceback, script=None):
    """Parse a formatted Python traceback. The frame is the innermost one in `script` (the
    testscript: the line the user wrote), else the innermost one. Empty Failure for no text."""
    if not isinstance(traceback, str) or not traceback.strip():
        return Failure()
    lines = traceback.rstrip("\n").splitlines()
    frames = []          # (file, line, code)
    last_frame_end = -1
    i = 0
    while i < len(lines):
        m = _FRAME_RE.match(lines[i])
        if m:
            code = None
            j = i + 1
            # the code line, then optional ^^^^ markers, all indented by 4
            if j < len(lines) and lines[j].startswith("    ") and not _FRAME_RE.match(lines[j]):
                code = lines[j].strip()
                j += 1
                while j < len(lines) and lines[j].startswith("    ") and set(lines[j].strip()) <= set("^~ "):
                    j += 1
            frames.append((m.group("file"), int(m.group("line")), code))
            last_frame_end = j - 1
            i = j
            continue
        i += 1
    tail = [ln for ln in lines[last_frame_end + 1:] if ln.strip()]
    # A chained exception ("During handling of the above exception ...") repeats frames;
    # the last block of text after the last frame is the exception that ended the section.
    message = "\n".join(tail).strip() or None
    if not frames:
        return Failure(message=message)
    chosen = frames[-1]
    if script:
        try:
            target = Path(script).resolve()
        except OSError:
            target = None
        mine = [f for f in frames if target is not None and _same_file(f[0], target)]
        if mine:
            chosen = mine[-1]
    return Failure(message=message, file=chosen[0], line=chosen[1], code=chosen[2])


def _same_file(name, target):
    try:
        return Path(name).resolve() == target
    except OSError:
        return False
