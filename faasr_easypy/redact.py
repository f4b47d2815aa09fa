"""Keep credentials out of every output: the one redaction path of faasr-easypy.

    redactor = Redactor(extra_secret_values)   # plus every secret-looking env variable
    redactor.redact("token ghp_abc...")         # -> "token ***"
    redactor.redact_value(results)              # the same dict/list shape, strings masked
    redactor.redact_tree(archive_dir)           # every member of an archive folder, in place
    handler.addFilter(redactor.logging_filter())

Terminal, streamed and task logs, pyATS's own results, faasr_results.json, the
HTML report, mails and JUnit/step summaries all go through a Redactor; nothing
else masks text.

Secrets are collected from the environment by name: FaaSr's credential
variables (``<Name>_PAT``, ``<Name>_AccessKey``, ``<Name>_SecretKey``,
``<Name>_APIkey`` / ``_API_KEY``, ``<Name>_Token``, e.g. a SLURM server's JWT) and the
usual AWS, GitHub, SLURM (``SLURM_JWT``) and faasr-easypy ones, plus what the caller
adds (a testbed's keys, the S3
server's). Besides the value itself its URL-encoded, JSON-escaped, repr and
HTML-escaped forms are replaced, and base64 text that carries it at any
offset: base64(value), and base64("user:" + value), the Basic auth form, for
any user name (see :func:`_base64_cores`).

A value shorter than MIN_LENGTH characters cannot be masked inside other text
without masking innocent digits and words too (``Probe_TOKEN=1796`` would eat
every ``1796`` in a log or a number). Such a secret is masked only where a
whole value equals it, and is reported once, by name, as too short.

Structured data (results, JSON and YAML files) is redacted value by value
before it is serialized, never as serialized text, so masking never changes
its structure or a number in it.
"""

import base64
import html
import json
import logging
import os
import re
import tempfile
from urllib.parse import quote, quote_plus

log = logging.getLogger(__name__)

MASK = "***"
#: shorter secrets are masked only where a whole value equals them (and reported once)
MIN_LENGTH = 8

#: variable names ending so (case-insensitively) hold credentials
SECRET_SUFFIXES = ("_PAT", "_ACCESSKEY", "_SECRETKEY", "_API_KEY", "_APIKEY", "_TOKEN", "_PASSWORD",
                   "_SECRET", "_SECRET_KEY", "_ACCESS_KEY")
#: variables that hold credentials whatever their suffix
SECRET_NAMES = ("GITHUB_TOKEN", "GH_TOKEN", "GH_PAT", "PAT", "TOKEN", "SECRET_PAYLOAD", "SLURM_JWT",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "FAASR_EASYPY_S3_ACCESS_KEY", "FAASR_EASYPY_S3_SECRET_KEY",
                "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_ROOT_PASSWORD", "OW_API_KEY")
#: keys of structured data (a JSON-valued credential, results, a testbed) whose values are secrets
SECRET_KEY_RE = re.compile(
    r"secret|passw(or)?d|passwd|token|credential|api[_.-]?key|access[_-]?key|private[_-]?key|"
    r"session[_-]?key|auth|(^|_)pat$", re.IGNORECASE)
#: keys that look like a secret's name but are not (S3 object keys, log keys, authors)
NOT_SECRET_KEYS = frozenset({"key", "log_key", "keys", "authors", "author"})

#: values of secret-named variables that are settings, not secrets (USE_TOKEN=true)
NOT_SECRETS = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off", "enabled", "disabled",
                         "unset", "empty"})

#: user:password@ in a URL
URL_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]*@")
#: characters of base64 text (standard and URL-safe alphabets)
BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")

#: how much of a file is sniffed for NUL bytes to decide it is binary
SNIFF_BYTES = 8192
#: files redacted value by value (parsed, masked, written back) instead of as text
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")

_reported_short = set()  # names already reported as too short, once per process


def is_secret_name(name):
    """True if an environment variable called `name` holds a credential."""
    upper = name.upper()
    return upper in SECRET_NAMES or upper.endswith(SECRET_SUFFIXES)


def is_secret_key(key):
    """True if a key of structured data (JSON, YAML, results) names a credential."""
    key = str(key)
    return key.lower() not in NOT_SECRET_KEYS and (bool(SECRET_KEY_RE.search(key)) or is_secret_name(key))


def named_secrets_from_environment(environ=None):
    """{variable name: value} of every credential in the environment."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items()
            if value and is_secret_name(name) and value.strip().lower() not in NOT_SECRETS}


def secrets_from_environment(environ=None):
    """Every credential value in the environment (and inside JSON-valued credentials)."""
    out = []
    for value in named_secrets_from_environment(environ).values():
        out.append(value)
        out.extend(_json_secrets(value))
    return out


def secrets_in_data(data, max_depth=60):
    """Every scalar stored under a credential-looking key of `data` (dicts and lists, any depth).

    Plain words shorter than MIN_LENGTH ("local", "none") are left out: an
    ``auth_mode: local`` is a setting, and masking every "local" would garble
    the output."""
    found = []

    def add(value):
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            value = str(value)
        if isinstance(value, str):
            text = value.strip()
            if (text and text != MASK and set(text) != {"*"} and text.lower() not in NOT_SECRETS
                    and (len(text) >= MIN_LENGTH or not text.isalpha())):
                found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                add(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                add(v)

    def walk(node, depth):
        if depth > max_depth:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if is_secret_key(key):
                    add(value)
                elif isinstance(value, (dict, list, tuple)):
                    walk(value, depth + 1)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value, depth + 1)

    walk(data, 0)
    return found


def _json_secrets(value):
    """Secrets inside a JSON object in `value` (SECRET_PAYLOAD, a workflow with credentials)."""
    text = value.strip()
    if not text.startswith("{"):
        return []
    try:
        return secrets_in_data(json.loads(text))
    except (ValueError, RecursionError):
        return []


def _text_forms(secret):
    """The forms in which `secret` may appear in text, besides base64 (see _base64_cores)."""
    escaped = json.dumps(secret)[1:-1]
    out = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), escaped,
           json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(escaped)[1:-1],
           repr(secret)[1:-1], html.escape(secret), html.escape(secret, quote=False)}
    return {v for v in out if len(v) >= MIN_LENGTH}


def _base64_cores(secret):
    """Base64 text that holds `secret` at any byte offset.

    In base64 each character stands for 6 bits of the input, so the characters
    that lie wholly inside the secret's bytes depend only on the secret and on
    its offset modulo 3. Those three "cores" (and their URL-safe spellings) are
    found in base64(secret), in base64("user:" + secret) whatever the user name
    (Basic auth), and in any longer base64 text that embeds the secret; the
    whole base64 run around a core is then masked."""
    try:
        raw = secret.encode("utf-8")
    except UnicodeEncodeError:
        return set()
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        first = -(-8 * offset // 6)                 # first character with no prefix bit
        last = 8 * (offset + len(raw)) // 6          # characters before it have no bit after the secret
        core = encoded[first:last]
        if len(core) >= MIN_LENGTH:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def _literal_pattern(words):
    """One regex matching any of `words`, the longest where several match at one place
    (a secret that contains another is masked whole).

    Built as a trie (``ab(?:c|d)`` rather than ``abc|abd``): Python's re tries every
    alternative at every position, which made a 1,000-character log line cost ~0.2 ms
    with a dozen secrets; the trie tries one branch per character."""
    if not words:
        return None
    trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node):
        # A run of single-child nodes is plain text (no recursion: a secret may be kilobytes).
        run = []
        while "" not in node and len(node) == 1:
            (char, node), = node.items()
            run.append(re.escape(char))
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return "".join(run)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a word ends here, a longer one may go on: try the longer first (greedy)
            body = f"(?:{body})?"
        return "".join(run) + body

    return re.compile(emit(trie))


class Redactor:
    """Replaces known secret values with ``***`` in strings, data, files, folders and log records."""

    def __init__(self, secrets=(), environ=None, include_environment=True):
        self._values = set()      # masked wherever they appear
        self._short = set()       # masked only as a whole value
        self._cores = set()       # base64 cores: the whole base64 run around them is masked
        self._pattern = None
        if include_environment:
            environment = named_secrets_from_environment(environ)
            for name, value in sorted(environment.items()):
                self.add(value, source=f"the environment variable {name}")
                self.add(*_json_secrets(value), source=f"a value inside {name}")
        self.add(*secrets)

    def add(self, *secrets, source=None):
        """Also redact these values (None and empty values are ignored).

        `source` names where they come from ("the environment variable X_PAT");
        a named value too short to mask inside text is reported once, by that name."""
        changed = False
        for secret in secrets:
            if secret is None or isinstance(secret, bool):
                continue
            secret = str(secret)
            for value in {secret, secret.strip()}:
                if not value or value in self._values or value in self._short:
                    continue
                changed = True
                if len(value) >= MIN_LENGTH:
                    self._values.add(value)
                else:
                    self._short.add(value)
                    _report_short(source, len(value))
        if changed:
            forms, cores = set(), set()
            for value in self._values:
                forms |= _text_forms(value)
                cores |= _base64_cores(value)
            self._cores = cores
            self._pattern = _literal_pattern(forms | cores)
        return self

    def add_from_data(self, data, source=None):
        """Also redact every value under a credential-looking key of `data` (a testbed, a payload)."""
        return self.add(*secrets_in_data(data), source=source)

    @property
    def secret_count(self):
        return len(self._values) + len(self._short)

    def __bool__(self):
        return bool(self._values or self._short)

    def __contains__(self, value):
        return value in self._values or value in self._short

    def __repr__(self):  # never the values
        return f"Redactor({self.secret_count} secrets)"

    # -- text ---------------------------------------------------------------------
    def redact(self, text):
        """`text` with every secret replaced by ***; non-strings are converted with str()."""
        if text is None:
            return text
        if not isinstance(text, str):
            text = str(text)
        if not text:
            return text
        if self._short and text.strip() in self._short:
            return MASK
        if self._pattern is not None:
            text = self._sub(text)
        if "@" in text and "://" in text:
            text = URL_USERINFO_RE.sub(r"\1***@", text)
        return text

    def _sub(self, text):
        if not self._cores:
            return self._pattern.sub(MASK, text)
        out, done = [], 0
        for match in self._pattern.finditer(text):
            start, end = match.span()
            if start < done:
                continue  # inside a base64 run already masked
            if match.group() in self._cores:  # mask the whole base64 run, padding included
                while start > done and text[start - 1] in BASE64_CHARS:
                    start -= 1
                while end < len(text) and text[end] in BASE64_CHARS:
                    end += 1
                while end < len(text) and text[end] == "=":
                    end += 1
            out.append(text[done:start])
            out.append(MASK)
            done = end
        out.append(text[done:])
        return "".join(out)

    def redact_bytes(self, data, encoding="utf-8"):
        text = data.decode(encoding, errors="surrogateescape")
        return self.redact(text).encode(encoding, errors="surrogateescape")

    # -- values -------------------------------------------------------------------
    def redact_value(self, value):
        """`value` with every string in it (dict keys too) redacted; same shape, numbers untouched.

        Dicts, lists and tuples are copied, never changed in place; two keys that
        mask to the same text stay two keys. Other objects are returned as they are
        (turn them into JSON types first, e.g. json.loads(json.dumps(v, default=str)))."""
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                new_key = self.redact(key) if isinstance(key, str) else key
                while new_key in out:
                    new_key = f"{new_key}*"
                out[new_key] = self.redact_value(item)
            return out
        if isinstance(value, (list, tuple)):
            items = [self.redact_value(item) for item in value]
            return items if isinstance(value, list) else tuple(items)
        return value

    # -- files --------------------------------------------------------------------
    def redact_file(self, path):
        """Redact a file in place; True if it changed. Binary files and links are left alone.

        JSON and YAML files are parsed, redacted value by value and written back
        (so their structure survives; text masking would turn ``Token: x`` into a
        YAML alias); other text is streamed line by line into a temporary file
        next to it, which then replaces it with the same mode. Bytes that are not
        UTF-8 pass through unchanged."""
        path = os.fspath(path)
        if not self or os.path.islink(path) or not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        if b"\0" in head:
            return False
        if path.endswith(JSON_SUFFIXES + YAML_SUFFIXES):
            changed = self._redact_structured(path)
            if changed is not None:
                return changed
        if len(head) < SNIFF_BYTES and self.redact(head.decode("utf-8", "surrogateescape")) == \
                head.decode("utf-8", "surrogateescape"):
            return False  # small file without any secret: leave it (and its mtime) alone
        return self._rewrite(path, lambda src, dst: self._copy_lines(src, dst))

    def _copy_lines(self, src, dst):
        changed = False
        for line in src:
            body = line.rstrip("\r\n")
            clean = self.redact(body) + line[len(body):]
            changed = changed or clean != line
            dst.write(clean)
        return changed

    def _redact_structured(self, path):
        """Parse, redact, write back; None when the file does not parse (then it is text)."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if path.endswith(JSON_SUFFIXES):
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except (ValueError, UnicodeDecodeError, RecursionError, ImportError):
            return None
        except Exception:
            return None
        clean = self.redact_value(data)
        if clean == data and self.redact(text) == text:
            return False
        if path.endswith(JSON_SUFFIXES):
            indent = 2 if text.lstrip().startswith("{\n") or "\n " in text[:200] else None
            out = json.dumps(clean, indent=indent, default=str) + ("\n" if text.endswith("\n") else "")
        else:
            import yaml

            out = yaml.safe_dump(clean, default_flow_style=False, sort_keys=False, allow_unicode=True)
        return self._rewrite(path, lambda src, dst: dst.write(out) >= 0)

    def _rewrite(self, path, copy):
        folder = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(prefix=".redact-", dir=folder)
        changed = False
        try:
            with open(path, "r", encoding="utf-8", errors="surrogateescape", newline="") as src, \
                    os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as dst:
                changed = bool(copy(src, dst))
            if changed:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
                os.replace(tmp, path)
                tmp = None
        finally:
            if tmp is not None:
                os.unlink(tmp)
        return changed

    def redact_tree(self, folder):
        """Redact every file under `folder` in place; return the paths that changed.

        Symbolic links are neither followed nor rewritten, so nothing outside
        the folder is touched."""
        changed = []
        if not self:
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


def _report_short(source, length):
    """Say once per process that a named secret is too short to be masked inside text."""
    if source is None or source in _reported_short:
        return
    _reported_short.add(source)
    log.warning("faasr-easypy: the secret in %s is too short to mask safely (%d characters, fewer than %d): "
                "it is masked only where a whole value equals it, not inside other text, so it may "
                "still show inside a log line; use a credential of at least %d characters",
                source, length, MIN_LENGTH, MIN_LENGTH)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the message, its arguments and any traceback text.

    Attach it to *handlers* (``handler.addFilter(f)``): a filter on a logger
    does not see records propagated from its child loggers.
    """

    def __init__(self, redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record):
        if getattr(record, "_faasr_redacted", None) is self.redactor:
            return True  # a second handler with the same filter: done already
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
        record._faasr_redacted = self.redactor
        return True


def install_record_factory(redactor):
    """Redact every log record of this process (and of processes it forks) as it is made,
    whichever handler later writes it (one a testscript adds, too). Once per process;
    a second call only changes the redactor."""
    current = logging.getLogRecordFactory()
    masking = getattr(current, "faasr_masking", None)
    if masking is not None:
        masking.redactor = redactor
        return
    masking = RedactingFilter(redactor)

    def factory(*args, **kwargs):
        record = current(*args, **kwargs)
        masking.filter(record)
        return record

    factory.faasr_masking = masking
    logging.setLogRecordFactory(factory)


class RedactingStream:
    """A text stream that redacts what is written to it, line by line (the terminal of
    ``faasr-easypy run``). Text without a newline yet is held until one comes or flush(),
    so a secret written in two pieces is still found."""

    def __init__(self, stream, redactor):
        self._stream = stream
        self._redactor = redactor
        self._pending = ""

    def write(self, text):
        self._pending += text
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self._stream.write("\n".join(self._redactor.redact(line) for line in head.split("\n")) + "\n")
        return len(text)

    def flush(self):
        if self._pending:
            self._stream.write(self._redactor.redact(self._pending))
            self._pending = ""
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


class redacted_output:
    """``with redacted_output(redactor):`` sys.stdout and sys.stderr go through `redactor`."""

    def __init__(self, redactor):
        self.redactor = redactor
        self._saved = None

    def __enter__(self):
        import sys

        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = RedactingStream(sys.stdout, self.redactor)
        sys.stderr = RedactingStream(sys.stderr, self.redactor)
        return self.redactor

    def __exit__(self, *exc):
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr = self._saved
        return False


__all__ = ["MASK", "MIN_LENGTH", "RedactingFilter", "RedactingStream", "Redactor", "install_record_factory",
           "is_secret_key", "is_secret_name", "named_secrets_from_environment", "redacted_output",
           "secrets_from_environment", "secrets_in_data"]
