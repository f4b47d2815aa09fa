"""The real SLURM cluster of scripts/slurm-cluster, as a test session sees it.

`slurm_cluster` (conftest, session scope) starts it once for the SLURM tests and
stops it at the end, unless it was already running (then it belongs to someone
else and stays). It is skipped, with the reason, only where it cannot run: not
root, or not Debian (no dpkg/apt-get). Under CI (root on Debian) it never skips.
"""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "slurm-cluster"
PARTITION = "faasr"


def configured_ports():
    """(slurmctld port, first slurmd port, node count): the variables scripts/slurm-cluster reads,
    with its defaults. The script inherits this process's environment, so a session that exports
    FAASR_EASYPY_SLURM_DIR and the ports runs its own cluster beside the default one."""
    env = os.environ
    return (int(env.get("FAASR_EASYPY_SLURM_CTLD_PORT", "6817")),
            int(env.get("FAASR_EASYPY_SLURM_SLURMD_PORT", "6818")),
            int(env.get("FAASR_EASYPY_SLURM_NODES", "2")))


class SlurmCluster:
    """Endpoint, config and a few squeue/scontrol helpers of the running cluster."""

    def __init__(self, env_lines):
        values = dict(line.split("=", 1) for line in env_lines.splitlines() if "=" in line)
        self.endpoint = values["FAASR_EASYPY_SLURM_ENDPOINT"]
        self.conf = values["SLURM_CONF"]
        self.dir = Path(self.conf).parent
        self.partition = PARTITION
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.ctld_port, first_slurmd, nodes = configured_ports()
        self.slurmd_ports = [first_slurmd + i for i in range(nodes)]

    def run(self, *args, check=True, timeout=30):
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              check=check, timeout=timeout)

    def token(self, user="root", lifespan=3600):
        out = self.run("scontrol", "token", f"username={user}", f"lifespan={lifespan}").stdout
        return out.strip().split("=", 1)[1]

    def jobs(self, name_prefix=""):
        """[(job id, name, state, node)] of the partition's jobs still known to slurmctld."""
        out = self.run("squeue", "-h", "-p", self.partition, "-t", "all", "-o", "%i|%j|%T|%N").stdout
        rows = [tuple(line.split("|")) for line in out.splitlines() if line.strip()]
        return [r for r in rows if r[1].startswith(name_prefix)]

    def last_job_id(self):
        return max((int(r[0]) for r in self.jobs()), default=0)

    def jobs_after(self, job_id, name_prefix=""):
        """Our jobs submitted after job `job_id` (the cluster keeps finished jobs for MinJobAge)."""
        return [r for r in self.jobs(name_prefix) if int(r[0]) > job_id]

    def active_jobs(self, name_prefix=""):
        return [r for r in self.jobs(name_prefix) if r[2] in ("PENDING", "RUNNING", "CONFIGURING",
                                                                "COMPLETING", "SUSPENDED", "REQUEUED")]

    def job(self, job_id):
        """scontrol's view of one job as a dict (JobState, Reason, NodeList, ...)."""
        out = self.run("scontrol", "-o", "show", "job", str(job_id), check=False).stdout
        fields = {}
        for part in out.split():
            if "=" in part:
                key, value = part.split("=", 1)
                fields[key] = value
        return fields

    def wait_idle(self, name_prefix="", timeout=60):
        """Wait until none of our jobs is pending or running; the rows left, if any."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.active_jobs(name_prefix)
            if not left:
                return []
            time.sleep(0.2)
        return self.active_jobs(name_prefix)

    def nodes(self):
        out = self.run("sinfo", "-h", "-N", "-p", self.partition, "-o", "%N %t").stdout
        return dict(line.split() for line in out.splitlines() if line.strip())

    def script(self, *args, timeout=120):
        return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)

    def testbed(self, source, folder, extra_device_lines=""):
        """A copy of testbed file `source` in `folder` whose WorkingDirectory is this cluster's
        jobs/ (the shipped testbeds name the default folder, /run/faasr-easypy-slurm), with
        `extra_device_lines` added after the SLURM device's WorkingDirectory."""
        text = source.read_text()
        line = "        WorkingDirectory: /run/faasr-easypy-slurm/jobs"
        assert line in text, f"{source} no longer has {line.strip()!r}"
        copy = Path(folder) / source.name
        copy.write_text(text.replace(line, f"        WorkingDirectory: {self.dir / 'jobs'}" + extra_device_lines))
        return copy

    def json(self):
        return json.dumps({"endpoint": self.endpoint, "conf": self.conf})


def read_log(runner, label):
    """The log of instance `label` of the runner's invocation as S3 has it now ("" if none)."""
    try:
        body = runner.client.get_object(Bucket=runner.data_store.bucket, Key=runner.layout.log_key(label))
    except runner.client.exceptions.NoSuchKey:
        return ""
    return body["Body"].read().decode()


def unavailable_reason():
    """Why the cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (slurmd runs jobs as their user; munge needs its user)"
    if not (shutil.which("dpkg-query") and shutil.which("apt-get")):
        return "the SLURM test cluster is installed from Debian packages (no dpkg/apt-get here)"
    return None


def start_cluster():
    """(SlurmCluster, started_by_us) or pytest.skip/fail with the reason."""
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is root on Debian, so the SLURM tests must run there, but: {reason}")
        pytest.skip(reason)
    already = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True).returncode == 0
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        pytest.fail(f"scripts/slurm-cluster start failed (exit {started.returncode}):\n"
                    f"{started.stdout}\n{started.stderr}")
    return SlurmCluster(started.stdout), not already


def stop_cluster(cluster):
    # our jobs first (the script cancels the partition's jobs too), then the daemons
    done = cluster.script("stop")
    if done.returncode != 0:
        raise RuntimeError(f"scripts/slurm-cluster stop failed: {done.stdout}{done.stderr}")


def listening_sockets(pids):
    """[(pid, address, port)] of every TCP socket in LISTEN state held by `pids` (from /proc)."""
    inodes = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            found.append((inodes[inode], _address(addr_hex), int(port_hex, 16)))
    return found


def _address(hex_addr):
    """/proc/net/tcp's address: 32-bit words in host (little-endian) byte order."""
    raw = b"".join(bytes.fromhex(hex_addr[i:i + 8])[::-1] for i in range(0, len(hex_addr), 8))
    if len(raw) == 4:
        return ".".join(str(b) for b in raw)
    import ipaddress
    return str(ipaddress.IPv6Address(raw))


def is_loopback(address):
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")


def daemon_pids(cluster):
    """Pids of the daemons scripts/slurm-cluster started (its pid files)."""
    pids = []
    for path in sorted((cluster.dir / "run").glob("*.pid")):
        try:
            pids.append(int(path.read_text().strip()))
        except (OSError, ValueError):
            pass
    return pids
