"""Shared fixtures: one embedded S3 server for the whole test session."""

import pytest

from faasr_easypy.s3.server import EmbeddedS3Server


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds (S3 server restarts, timeouts); "
                                       "deselect with -m 'not slow'")


@pytest.fixture(scope="session")
def s3_server():
    """A running SeaweedFS S3 server on loopback, stopped at the end of the session."""
    with EmbeddedS3Server() as server:
        yield server
