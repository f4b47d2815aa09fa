"""What the job process loads and creates before forking a task, so every task inherits it."""

import logging
import os

log = logging.getLogger(__name__)


def warm_s3_client():
    """Parses the S3 model into the process-wide boto3 session (which tasks inherit) and
    imports what botocore imports lazily on a first client."""
    from ..s3.client import DataStore, make_client

    make_client(DataStore(name="warm-up", bucket="warm-up", endpoint="http://127.0.0.1:9",
                          access_key="warm-up", secret_key="warm-up"))


class BeforeFork:
    """JobContext's warm-up and buckets (a mixin)."""

    def warm_up(self):
        """Job process, before the first fork: import what every task needs, and let
        botocore load its lazily imported modules once, so tasks inherit them."""
        if self._warm or os.getpid() != self.owner_pid:
            return
        self._warm = True
        from .. import runner, tester  # noqa: F401
        from ..backends import local  # noqa: F401
        from ..monitor import watch  # noqa: F401

        warm_s3_client()

    def prepare_buckets(self, workflow_path):
        """Job process: create the embedded S3's buckets a workflow needs, once per bucket,
        so tasks need not (a task that cannot load its workflow reports that itself)."""
        self.warm_up()
        if self.s3 is None or os.getpid() != self.owner_pid:
            return
        try:
            from ..placement.place import bucket_for
            from ..s3.client import DataStore
            from ..workflow import load_workflow

            workflow = load_workflow(workflow_path)
            resolved = self.testbed.resolve(workflow)
        except Exception:  # the task reports it, with its own message
            return
        for name, spec in resolved.stores.items():
            if not spec.embedded:
                continue
            bucket = bucket_for(workflow, name, spec)
            if bucket in self.ensured_buckets:
                continue
            store = DataStore(name=name, bucket=bucket, endpoint=self.s3.endpoint, region=self.s3.region,
                              access_key=self.s3.access_key, secret_key=self.s3.secret_key)
            try:
                self.s3.ensure_bucket(store)
                self.ensured_buckets.add(bucket)
            except Exception as exc:
                log.debug("could not create bucket %s before forking: %s", bucket, exc)
            self._prepare_clients(store)

    def _prepare_clients(self, store):
        """The S3 clients a task's runner and tester use, built once here and inherited,
        with botocore's paginator model loaded (else every task reads it from disk)."""
        from ..runner import monitor_client
        from ..s3.client import prime, shared_client

        try:
            prime(monitor_client(store))
            prime(shared_client(store))
        except Exception as exc:  # the task builds them itself
            log.debug("could not prepare S3 clients before forking: %s", exc)
