"""How a FaaSr job starts, end to end: without -C the shipped easypy_config.yaml applies
whole (also the genie plugins genie re-enables through its own entry points), the jobfile
does not inherit the variable that named it, and -C still wins; the embedded S3 server
started when pyATS loads the plugin is the job's, and is stopped when the job never
reaches pre_job or does not need it."""

import pytest

from faasr_easypy.easypy import plugin

from .easypy_helpers import CONFIG, PROJECT, leftovers, read_json, run_job

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


def test_the_early_s3_start_is_only_for_the_builtin_testbed_without_kept_data():
    job = ["pyats", "run", "job", "jobs/faasr_job.py"]
    assert plugin.starts_s3_early(job, {})
    for extra in (["--testbed-file", "t.yaml"], ["-t", "t.yaml"], ["--testbed-file=t.yaml"],
                  ["--faasr-keep-s3"], ["--faasr-keep"], ["--help"], ["-h"]):
        assert not plugin.starts_s3_early(job + extra, {}), extra
    assert not plugin.starts_s3_early(job, {plugin.ENV_EARLY_S3: "0"})
    assert plugin.starts_s3_early(job + ["--faasr-timeout", "5", "--no-mail"], {})


def test_the_job_uses_the_early_s3_server_and_stops_it(tmp_path):
    rc, out, archive, tag = run_job(PROJECT / "jobs" / "faasr_job.py", "--archive-dir", tmp_path / "archives",
                                    "--no-mail", config=False)
    assert rc == 0, out[-3000:]
    assert out.count("embedded S3 server (SeaweedFS) at http://127.0.0.1:") == 1
    assert {w["verdict"] for w in read_json(archive, "faasr_results.json")["workflows"]} == {"passed"}
    assert leftovers(tag) == []


def test_an_early_s3_server_no_job_takes_is_stopped(tmp_path):
    """A mistyped --faasr-* argument ends the job before pre_job (exit 2): the server that
    started when pyATS loaded the plugin must not outlive it."""
    rc, out, _, tag = run_job(PROJECT / "jobs" / "faasr_job.py", "--archive-dir", tmp_path / "archives",
                              "--no-mail", "--faasr-timout", "5", config=False)
    assert rc == 2 and "--faasr-timeout" in out, out[-3000:]
    assert leftovers(tag) == []
