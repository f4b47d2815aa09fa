"""What a tester's object assertions read: the live bucket, or the bucket as of an instant.

A local run finishes an action and starts the next within milliseconds, so a
test that waits for `create-input` and then checks its output would race the
action that deletes that output. With S3 object versions the bucket's past is
still there: an :class:`AsOfView` answers from the newest version (or delete
marker) of each key written at or before an instant, e.g. the moment the
action's `.done` was written.

The instant comes from S3 itself, never from the harness's clock:
SeaweedFS (the embedded server) encodes the write time in nanoseconds in its
version ids, which orders writes exactly, also across keys; other servers give
LastModified, often only to the second, and the view says so.
"""

import re

from .s3.client import is_missing

_SEAWEED_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_INT64 = (1 << 63) - 1


def version_time_ns(version):
    """(nanoseconds since the epoch, exact?) of one entry of list_object_versions.

    SeaweedFS version ids start with 16 hex digits of MaxInt64 minus the write time in
    ns (so the newest sorts first); trusted when they agree with LastModified."""
    modified = version["LastModified"]
    coarse = int(modified.timestamp()) * 1_000_000_000 + modified.microsecond * 1000
    vid = version.get("VersionId") or ""
    if _SEAWEED_ID.match(vid):
        fine = _MAX_INT64 - int(vid[:16], 16)
        if abs(fine - coarse) < 2_000_000_000:
            return fine, True
    return coarse, False


def bucket_versioning(client, bucket):
    """True when `bucket` keeps object versions."""
    try:
        return client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    except Exception as exc:
        if getattr(exc, "response", None) is not None:
            return False  # S3 refused (no permission, or no such API): no versions to use
        raise


def enable_versioning(client, bucket):
    """Keep object versions in `bucket` (only for buckets the harness owns)."""
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def versions(client, bucket, prefix):
    """Every version and delete marker under `prefix`: [(key, time_ns, exact, id, is_marker, size)]."""
    out = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", ()):
            out.append((v["Key"], *version_time_ns(v), v["VersionId"], False, v.get("Size", 0)))
        for m in page.get("DeleteMarkers", ()):
            out.append((m["Key"], *version_time_ns(m), m["VersionId"], True, 0))
    return out


def latest_time(client, bucket, key):
    """(time_ns, exact) of the newest version of `key`, or None if it has none."""
    found = [v for v in versions(client, bucket, key) if v[0] == key]
    if not found:
        return None
    newest = max(found, key=lambda v: v[1])
    return newest[1], newest[2]


class LiveView:
    """The bucket as it is now."""

    exact = True

    def __init__(self, client, bucket, description="in the live bucket"):
        self.client = client
        self.bucket = bucket
        self.description = description

    def size(self, key):
        """Bytes of `key`, or None when it does not exist."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except Exception as exc:
            if is_missing(exc):
                return None
            raise

    def read(self, key):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:
            if is_missing(exc):
                return None
            raise

    def list(self, prefix, limit=1000):
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=limit)
        return [o["Key"] for o in page.get("Contents", ())]


class AsOfView(LiveView):
    """The bucket as it was at `instant_ns` (S3's clock): each key's newest version
    written at or before it; a delete marker there means the key did not exist."""

    def __init__(self, client, bucket, instant_ns, description, exact=True):
        super().__init__(client, bucket, description)
        self.instant_ns = instant_ns
        self.exact = exact

    def _current(self, prefix):
        """{key: (version id, size)} of the keys that existed at the instant, under `prefix`."""
        newest = {}
        for key, t, _exact, vid, marker, size in versions(self.client, self.bucket, prefix):
            # Ties (same LastModified second on a coarse server): the later listed is older.
            if t <= self.instant_ns and (key not in newest or t > newest[key][0]):
                newest[key] = (t, vid, marker, size)
        return {k: (vid, size) for k, (t, vid, marker, size) in newest.items() if not marker}

    def size(self, key):
        found = self._current(key).get(key)
        return None if found is None else found[1]

    def read(self, key):
        found = self._current(key).get(key)
        if found is None:
            return None
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key, VersionId=found[0])["Body"].read()
        except Exception as exc:
            if is_missing(exc):
                return None
            raise

    def list(self, prefix, limit=1000):
        return sorted(self._current(prefix))[:limit]
