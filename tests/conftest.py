"""Shared fixtures: one embedded S3 server for the whole test session."""

import pytest

from faasr_easypy.s3.server import EmbeddedS3Server


@pytest.fixture(scope="session")
def s3_server():
    """A running SeaweedFS S3 server on loopback, stopped at the end of the session."""
    with EmbeddedS3Server() as server:
        yield server


@pytest.fixture(scope="session")
def faasr_python():
    """The python of faasr-py 2.1.0's own virtualenv, created once (cached in ~/.cache/faasr-easypy).

    Skipped when PyPI cannot be reached, except under CI, which has PyPI and must run these tests.
    """
    import os

    from faasr_easypy.backends.faasr_py import FaaSrPyUnavailable, faasr_py_python

    try:
        return faasr_py_python(progress=print)
    except FaaSrPyUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI has PyPI access, so the faasr-py tests must run there: {exc}")
        pytest.skip(f"faasr-py 2.1.0 cannot be installed here (no PyPI?): {exc}")


@pytest.fixture(scope="session")
def slurm_cluster():
    """The real SLURM cluster of scripts/slurm-cluster (2 nodes, slurmrestd on 127.0.0.1).

    Started once per session and stopped at its end when this session started it;
    skipped with the reason only when not root or not on Debian, never under CI.
    """
    from tests.slurm_cluster import start_cluster, stop_cluster

    cluster, started = start_cluster()
    try:
        yield cluster
    finally:
        if started:
            stop_cluster(cluster)
