"""The archive store for `archive.store.kind: s3`: `ArchiveStoreResource` with dagster-aws's `S3Resource` nested.

A module of its own because dagster_aws imports boto3 at import time: `archive_store_resource` imports it
only when the config names S3, so the default code location loads without boto3 (tests/test_definitions.py),
and a code location that does archive to S3 pays for boto3 once, at load (bench/import_time.py --s3).

The nested resource shows in the UI under `archive_store` like any Dagster resource; its credentials are
`dg.EnvVar("AWS_ACCESS_KEY_ID")` / `dg.EnvVar("AWS_SECRET_ACCESS_KEY")` when set (lumen.resources.secrets),
else boto3's default chain (instance profile, ~/.aws) applies.
"""

from __future__ import annotations

from dagster_aws.s3 import S3Resource

from lumen.resources.archive_store import ArchiveStoreResource, BundleStore, S3Store
from lumen.resources.secrets import env_secret
from lumen_assets.archive.settings import S3Settings


class S3ArchiveStoreResource(ArchiveStoreResource):
    """Archive bundles in an S3-compatible bucket through the nested `s3` resource (endpoint, region and
    credentials); bucket, prefix and server-side encryption come from `archive.store.s3` at run time."""

    s3: S3Resource

    def s3_store(self, s3: S3Settings) -> BundleStore:
        return S3Store(self.s3.get_client(), s3.bucket, s3.sse, s3.kms_key_id)


def s3_resource(settings: S3Settings) -> S3Resource:
    """dagster-aws's S3Resource for `archive.store.s3`: endpoint and region from config, secrets as EnvVars."""
    return S3Resource(
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=env_secret("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env_secret("AWS_SECRET_ACCESS_KEY"),
    )
