"""The SLURM trigger backend against the real slurmrestd of the test cluster: FaaSr's request,
and a one-paragraph error for each way a submission fails, never with the token in it."""

import base64
import json
import socket
import time
from pathlib import Path

import pytest

from faasr_easypy.backends.registry import backend_for
from faasr_easypy.backends.slurm import SlurmBackend, job_script
from faasr_easypy.errors import BackendError
from faasr_easypy.invocation import Invocation
from faasr_easypy.s3.client import DataStore
from faasr_easypy.workflow import load_workflow

PROJECT = Path(__file__).resolve().parent.parent
PAYLOAD = "faasr-user/FaaSr-workflow/main/data_pipeline.json"
S3_SECRET = "s3-secret-for-slurm-tests-0123"


def slurm_server(cluster, **changes):
    spec = {"FaaSType": "SLURM", "Endpoint": cluster.endpoint, "UserName": "root", "APIVersion": "v0.0.37",
            "Partition": cluster.partition, "WorkingDirectory": str(cluster.dir / "jobs")}
    spec.update(changes)
    return spec


def make_backend(cluster, token=None, **changes):
    wf = load_workflow(PROJECT / "workflows" / "data_pipeline.json")
    store = DataStore(name="My_S3_Bucket", bucket="faasr", endpoint="http://127.0.0.1:9", access_key="AKIATEST1",
                      secret_key=S3_SECRET)
    backend = backend_for(wf, server=slurm_server(cluster, **changes), token=token or cluster.token(),
                          payload_url=PAYLOAD, data_stores={"My_S3_Bucket": store}, max_retries=0, environ={})
    return wf, backend


def fake_jwt(exp):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': exp, 'sun': 'root'})}.c2lnbmF0dXJl"


def test_submits_faasrs_job_and_it_runs(slurm_cluster):
    wf, backend = make_backend(slurm_cluster)
    assert isinstance(backend, SlurmBackend)
    inv = Invocation(wf)
    body = backend.job_request(inv, wf.entry)
    job = body["job"]
    assert job["name"] == "DataPipeline-create-input"
    assert (job["nodes"], job["tasks"], job["cpus_per_task"], job["memory_per_cpu"], job["time_limit"]) == \
        ("1", "1", "1", "1024", "60")  # FaaSr's defaults, as strings
    assert set(job["environment"]) == {"PAYLOAD_URL", "OVERWRITTEN"}
    ow = json.loads(job["environment"]["OVERWRITTEN"])
    assert ow["InvocationID"] == inv.invocation_id and ow["FunctionInvoke"] == "create-input"
    assert ow["DataStores"]["My_S3_Bucket"]["SecretKey"] == S3_SECRET  # FaaSr: no secret store on SLURM
    server = ow["ComputeServers"]["My_GitHub_Account"]  # the entry's server, as the testbed maps it
    assert server["FaaSType"] == "SLURM" and server["Token"] == backend.token  # faasr-py reads Token
    assert body["script"] == job_script(wf.data, "create_input", "DataPipeline-create-input", job["environment"])
    assert "docker run --rm --network=host \\\n  -e PAYLOAD_URL \\\n  -e OVERWRITTEN \\\n  faasr/slurm-r:latest" \
        in body["script"]
    try:
        result = backend.trigger(inv)
        assert result["job_id"] and backend.triggered == [("create-input", inv.invocation_id)]
        info = slurm_cluster.job(result["job_id"])
        assert info["JobName"] == "DataPipeline-create-input" and info["Partition"] == slurm_cluster.partition
    finally:
        backend.cancel(inv)
        backend.close()
    assert slurm_cluster.wait_idle("DataPipeline-") == []


def test_unknown_partition_is_one_paragraph_naming_the_field(slurm_cluster):
    wf, backend = make_backend(slurm_cluster, Partition="no-such-partition")
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        backend.trigger(Invocation(wf))
    text = str(info.value)
    assert "partition 'no-such-partition' does not exist" in text and "sinfo" in text and "\n" not in text
    assert backend.token not in text
    assert time.monotonic() - started < 5, "slurmrestd's refusal is final: not retried"


def test_unsupported_api_version_is_a_404_with_the_versions_that_work(slurm_cluster):
    wf, backend = make_backend(slurm_cluster, APIVersion="v0.0.40")
    with pytest.raises(BackendError) as info:
        backend.trigger(Invocation(wf))
    assert "HTTP 404" in str(info.value) and "v0.0.36 to v0.0.38" in str(info.value)


def test_a_token_slurmctld_rejects_names_the_variable_and_the_fix(slurm_cluster):
    forged = fake_jwt(time.time() + 3600)  # a JWT, but not signed with the cluster's key
    wf, backend = make_backend(slurm_cluster, token=forged)
    with pytest.raises(BackendError) as info:
        backend.trigger(Invocation(wf))
    text = str(info.value)
    assert "rejected the token" in text and "scontrol token" in text
    assert forged not in text and forged.split(".")[1] not in text


def test_no_token_header_is_a_401(slurm_cluster):
    import requests

    class NoToken(requests.Session):
        def request(self, method, url, headers=None, **kw):
            headers = {k: v for k, v in (headers or {}).items() if k != "X-SLURM-USER-TOKEN"}
            return super().request(method, url, headers=headers, **kw)

    wf = load_workflow(PROJECT / "workflows" / "data_pipeline.json")
    backend = SlurmBackend(wf, server=slurm_server(slurm_cluster), token=slurm_cluster.token(), environ={},
                           payload_url=PAYLOAD, session=NoToken(), max_retries=0)
    with pytest.raises(BackendError) as info:
        backend.trigger(Invocation(wf))
    assert "HTTP 401" in str(info.value) and "UserName" in str(info.value)


def test_slurmrestd_down_says_so(slurm_cluster):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wf, backend = make_backend(slurm_cluster, Endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(BackendError) as info:
        backend.trigger(Invocation(wf))
    assert f"Cannot reach slurmrestd at http://127.0.0.1:{port}" in str(info.value)
    assert "Is slurmrestd running" in str(info.value)


def test_token_problems_found_before_sending():
    wf = load_workflow(PROJECT / "workflows" / "data_pipeline.json")
    server = {"FaaSType": "SLURM", "Endpoint": "http://127.0.0.1:9", "UserName": "root",
              "APIVersion": "v0.0.37", "Partition": "faasr"}
    with pytest.raises(BackendError, match="set the environment variable My_GitHub_Account_Token"):
        SlurmBackend(wf, server=server, environ={}, payload_url=PAYLOAD)
    with pytest.raises(BackendError, match="is not a JWT"):
        SlurmBackend(wf, server=server, token="plain-token-value", environ={}, payload_url=PAYLOAD)
    expired = fake_jwt(time.time() - 60)
    with pytest.raises(BackendError, match="expired at") as info:
        SlurmBackend(wf, server=server, environ={"My_GitHub_Account_Token": expired}, payload_url=PAYLOAD)
    assert expired not in str(info.value) and "environment variable My_GitHub_Account_Token" in str(info.value)
    with pytest.raises(BackendError, match="UseSecretStore"):
        SlurmBackend(wf, server=dict(server, UseSecretStore=True), token=fake_jwt(time.time() + 60),
                     environ={}, payload_url=PAYLOAD)


def test_a_dollar_in_a_credential_is_refused_without_showing_it():
    wf = load_workflow(PROJECT / "workflows" / "data_pipeline.json")
    server = {"FaaSType": "SLURM", "Endpoint": "http://127.0.0.1:9", "UserName": "root",
              "APIVersion": "v0.0.37", "Partition": "faasr"}
    env = {"My_S3_Bucket_AccessKey": "AKIA1234", "My_S3_Bucket_SecretKey": "se$cret-value"}
    backend = SlurmBackend(wf, server=server, token=fake_jwt(time.time() + 60), environ=env, payload_url=PAYLOAD)
    with pytest.raises(BackendError) as info:
        backend.trigger(Invocation(wf))
    assert "\\$ inside single quotes" in str(info.value) and "se$cret" not in str(info.value)


def test_the_jwt_variable_names_are_redacted():
    from faasr_easypy.redact import Redactor

    token = fake_jwt(time.time() + 60)
    red = Redactor(environ={"SLURM_JWT": token, "My_Cluster_Token": token + "x"})
    assert red.redact(f"SLURM_JWT={token} and {token}x") == "SLURM_JWT=*** and ***"


def test_successor_job_ids_come_from_faasr_pys_lines_ranks_in_the_order_logged():
    """What the SLURM backend learns from a log line the monitor hands on (slurm_watch.py)."""
    from faasr_easypy.backends.slurm_watch import InvocationJobs

    wf = load_workflow(PROJECT / "workflows" / "fan_out_fan_in.json")
    jobs = InvocationJobs(Invocation(wf))
    jobs.learn(7, "split")

    def line(target, job_id):
        return f"[1.5] [INFO] [scheduler.py] SLURM: Successfully submitted job: {target} (Job ID: {job_id})"

    for job_id in (8, 9, 10):
        jobs.observe_line("split", None, line("square", job_id))
    jobs.observe_line("split", None, line("square", 9))  # the log read again: no new rank
    jobs.observe_line("square", 2, line("gather", 12))
    jobs.observe_line("square", 1, line("gather", 11))
    jobs.observe_line("square", 1, line("gather", "unknown"))  # faasr-py found no job_id in the answer
    jobs.observe_line("square", 1, line("not-an-action", 13))
    jobs.observe_line("square", 1, "[2.1] [INFO] [user.py] a function printing Successfully submitted job")
    assert jobs.jobs == {7: ("split", None), 8: ("square", 1), 9: ("square", 2), 10: ("square", 3),
                         11: ("gather", None), 12: ("gather", None)}
    assert jobs.expected_jobs("gather") == wf.rank_count("square") and jobs.expected_jobs("split") == 1
