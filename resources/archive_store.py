"""Where archive bundles are copied: a local folder (embedded default), any S3-compatible bucket, or any rclone
remote (Google Drive, Dropbox, ...: `lumen_assets/archive/rclone.py`).

S3 goes through dagster-aws `S3Resource`, built by `S3ArchiveStoreResource` (resources/archive_s3.py; seed
segC C5 wrapped a bare boto3 client): endpoint, region, bucket and prefix come from `archive.store` in
config/lumen.yaml; credentials only from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY as
`dg.EnvVar` fields of that resource, else boto3's own chain), never from config files.
Uploads stream from disk (boto3 multipart), downloads are read in chunks, so memory stays bounded.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import dagster as dg

from lumen.resources.secrets import env_secret
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive.remote import META_STORED
from lumen_assets.archive.settings import S3Settings, StoreSettings
from lumen_assets.atomic import atomic_open, atomic_write_text


class BundleStore(Protocol):
    description: str

    def put(self, key: str, path: Path, metadata: dict[str, str]) -> str: ...

    def head(self, key: str) -> dict[str, str] | None: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def list_keys(self, prefix: str) -> Iterator[str]: ...


class LocalFolderStore:
    """Objects as files under a folder, metadata in a `<object>.meta.json` sidecar."""

    META_SUFFIX = ".meta.json"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"local folder {root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        path.relative_to(self.root.resolve())  # raises for keys escaping the store
        return path

    def put(self, key: str, path: Path, metadata: dict[str, str]) -> str:
        target = self._path(key)
        with open(path, "rb") as source, atomic_open(target, "wb") as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
        atomic_write_text(Path(f"{target}{self.META_SUFFIX}"), json.dumps(metadata, sort_keys=True))
        return target.as_uri()

    def head(self, key: str) -> dict[str, str] | None:
        target = self._path(key)
        if not target.exists():
            return None
        meta = Path(f"{target}{self.META_SUFFIX}")
        return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        target = self._path(key)
        target.unlink(missing_ok=True)
        Path(f"{target}{self.META_SUFFIX}").unlink(missing_ok=True)

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(self.META_SUFFIX) and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()


class _Body:
    """A readable, closable view of an S3 object body."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self._body.close()


class S3Store:
    """One bucket through a boto3 client (from dagster-aws S3Resource); optional SSE as in seed segC C6."""

    def __init__(self, client: Any, bucket: str, sse: str = "none", kms_key_id: str | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.description = f"s3://{bucket}"

    SINGLE_PUT_LIMIT = 5 << 30  # S3's largest single PUT

    def put(self, key: str, path: Path, metadata: dict[str, str]) -> str:
        """Upload with S3's SHA-256 checksum, so the store itself rejects bytes that are not the ones frozen.

        Up to 5 GiB: one streamed PUT carrying `x-amz-checksum-sha256` = the digest recorded at freeze time
        (metadata `lumen-stored-sha256`), so a file corrupted on disk after the freeze, or bytes damaged on
        the way, are refused (BadDigest) and nothing is stored. Larger: a multipart upload with
        ChecksumAlgorithm SHA256 (each part checked by the store against the digest boto3 computes as it
        reads it); the freeze-time digest is then compared by `verify --remote`.
        """
        extra: dict[str, Any] = {"Metadata": metadata}
        if self.sse != "none":
            extra["ServerSideEncryption"] = self.sse
            if self.sse == "aws:kms" and self.kms_key_id:
                extra["SSEKMSKeyId"] = self.kms_key_id
        expected = metadata.get(META_STORED)
        if expected and path.stat().st_size <= self.SINGLE_PUT_LIMIT:
            checksum = base64.b64encode(bytes.fromhex(expected)).decode("ascii")
            with open(path, "rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ChecksumSHA256=checksum, **extra)
        else:
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs={**extra, "ChecksumAlgorithm": "SHA256"})
        return f"s3://{self.bucket}/{key}"

    def head(self, key: str) -> dict[str, str] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=key).get("Metadata", {}))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def open(self, key: str) -> BinaryIO:
        return _Body(self.client.get_object(Bucket=self.bucket, Key=key)["Body"])  # type: ignore[return-value]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        stem = prefix.strip("/")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{stem}/" if stem else ""):
            for item in page.get("Contents", []):
                yield item["Key"]


class ArchiveStoreResource(dg.ConfigurableResource):
    """The store that `archive.store` in the workspace's config names (resource key `archive_store`), and the
    bundle encryption key (`encryption_key`, a `dg.EnvVar` from the variable `archive.encryption.env_key`
    names, lumen.resources.secrets).

    This class opens a local folder or an rclone remote. For `kind: s3` the code location binds its subclass
    `S3ArchiveStoreResource` (resources/archive_s3.py), which opens the bucket through dagster-aws's
    `S3Resource`, imported when a store is opened, not at load (why: resources/archive_s3.py;
    tests/resources/test_archive_store.py; bench/import_time.py --s3 prints the cost)."""

    workspace: LumenWorkspace
    encryption_key: str | None = None

    def store(self) -> BundleStore | None:
        """The configured store, or None when `kind: none`."""
        settings = self.workspace.config.archive.store
        if settings.kind == "none":
            return None
        if settings.kind == "local":
            local = Path(settings.local_dir)
            return LocalFolderStore(local if local.is_absolute() else self.workspace.root_path / local)
        if settings.kind == "rclone":  # Drive, Dropbox, ... (seed segC C3-C4); credentials are rclone's own
            from lumen_assets.archive.rclone import RcloneStore

            rc = settings.rclone
            return RcloneStore(rc.remote, binary=rc.binary, config_file=rc.config_file, flags=rc.flags, timeout_s=rc.timeout_s)
        return self.s3_store(settings.s3)

    def s3_store(self, s3: S3Settings) -> BundleStore:
        raise dg.Failure(
            description="archive.store.kind is s3, but the code location was loaded with another archive.store.kind "
            "(the config is read once at load): reload the code location to bind the S3 store",
            allow_retries=False,
        )


def archive_store_resource(workspace: LumenWorkspace, encryption_env: str = "LUMEN_ARCHIVE_KEY",
                           store: StoreSettings | None = None) -> ArchiveStoreResource:
    """The resource as the Definitions (and the `lumen archive` CLI) bind it: every secret a `dg.EnvVar`.

    `store` is the `archive.store` config the binding follows (default: `workspace`'s own config, which needs
    a workspace root known now); for `kind: s3` it is an `S3ArchiveStoreResource` (dagster-aws `S3Resource`)."""
    settings = store if store is not None else workspace.config.archive.store
    if settings.kind == "s3":
        from lumen.resources.archive_s3 import s3_archive_store

        return s3_archive_store(workspace, env_secret(encryption_env), settings.s3)
    return ArchiveStoreResource(workspace=workspace, encryption_key=env_secret(encryption_env))
