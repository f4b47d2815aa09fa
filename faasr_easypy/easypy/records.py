"""What a task's record says about S3: its function logs (cut at LOG_LIMIT) and the
outputs of its invocation, listed by the task or, for the job's embedded S3, once by
the job for every task (fill_outputs)."""

import logging
from pathlib import Path

from ..report.results_file import write_record

log = logging.getLogger(__name__)

LOG_LIMIT = 64 * 1024             # bytes of each function log kept in a record
S3_LIST_LIMIT = 5000
OUTPUT_BUCKETS = "s3_buckets"     # in a record: buckets whose outputs the job still has to list


def _read_log(client, bucket, key, final=None):
    """The first LOG_LIMIT bytes of a log: from `final` (the monitor's copy of a log that can
    no longer change: no second download) or from S3."""
    if not key:
        return None, False
    try:
        body = final[:LOG_LIMIT + 1] if final is not None else \
            client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{LOG_LIMIT}")["Body"].read()
    except Exception:
        return None, False
    truncated = len(body) > LOG_LIMIT
    text = body[:LOG_LIMIT].decode("utf-8", "replace")
    if truncated:
        text += f"\n[... cut at {LOG_LIMIT // 1024} KiB; the full log is s3://{bucket}/{key}]\n"
    return text, truncated


def _outputs(client, stores, runner):
    """Objects of this invocation outside its log folder (keys holding the InvocationID)."""
    out, seen = [], set()
    log_root = runner.layout.log_root
    for store in stores.values():
        if store.bucket in seen:
            continue
        seen.add(store.bucket)
        try:
            objects = _objects_outside_log_trees(client, store.bucket, {log_root})
        except Exception as exc:
            log.debug("listing outputs in %s failed: %s", store.bucket, exc)
            continue
        out += _outputs_of(objects, store.bucket, runner.invocation_id, runner.layout.prefix)
    return out


def _objects_outside_log_trees(client, bucket, log_roots):
    """Every object of `bucket` but those under a FaaSr log root (`{FaaSrLog}/...`).

    The log tree holds every invocation's logs and `.done` files, most of a bucket's
    keys in a job of many workflows, and no outputs: skipping it keeps the listing
    to the outputs."""
    skip = {root.strip("/") + "/" for root in log_roots}
    top = client.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1000)
    objects = list(top.get("Contents", ()))
    prefixes = [p["Prefix"] for p in top.get("CommonPrefixes", ()) if p["Prefix"] not in skip]
    if top.get("IsTruncated"):  # too many top-level entries: list it all
        objects, prefixes = [], [""]
    paginator = client.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix,
                                       PaginationConfig={"MaxItems": S3_LIST_LIMIT}):
            objects.extend(page.get("Contents", ()))
    return objects


def _outputs_of(objects, bucket, invocation_id, log_prefix):
    return [{"key": o["Key"], "size": o["Size"], "bucket": bucket} for o in objects
            if invocation_id in o["Key"] and not o["Key"].startswith(log_prefix)]


def fill_outputs(records, ctx, directory=None):
    """Job process, post_job: outputs of the tasks that left them to the job.

    A task whose stores are all the job's embedded S3 writes ``s3_objects: null``
    and its buckets; here every such bucket is listed once for all tasks, instead
    of once per task. `records` ({taskid: record}) are completed in place, and
    their files in the run `directory` rewritten."""
    pending = {t: r for t, r in records.items() if OUTPUT_BUCKETS in r}
    if not pending:
        return
    death = ctx.s3_death()
    if death:  # nothing to list: say why once, instead of a connection error per bucket
        log.warning("faasr-easypy: the outputs of %d workflow task(s) are not listed: %s", len(pending), death)
    listed = {}
    client = None
    roots = {_log_root(r.get("invocation_folder")) for r in pending.values()} - {None}
    for taskid, record in sorted(pending.items()):
        buckets = record.pop(OUTPUT_BUCKETS) or []
        found = []
        for bucket in buckets:
            if bucket not in listed:
                listed[bucket] = []
                if death:
                    continue
                try:
                    if client is None:
                        from ..s3.client import make_client

                        client = make_client(ctx.s3.store("job", bucket))
                    listed[bucket] = _objects_outside_log_trees(client, bucket, roots)
                except Exception as exc:
                    log.warning("faasr-easypy: listing the outputs in bucket %s failed: %s", bucket, exc)
            if record.get("invocation_id"):
                found += _outputs_of(listed[bucket], bucket, record["invocation_id"],
                                     (record.get("invocation_folder") or "").rstrip("/") + "/")
        record["s3_objects"] = found
        if directory is not None:
            try:
                write_record(directory, taskid, record, redact=ctx.redact_data)
            except Exception:
                log.exception("faasr-easypy: updating the record of task %s failed", taskid)


def _log_root(invocation_folder):
    """'FaaSrLog/WF/<timestamp>/<id>' -> 'FaaSrLog'."""
    parts = (invocation_folder or "").strip("/").split("/")
    return "/".join(parts[:-3]) if len(parts) > 3 else None


def _relative(path, root):
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)
