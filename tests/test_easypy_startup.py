"""The Easypy configuration a FaaSr job starts with, end to end: without -C the shipped
easypy_config.yaml applies whole (also the genie plugins genie re-enables through its own
entry points), the jobfile does not inherit the variable that named it, and -C still wins."""

import pytest

from .easypy_helpers import CONFIG, run_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

JOBFILE = """
import os

from faasr_easypy.easypy import workflow_statuses


def main(runtime):
    workflow_statuses(runtime)
    for p in runtime.plugins._plugins:
        print("RUNS-PLUGIN", type(p).__name__)
    print("CONFIG-VARIABLE", os.environ.get("PYATS_CONFIGURATION_EASYPY"))
"""

DISABLED = ["EnvironmentDebugPlugin", "TipsPlugin", "KleenexPlugin", "LiveviewPlugin", "ReplayPlugin",
            "AbstractPlugin", "HealthCheckPlugin", "MapleCleanPlugin", "FileServerPlugin"]


def _plugins(output):
    """The plugins the job ran (a job without tasks exits 1 in pyATS: the exit code says nothing)."""
    assert "CONFIG-VARIABLE" in output, output[-3000:]
    return {line.split()[-1] for line in output.splitlines() if line.startswith("RUNS-PLUGIN ")}


def test_a_faasr_jobfile_without_c_runs_none_of_the_disabled_plugins(tmp_path):
    job = tmp_path / "startup_job.py"
    job.write_text(JOBFILE)
    _, out, _, _ = run_job(job, "--archive-dir", tmp_path / "archives", "--no-mail", config=False)
    running = _plugins(out)
    assert "FaasrPlugin" in running and "TaskLogPlugin" in running
    assert sorted(running & set(DISABLED)) == []
    assert "CONFIG-VARIABLE None" in out


def test_the_users_c_file_still_wins(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("plugins:\n  RetryPlugin: {enabled: False}\n")
    job = tmp_path / "startup_job.py"
    job.write_text(JOBFILE)
    _, out, _, _ = run_job(job, "--archive-dir", tmp_path / "archives", "--no-mail", "-C", mine, config=False)
    running = _plugins(out)
    assert "RetryPlugin" not in running and "RerunPlugin" in running  # theirs
    assert "EnvironmentDebugPlugin" not in running  # the plugin's own entry-point defaults still apply
    assert "AbstractPlugin" in running  # genie's: only our file would switch it off, and theirs was named
    assert CONFIG.is_file()
