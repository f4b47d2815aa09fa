"""The ERROR line an executor appends to an action's log when the action could not write it
itself (it died, was killed, its SLURM job ended): one copy for the fork server, the SLURM
cluster executor and the SLURM job watcher of FaaSr's runtime (backends/slurm_watch.py), so a
monitor reads the same line whichever ran the action."""

from ...layout import format_log_line, instance_label


def append_error_line(client, bucket, key, seconds, message, source="local_backend.py"):
    """Append `[seconds] [ERROR] [<source>] message` to the log at `key` (made if absent)."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        body = b""
    if body and not body.endswith(b"\n"):
        body += b"\n"
    line = format_log_line(seconds, "ERROR", source, message)
    client.put_object(Bucket=bucket, Key=key, Body=body + line.encode() + b"\n")


def append_did_not_finish(client, bucket, key, seconds, action, rank, reason, source="local_backend.py"):
    """The ERROR line of an action instance that ended without finishing, and why."""
    append_error_line(client, bucket, key, seconds,
                      f"Action {instance_label(action, rank)} did not finish: {reason}", source)
