"""The ERROR line an executor appends to an action's log when the action could not write it
itself (it died, was killed, its SLURM job ended): one copy for the fork server and the SLURM
cluster executor, so a monitor reads the same line whichever ran the action."""

from ...layout import format_log_line


def append_error_line(client, bucket, key, seconds, message):
    """Append `[seconds] [ERROR] [local_backend.py] message` to the log at `key` (made if absent)."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        body = b""
    if body and not body.endswith(b"\n"):
        body += b"\n"
    line = format_log_line(seconds, "ERROR", "local_backend.py", message)
    client.put_object(Bucket=bucket, Key=key, Body=body + line.encode() + b"\n")
