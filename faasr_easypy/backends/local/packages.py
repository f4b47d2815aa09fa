"""PyPIPackageDownloads for the local backend: installed once into a cached folder the
actions import from, never into the harness's own environment.

FaaSr installs a function's `PyPIPackageDownloads` (keyed by FunctionName) with pip before
running it. Here the union of a workflow's packages goes into one folder per package set
and Python version (`pip install --target`), cached under
$XDG_CACHE_HOME/faasr-easypy/pypi/ (FAASR_EASYPY_PYPI_CACHE overrides), created under a file
lock so parallel runs install it once; the forked action puts it first on sys.path.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ...errors import BackendError

ENV_CACHE = "FAASR_EASYPY_PYPI_CACHE"
STAMP = ".faasr-easypy-installed"
INSTALL_TIMEOUT = 900


def workflow_packages(workflow):
    """Sorted package requirements of the workflow's PyPIPackageDownloads (all functions)."""
    found = set()
    for packages in (workflow.data.get("PyPIPackageDownloads") or {}).values():
        for p in [packages] if isinstance(packages, str) else list(packages or ()):
            if str(p).strip():
                found.add(str(p).strip())
    return sorted(found)


def container_note(workflow):
    """The notice that the workflow's ActionContainers are not used on this machine, or ""."""
    containers = workflow.data.get("ActionContainers") or {}
    if not containers:
        return ""
    named = ", ".join(f"{action}: {image}" for action, image in sorted(containers.items()))
    return (f"{workflow.name}: ActionContainers ({named}) are not used locally: actions run in this "
            "machine's Python, with PyPIPackageDownloads installed for them; a container's other "
            "contents (system libraries, tools) are not there.")


def cache_root(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get(ENV_CACHE):
        return Path(environ[ENV_CACHE]).expanduser()
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "faasr-easypy" / "pypi"


def package_folder(packages, root=None, progress=None):
    """The folder holding `packages` for this Python, installed on first use."""
    key = hashlib.sha256("\n".join([f"py{sys.version_info[0]}.{sys.version_info[1]}", *packages]).encode())
    folder = Path(root or cache_root()) / key.hexdigest()[:16]
    if (folder / STAMP).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be installing the same set right now
        if not (folder / STAMP).is_file():
            _install(packages, folder, progress)
    return folder


def _install(packages, folder, progress):
    if progress:
        progress(f"installing PyPIPackageDownloads {', '.join(packages)} into {folder} (once)")
    shutil.rmtree(folder, ignore_errors=True)  # a half-finished earlier attempt
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
           "--target", str(folder), *packages]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                              timeout=INSTALL_TIMEOUT)
        detail = None if done.returncode == 0 else (done.stderr or done.stdout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        detail = str(exc)
    if detail is not None:
        shutil.rmtree(folder, ignore_errors=True)
        lines = [ln.strip() for ln in detail.splitlines() if ln.strip() and "is ignored" not in ln]
        raise BackendError(
            f"PyPIPackageDownloads: `pip install {' '.join(packages)}` failed ({' | '.join(lines[-3:])}). "
            "Fix the package names in the workflow's PyPIPackageDownloads, or the network to PyPI "
            "(pip honours HTTPS_PROXY and PIP_INDEX_URL).")
    (folder / STAMP).write_text("\n".join(packages) + "\n")
