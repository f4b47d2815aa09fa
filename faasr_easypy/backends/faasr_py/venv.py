"""The faasr-py 2.1.0 interpreter: its own virtualenv, created on first use and cached.

faasr-py pins boto3, requests, jsonschema, PyYAML and pytest and pulls in
fastapi, uvicorn, flask and gevent, so it never shares the harness's
environment. Where it lives, first match wins:

    FAASR_EASYPY_FAASR_PY_PYTHON   an interpreter that already has faasr-py==2.1.0 (used as is)
    FAASR_EASYPY_FAASR_PY_VENV     the virtualenv folder to use or create
    $XDG_CACHE_HOME/faasr-easypy/faasr-py-2.1.0  (default ~/.cache/...)

Creation is `python -m venv` + `pip install faasr-py==2.1.0` (about a minute,
needs PyPI), under a file lock so parallel test runs create it once; a stamp
file marks a finished install, so an interrupted one is redone from scratch.
"""

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ...errors import BackendError

FAASR_PY_VERSION = "2.1.0"
REQUIREMENT = f"faasr-py=={FAASR_PY_VERSION}"
ENV_PYTHON = "FAASR_EASYPY_FAASR_PY_PYTHON"
ENV_VENV = "FAASR_EASYPY_FAASR_PY_VENV"
STAMP = ".faasr-easypy-installed"
INSTALL_TIMEOUT = 900


class FaaSrPyUnavailable(BackendError):
    """The faasr-py virtualenv does not exist and could not be created."""


def default_venv_dir(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VENV):
        return Path(environ[ENV_VENV]).expanduser()
    cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "faasr-easypy" / f"faasr-py-{FAASR_PY_VERSION}"


def venv_python(venv_dir):
    return Path(venv_dir) / "bin" / "python"


def is_ready(venv_dir=None):
    """True if the virtualenv exists with a finished install (no creation attempted)."""
    if os.environ.get(ENV_PYTHON):
        return os.access(os.environ[ENV_PYTHON], os.X_OK)
    venv_dir = Path(venv_dir or default_venv_dir())
    return (venv_dir / STAMP).is_file() and venv_python(venv_dir).exists()


def faasr_py_python(venv_dir=None, create=True, progress=None):
    """Path of an interpreter with faasr-py 2.1.0; creates the virtualenv if needed.

    Raises FaaSrPyUnavailable (a UserError) with the reason and the fix.
    """
    explicit = os.environ.get(ENV_PYTHON)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FaaSrPyUnavailable(
                f"{ENV_PYTHON} is set to {explicit}, which is not an executable interpreter. Point it "
                f"at the python of a virtualenv where `pip install {REQUIREMENT}` was run, or unset it "
                "to let faasr-easypy create one.")
        return explicit
    venv_dir = Path(venv_dir or default_venv_dir())
    if is_ready(venv_dir):
        return str(venv_python(venv_dir))
    if not create:
        raise FaaSrPyUnavailable(f"The faasr-py virtualenv {venv_dir} does not exist yet.")
    try:
        venv_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = open(f"{venv_dir}.lock", "w")
    except OSError as exc:
        raise FaaSrPyUnavailable(
            f"Cannot create the faasr-py virtualenv's folder {venv_dir.parent} ({exc.strerror}). Set "
            f"{ENV_VENV} to a writable folder, or {ENV_PYTHON} to an interpreter that has "
            f"{REQUIREMENT}.") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be creating it right now
        if not is_ready(venv_dir):
            _create(venv_dir, progress)
    return str(venv_python(venv_dir))


def _create(venv_dir, progress):
    if progress:
        progress(f"creating the faasr-py {FAASR_PY_VERSION} virtualenv in {venv_dir} (once, about a minute)")
    shutil.rmtree(venv_dir, ignore_errors=True)  # a half-finished earlier attempt
    python = venv_python(venv_dir)
    steps = [
        ([sys.executable, "-m", "venv", str(venv_dir)], "python -m venv"),
        ([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-input", REQUIREMENT], f"pip install {REQUIREMENT}"),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    for cmd, what in steps:
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  env=env, timeout=INSTALL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(venv_dir, ignore_errors=True)
            raise _failed(venv_dir, what, str(exc)) from exc
        if done.returncode != 0:
            shutil.rmtree(venv_dir, ignore_errors=True)
            raise _failed(venv_dir, what, _tail(done.stderr or done.stdout))
    (venv_dir / STAMP).write_text(REQUIREMENT + "\n")


def _failed(venv_dir, what, detail):
    return FaaSrPyUnavailable(
        f"Could not create the faasr-py virtualenv in {venv_dir}: `{what}` failed ({detail}). It needs "
        f"PyPI access once (pip honours HTTPS_PROXY and PIP_INDEX_URL). Fix the network, or create it "
        f"yourself (`python3 -m venv DIR && DIR/bin/pip install {REQUIREMENT}`) and set {ENV_PYTHON}="
        "DIR/bin/python.")


def _tail(text, lines=3):
    kept = [ln.strip() for ln in (text or "").splitlines()
            if ln.strip() and "is ignored" not in ln]  # pip's harmless find-links warnings
    return " | ".join(kept[-lines:]) or "no output"
