"""scripts/slurm-cluster: a real SLURM cluster on this machine (slurmctld, slurmd x N, slurmrestd)."""

import time

import requests

from tests.slurm_cluster import daemon_pids, is_loopback, listening_sockets


def test_cluster_has_several_nodes_and_every_daemon_listens_on_loopback_only(slurm_cluster):
    nodes = slurm_cluster.nodes()
    assert len(nodes) >= 2, f"Debian's build runs several slurmd per host; sinfo shows {nodes}"
    pids = daemon_pids(slurm_cluster)
    assert len(pids) == len(nodes) + 3  # slurmd per node, slurmctld, slurmrestd, munged
    sockets = listening_sockets(pids)
    ports = {port for _, _, port in sockets}
    assert {6817, 6818, 6819} <= ports, sockets
    assert slurm_cluster.endpoint.rsplit(":", 1)[1] in {str(p) for p in ports}
    assert all(is_loopback(addr) for _, addr, _ in sockets), sockets


def test_start_is_idempotent_and_status_names_the_endpoint(slurm_cluster):
    again = slurm_cluster.script("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert f"FAASR_EASYPY_SLURM_ENDPOINT={slurm_cluster.endpoint}" in again.stdout
    status = slurm_cluster.script("status")
    assert status.returncode == 0 and "slurmrestd: running" in status.stdout


def test_jobs_submitted_over_rest_run_on_different_nodes(slurm_cluster, tmp_path):
    tmp_path.chmod(0o777)
    token = slurm_cluster.token()
    headers = {"X-SLURM-USER-TOKEN": token, "X-SLURM-USER-NAME": "root"}
    ids = []
    for i in range(2):
        body = {"job": {"name": f"faasr-easypy-test-spread-{i}", "partition": slurm_cluster.partition,
                        "current_working_directory": str(tmp_path), "environment": {"I": str(i)},
                        "standard_output": str(tmp_path / f"{i}.out")},
                "script": "#!/bin/bash\nsleep 1\necho $SLURMD_NODENAME\n"}
        r = requests.post(f"{slurm_cluster.endpoint}/slurm/v0.0.37/job/submit", json=body,
                          headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        ids.append(r.json()["job_id"])
    assert slurm_cluster.wait_idle("faasr-easypy-test-spread-") == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all((tmp_path / f"{i}.out").exists() for i in range(2)):
        time.sleep(0.1)
    ran_on = {(tmp_path / f"{i}.out").read_text().strip() for i in range(2)}
    assert ran_on == {"n1", "n2"}, f"two 1-CPU jobs at once must use both nodes, ran on {ran_on}"


def test_rest_api_without_token_is_refused(slurm_cluster):
    r = requests.get(f"{slurm_cluster.endpoint}/slurm/v0.0.37/ping", timeout=10)
    assert r.status_code == 401
