"""faasr_results.json and the per-task records it is made of: the one place that writes them.

A task writes its record (``faasr/<taskid>.json`` in the run directory), the job
completes the records (fill_outputs) and post_job writes faasr_results.json from them;
report/archive.py and report/model.py read it (docs/RESULTS_SCHEMA.md).
Everything written here passes the caller's `redact` first (JSON data -> the same data with
its strings masked value by value: JobContext.redact_data).
"""

import json
from pathlib import Path

RESULTS_FILE = "faasr_results.json"
RECORDS = "faasr"                 # folder in the run directory with one JSON record per task


def write_json(path, data):
    """Write `data` as JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def _redacted(data, redact):
    return redact(data) if redact else data


def record_path(directory, taskid):
    return Path(directory) / RECORDS / f"{taskid}.json"


def write_record(directory, taskid, record, redact=None):
    """A task's record in `directory`/faasr/ (also the job rewriting it, with its outputs)."""
    write_json(record_path(directory, taskid), _redacted(record, redact))


def read_records(directory):
    """{taskid: record} of the records in `directory`/faasr/ ({} if none; unreadable ones skipped)."""
    records = {}
    folder = Path(directory) / RECORDS
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                records[path.stem] = json.loads(path.read_text())
            except ValueError:
                pass
    return records


def write_results(directory, results, redact=None):
    """faasr_results.json in `directory` (the run directory: it goes into the archive)."""
    path = Path(directory) / RESULTS_FILE
    write_json(path, _redacted(results, redact))
    return path
