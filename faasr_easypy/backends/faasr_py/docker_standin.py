"""`docker run ... <image>` on a test cluster without a docker engine: FaaSr's container, played by faasr-py.

FaaSr's SLURM job script (slurm_helper.create_job_script) ends in::

    docker run --rm --network=host -e PAYLOAD_URL -e OVERWRITTEN [-e GH_PAT] <image>

scripts/slurm-cluster puts a `docker` on the nodes' PATH (TaskProlog) that runs
this module instead. It does what FaaSr's slurm image does: the container's
environment is only the `-e` variables plus the image's FAASR_PLATFORM=slurm,
and its entry point is faasr_entry.py, here the one faasr-easypy runs in the
real faasr-py 2.1.0 (its virtualenv, venv.py). faasr-py then submits the
successors itself, through slurmrestd.

Two things a real container has and a node here has not are supplied:
- "the internet": faasr-py fetches the workflow JSON and functions from GitHub.
  The harness serves them from a loopback GitHub stand-in and registers its
  address under the InvocationID (register() below); we look it up.
- a network namespace of its own... which FaaSr's `--network=host` gives up
  anyway: faasr-py's RPC server is hard-wired to 127.0.0.1:8000, so one action
  runs at a time per host, under the same host-wide lock as the faasr-py backend.

Exit status is the action's (docker's rule); FaaSr's script ignores it.
"""

import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

#: where the harness registers the GitHub stand-in of each invocation (same machine only)
REGISTRY = Path(tempfile.gettempdir()) / "faasr-easypy-github-standins"
#: the environment the slurm image itself sets
IMAGE_ENV = {"FAASR_PLATFORM": "slurm", "PYTHONUNBUFFERED": "1"}


def register(invocation_id, url):
    """Tell the nodes where invocation `invocation_id`'s GitHub stand-in listens."""
    REGISTRY.mkdir(mode=0o755, exist_ok=True)
    path = REGISTRY / _safe(invocation_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(url)
    tmp.replace(path)


def unregister(invocation_id):
    try:
        (REGISTRY / _safe(invocation_id)).unlink()
    except FileNotFoundError:
        pass


def lookup(invocation_id):
    try:
        return (REGISTRY / _safe(invocation_id)).read_text().strip() or None
    except OSError:
        return None


def _safe(invocation_id):
    return "".join(c for c in str(invocation_id) if c.isalnum() or c in "-_.") or "none"


def parse_run(argv):
    """(variables passed with -e, image) of a `docker run` command line; ValueError if not one."""
    if not argv or argv[0] != "run":
        raise ValueError(f"only `docker run` is supported here, not `docker {' '.join(argv[:1])}`")
    names, i, args = [], 1, argv
    while i < len(args):
        arg = args[i]
        if arg in ("-e", "--env"):
            names.append(args[i + 1])
            i += 2
        elif arg.startswith("--env="):
            names.append(arg.split("=", 1)[1])
            i += 1
        elif arg in ("--rm", "-d", "-i", "-t", "-it") or arg.startswith("--network"):
            i += 1
        elif arg.startswith("-"):
            raise ValueError(f"docker run option {arg} is not supported by the stand-in")
        else:
            return names, arg
    raise ValueError("docker run without an image")


def container_env(names, environ, python):
    """The container's environment: the -e variables (KEY or KEY=VALUE), the image's, a PATH."""
    env = {"PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": environ.get("HOME", "/root"),
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.update(IMAGE_ENV)
    for item in names:
        key, sep, value = item.partition("=")
        if sep:
            env[key] = value
        elif key in environ:
            env[key] = environ[key]
    return env


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = dict(os.environ if environ is None else environ)
    try:
        names, image = parse_run(argv)
    except (ValueError, IndexError) as exc:
        print(f"docker (faasr-easypy stand-in): {exc}", file=sys.stderr)
        return 125  # docker's "the run command itself failed"
    from .backend import DRIVER, PORT_LOCK, _wait_port_free
    from .venv import FaaSrPyUnavailable, faasr_py_python

    try:
        python = faasr_py_python(create=False)
    except FaaSrPyUnavailable as exc:
        print(f"docker (faasr-easypy stand-in): cannot run image {image}: {exc}", file=sys.stderr)
        return 125
    env = container_env(names, environ, python)
    try:
        invocation_id = json.loads(env.get("OVERWRITTEN") or "{}").get("InvocationID")
    except ValueError:
        invocation_id = None
    api = lookup(invocation_id) if invocation_id else None
    if not api:
        print(f"docker (faasr-easypy stand-in): no GitHub stand-in is registered for InvocationID "
              f"{invocation_id}; the harness that triggered it has stopped.", file=sys.stderr)
        return 125
    env["FAASR_EASYPY_GITHUB_API"] = api
    print(f"docker (faasr-easypy stand-in): running {image} as faasr-py 2.1.0", flush=True)
    workdir = tempfile.mkdtemp(prefix=f"faasr-easypy-container-{environ.get('SLURM_JOB_ID', 'x')}-")
    lock = open(PORT_LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one faasr-py action per host: its RPC port is 8000
    try:
        if not _wait_port_free(30):
            print("docker (faasr-easypy stand-in): port 8000 stays taken; faasr-py cannot start",
                  file=sys.stderr)
            return 125
        pid = os.fork()
        if pid == 0:  # the "container": its own process group, so faasr_entry.py kills only its own
            os.setpgid(0, 0)
            os.chdir(workdir)
            os.execve(python, [python, DRIVER], env)
        # scancel / time limit: SLURM signals us; the container goes with us, as docker's would
        signal.signal(signal.SIGTERM, lambda *_: _stop_container(pid))
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    finally:
        if "pid" in locals():
            _kill_group(pid)  # the RPC server and function, if faasr_entry.py left them
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_container(pid):
    _kill_group(pid)
    raise SystemExit(128 + signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
