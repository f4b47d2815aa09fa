"""Keep credentials out of logs, reports and archives.

    redactor = Redactor(extra_secret_values)   # plus every secret-looking env variable
    redactor.redact("token ghp_abc...")         # -> "token ***"
    redactor.redact_tree(archive_dir)           # every text file, in place, before zipping
    handler.addFilter(redactor.logging_filter())

Secrets are collected from the environment by name: FaaSr's credential
variables (``<Name>_PAT``, ``<Name>_AccessKey``, ``<Name>_SecretKey``,
``<Name>_APIkey`` / ``_API_KEY``, ``<Name>_Token``) and the usual AWS, GitHub
and faasr-easypy ones. Values shorter than 4 characters are ignored (they
would blank out ordinary text). Besides the value itself, its URL-encoded,
JSON-escaped and base64 forms are replaced too (a Basic auth header carries
base64("user:password")).
"""

import base64
import json
import logging
import os
import re
import tempfile
from urllib.parse import quote

MASK = "***"
MIN_LENGTH = 4

#: variable names ending so (case-insensitively) hold credentials
SECRET_SUFFIXES = ("_PAT", "_ACCESSKEY", "_SECRETKEY", "_API_KEY", "_APIKEY", "_TOKEN", "_PASSWORD",
                   "_SECRET", "_SECRET_KEY", "_ACCESS_KEY")
#: variables that hold credentials whatever their suffix
SECRET_NAMES = ("GITHUB_TOKEN", "GH_TOKEN", "GH_PAT", "PAT", "TOKEN", "SECRET_PAYLOAD",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "FAASR_EASYPY_S3_ACCESS_KEY", "FAASR_EASYPY_S3_SECRET_KEY",
                "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_ROOT_PASSWORD", "OW_API_KEY")
#: keys inside a JSON value (e.g. SECRET_PAYLOAD, a workflow with filled-in credentials) that hold secrets
SECRET_JSON_KEYS = ("token", "pat", "accesskey", "secretkey", "apikey", "api.key", "password", "secret")

#: values of secret-named variables that are settings, not secrets (USE_TOKEN=true)
NOT_SECRETS = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off", "enabled", "disabled",
                         "unset", "empty"})

#: how much of a file is sniffed for NUL bytes to decide it is binary
SNIFF_BYTES = 8192


def is_secret_name(name):
    """True if an environment variable called `name` holds a credential."""
    upper = name.upper()
    return upper in SECRET_NAMES or upper.endswith(SECRET_SUFFIXES)


def secrets_from_environment(environ=None):
    """Every credential value in the environment (and inside JSON-valued credentials)."""
    environ = os.environ if environ is None else environ
    out = []
    for name, value in environ.items():
        if value and is_secret_name(name) and value.strip().lower() not in NOT_SECRETS:
            out.append(value)
            out.extend(_json_secrets(value))
    return out


def _json_secrets(value):
    """String values under secret-looking keys of a JSON object in `value`, if it is one."""
    text = value.strip()
    if not text.startswith("{"):
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    found = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and node:
            low = key.lower()
            if low.endswith(SECRET_JSON_KEYS) or is_secret_name(key):
                found.append(node)

    walk(data)
    return found


def _variants(secret):
    """The forms in which `secret` may appear in text."""
    out = {secret}
    out.add(quote(secret, safe=""))
    out.add(json.dumps(secret)[1:-1])
    out.add(repr(secret)[1:-1])
    try:
        raw = secret.encode("utf-8")
        out.add(base64.b64encode(raw).decode("ascii"))
        out.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    except UnicodeEncodeError:
        pass
    return {v for v in out if len(v) >= MIN_LENGTH}


class Redactor:
    """Replaces known secret values with ``***`` in strings, files, folders and log records."""

    def __init__(self, secrets=(), environ=None, include_environment=True):
        self._values = set()
        self._pattern = None
        if include_environment:
            self.add(*secrets_from_environment(environ))
        self.add(*secrets)

    def add(self, *secrets):
        """Also redact these values (None, empty and short values are ignored)."""
        changed = False
        for secret in secrets:
            if secret is None:
                continue
            secret = str(secret)
            candidates = {secret, secret.strip()}
            for value in candidates:
                if len(value) >= MIN_LENGTH and value not in self._values:
                    self._values.add(value)
                    changed = True
        if changed:
            forms = set()
            for value in self._values:
                forms |= _variants(value)
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(forms, key=lambda v: (-len(v), v))
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self

    @property
    def secret_count(self):
        return len(self._values)

    def __bool__(self):
        return bool(self._values)

    def __contains__(self, value):
        return value in self._values

    def __repr__(self):  # never the values
        return f"Redactor({len(self._values)} secrets)"

    # -- text ---------------------------------------------------------------------
    def redact(self, text):
        """`text` with every secret replaced by ***; non-strings are converted with str()."""
        if text is None:
            return text
        if not isinstance(text, str):
            text = str(text)
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def redact_bytes(self, data, encoding="utf-8"):
        text = data.decode(encoding, errors="surrogateescape")
        return self.redact(text).encode(encoding, errors="surrogateescape")

    # -- files --------------------------------------------------------------------
    def redact_file(self, path):
        """Redact a text file in place; True if it changed. Binary files and links are left alone.

        The file is streamed line by line (archives may hold large logs) into a
        temporary file next to it, which then replaces it with the same mode.
        Bytes that are not UTF-8 pass through unchanged.
        """
        path = os.fspath(path)
        if self._pattern is None or os.path.islink(path) or not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        if b"\0" in head:
            return False
        if len(head) < SNIFF_BYTES and not self._pattern.search(head.decode("utf-8", "surrogateescape")):
            return False  # small file without any secret: leave it (and its mtime) alone
        changed = False
        folder = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(prefix=".redact-", dir=folder)
        try:
            with open(path, "r", encoding="utf-8", errors="surrogateescape", newline="") as src, \
                    os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as dst:
                for line in src:
                    clean = self._pattern.sub(MASK, line)
                    changed = changed or clean != line
                    dst.write(clean)
            if changed:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
                os.replace(tmp, path)
                tmp = None
        finally:
            if tmp is not None:
                os.unlink(tmp)
        return changed

    def redact_tree(self, folder):
        """Redact every text file under `folder` in place; return the paths that changed.

        Symbolic links are neither followed nor rewritten, so nothing outside
        the folder is touched.
        """
        changed = []
        if self._pattern is None:
            return changed
        for root, dirs, files in os.walk(os.fspath(folder), followlinks=False):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    if self.redact_file(path):
                        changed.append(path)
                except (PermissionError, IsADirectoryError, FileNotFoundError):
                    continue
        return changed

    # -- logging ------------------------------------------------------------------
    def logging_filter(self):
        return RedactingFilter(self)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the message, its arguments and any traceback text.

    Attach it to *handlers* (``handler.addFilter(f)``): a filter on a logger
    does not see records propagated from its child loggers.
    """

    def __init__(self, redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record):
        redact = self.redactor.redact
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, redacted
            message = f"{record.msg} {record.args}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the formatter would re-render the raw traceback
        if getattr(record, "stack_info", None):
            record.stack_info = redact(record.stack_info)
        return True


__all__ = ["MASK", "RedactingFilter", "Redactor", "is_secret_name", "secrets_from_environment"]
