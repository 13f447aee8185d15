"""Dagster definitions contributed by the archive area: `archive_bundle` (daily) and its three checks.

The checks are `check_specs` of the asset, evaluated in the same step for the same partition (Dagster's
partitioned standalone asset checks are still a preview feature in 1.13).

Thin layer over the pure modules: `freeze` builds the day, `remote` names and checks the stored copy,
`verify` re-reads everything from the archive, `retention` plans GFS pruning (seed segC C2-C6, C13).
"""

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import dagster as dg

from lumen.resources.archive_store import ArchiveStoreResource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive.encryption import EncryptionError
from lumen_assets.archive.freeze import INDEX_NAME, FreezeResult, freeze_day
from lumen_assets.archive.index import read_index, record_remote
from lumen_assets.archive.rclone import RcloneError
from lumen_assets.archive.remote import META_STORED, object_key, object_metadata, stored_file, verify_remote
from lumen_assets.archive.settings import ArchiveSettings
from lumen_assets.archive.tarball import FreezeError
from lumen_assets.archive.verify import Problem, verify_day
from lumen_assets.attest.step_records import chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.config import LumenConfig
from lumen_assets.ingest.coverage import no_data_reason
from lumen_assets.keys import asset_key
from lumen_assets.partitions import (
    DAILY_FRESHNESS,
    daily_partitions,
    skipped_checks,
)
from lumen_assets.tables import metadata_table

INTEGRITY_CHECK = "archive_bundle_integrity"
REMOTE_CHECK = "archive_remote_matches"
RETENTION_CHECK = "archive_retention_compliance"
PERMANENT_S3_ERRORS = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "InvalidBucketName")


def tar_mtime(day: str, config: LumenConfig) -> int:
    """Every member's mtime: the partition day's midnight in the reporting timezone (deterministic bytes)."""
    return int(datetime.combine(date.fromisoformat(day), time(), config.tz).timestamp())


def never_bundled(config: LumenConfig, root: Path) -> list[str]:
    """Dagster's storage, Lumen's state and the local store are never part of a bundle."""
    dirs = [config.paths.dagster_home, config.paths.state_dir]
    local = Path(config.archive.store.local_dir)
    if not local.is_absolute():
        dirs.append(local.as_posix())
    return [d.strip("/") + "/" for d in dirs]


def _portable_uri(workspace: LumenWorkspace, uri: str) -> str:
    """A local store's `file://` URI inside the workspace as a workspace-relative path (issue 11 §4)."""
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return workspace.rel(unquote(urlparse(uri).path))
    return uri


def freeze_partition(
    workspace: LumenWorkspace, store_resource: ArchiveStoreResource, day: str, now: datetime | None = None
) -> tuple[FreezeResult, str | None, str | None]:
    """Freeze `day` and copy it to the configured store; returns (result, object key, object uri)."""
    config = workspace.config
    settings = config.archive
    root = workspace.root_path
    secret = store_resource.encryption_key if settings.encryption.enable else None
    result = freeze_day(
        root,
        day,
        settings,
        created_at=(now or datetime.now(config.tz)).isoformat(),
        tar_mtime=tar_mtime(day, config),
        never=never_bundled(config, root),
        secret=secret,
    )
    store = store_resource.store()
    if store is None:
        return result, None, None
    key = object_key(settings.store.prefix, day, result.stored_path.name)
    metadata = object_metadata(result.manifest)
    uri = store.put(key, result.stored_path, metadata)
    # the handshake's local half (seed segC C4 remote_index.jsonl): where the copy went and its digest
    record_remote(root / settings.archive_dir / INDEX_NAME, day, {
        "store": workspace.scrub(store.description), "key": key, "uri": _portable_uri(workspace, uri),
        "stored_sha256": metadata[META_STORED],
        "uploaded_at": (now or datetime.now(config.tz)).isoformat(),
    })
    return result, key, uri


@dg.asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    group_name="trust",
    kinds={"python", "s3"},
    owners=["team:lumen"],
    deps=[
        "metrics",
        "rule_events",
        "gateway_state",
        dg.AssetDep("rule_effects", partition_mapping=dg.AllPartitionMapping()),
        "quote_bank",
        "risk_ledger",
        "daily_report",
    ],
    output_required=False,  # a day with no metrics and no rule events is skipped, never bundled empty
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.LINEAR),  # seed `retry.py 3 5`
    check_specs=[
        dg.AssetCheckSpec(
            INTEGRITY_CHECK, asset="archive_bundle", blocking=True,
            description="Re-reads the day's archive: manifest anchor, SHA256SUMS, Merkle root, every tar member, "
            "the encrypted copy (decrypted when the key is set).",
        ),
        dg.AssetCheckSpec(
            REMOTE_CHECK, asset="archive_bundle", blocking=True,
            description="Downloads the day's stored object and checks its bytes and metadata against the manifest.",
        ),
        dg.AssetCheckSpec(
            RETENTION_CHECK, asset="archive_bundle",
            description="GFS retention (keep_days / keep_weekly / keep_monthly): WARN while bundles await pruning.",
        ),
    ],  # fmt: skip
    description=(
        "The day's frozen workspace (archive/YYYY-MM-DD/): a deterministic tar of the configured sources, "
        "snapshot.manifest.json with per-file sha256 and an RFC 9162 Merkle root, SHA256SUMS.txt, an optional "
        "streaming AES-256-GCM copy, uploaded to the archive store (local folder or S3) as one object per day."
    ),
)
def archive_bundle(context: dg.AssetExecutionContext, workspace: LumenWorkspace, archive_store: ArchiveStoreResource):
    day = context.partition_key
    span = context.partition_time_window
    skipped = no_data_reason(day, workspace.layout.metrics_store,
                             workspace.path(workspace.config.paths.rules_history), span.start, span.end)
    if skipped:
        context.log.info(skipped)
        yield dg.AssetObservation(asset_key=asset_key("archive_bundle"), partition=day, metadata={"skipped": skipped})
        yield from skipped_checks(asset_key("archive_bundle"), (INTEGRITY_CHECK, REMOTE_CHECK, RETENTION_CHECK), skipped)
        return
    yield _freeze_and_check(context, workspace, archive_store, day)


def _freeze_and_check(
    context: dg.AssetExecutionContext, workspace: LumenWorkspace, archive_store: ArchiveStoreResource, day: str,
) -> dg.MaterializeResult:
    try:
        result, key, uri = freeze_partition(workspace, archive_store, day)
    except (FreezeError, EncryptionError) as exc:  # a config or source problem: retrying will not help
        raise dg.Failure(description=workspace.scrub(str(exc)), allow_retries=False) from exc
    except RcloneError as exc:  # rclone's exit code says whether a retry can help
        if exc.permanent:
            raise dg.Failure(description=f"archive upload refused: {exc}", allow_retries=False) from exc
        raise
    except Exception as exc:
        if any(code in str(exc) for code in PERMANENT_S3_ERRORS):  # bad credentials or bucket: do not retry
            raise dg.Failure(description=f"archive upload refused: {exc}", allow_retries=False) from exc
        raise  # network trouble: the RetryPolicy tries again
    manifest = result.manifest
    # the in-toto archive step: materials are the files as they went into the tar (the manifest's digests)
    record_step(workspace.root_path, chain_paths(workspace.config), "archive_bundle", day=day,
                materials={entry.path: entry.sha256 for entry in result.entries},
                environment={"run_id": context.run.run_id, "merkle_root": manifest["merkle"]["root"]})
    name, stored_sha, stored_size, fmt = stored_file(manifest)
    rows = [(e.path, e.size, e.sha256[:16]) for e in result.entries]
    context.log.info(f"froze {len(result.entries)} files ({result.total_bytes} bytes) into {workspace.rel(result.day_dir)}")
    metadata: dict[str, Any] = {
        "day": day,
        "files": len(result.entries),
        "bytes": result.total_bytes,
        "merkle_root": manifest["merkle"]["root"],
        "stored_file": name,
        "stored_sha256": stored_sha,
        "stored_bytes": stored_size,
        "format": fmt,
        "manifest_sha256": result.manifest_sha256,
        "bundle_dir": dg.MetadataValue.path(workspace.rel(result.day_dir)),
        "contents": metadata_table([("path", "string"), ("bytes", "int"), ("sha256_prefix", "string", "first 16 hex digits")], rows),
    }
    if manifest["bundle"]["sha256"] is not None:  # a sealed-only bundle has none (AES-GCM authenticates it)
        metadata["bundle_sha256"] = manifest["bundle"]["sha256"]
    if result.skipped:
        metadata["skipped"] = metadata_table([("path", "string"), ("why", "string")], result.skipped)
    if uri:
        metadata["remote_uri"] = dg.MetadataValue.url(uri) if uri.startswith(("s3://", "http")) else _portable_uri(workspace, uri)
        metadata["remote_key"] = key
    check_results = [
        integrity_result(workspace, archive_store, day),
        remote_result(workspace, archive_store, day),
        retention_result(workspace, archive_store),
    ]
    return dg.MaterializeResult(
        metadata=metadata, data_version=dg.DataVersion(manifest["merkle"]["root"]), check_results=check_results
    )


def _problems_md(problems: list[Problem]) -> dg.TableMetadataValue:
    return metadata_table([("file", "string"), ("problem", "string")], [(p.name, p.reason) for p in problems])


def integrity_result(workspace: LumenWorkspace, store_resource: ArchiveStoreResource, day: str) -> dg.AssetCheckResult:
    """Bundle vs manifest vs SHA256SUMS vs Merkle root vs index anchor (and decryption when the key is set)."""
    settings: ArchiveSettings = workspace.config.archive
    archive_root = workspace.root_path / settings.archive_dir
    secret = store_resource.encryption_key
    report = verify_day(archive_root / day, read_index(archive_root / "index.jsonl").get(day), secret)
    metadata: dict[str, Any] = {"day": day, "files": report.files, "problems": len(report.problems)}
    if report.problems:
        metadata["failures"] = _problems_md(report.problems)
    if report.notes:
        metadata["notes"] = "; ".join(report.notes)
    if report.manifest:
        metadata["merkle_root"] = report.manifest["merkle"]["root"]
    first = str(report.problems[0]) if report.problems else ""
    return dg.AssetCheckResult(
        check_name=INTEGRITY_CHECK, passed=report.ok, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
        description=described(
            report.ok, f"the {day} bundle's {report.files} files match its manifest, SHA256SUMS and Merkle root",
            f"the {day} bundle does not match its manifest ({len(report.problems)} problem(s); first: {first})",
            f"run `lumen archive verify {day} --workspace .` to see every problem; restore the bundle from the "
            f"remote copy, or re-materialise archive_bundle for {day} if the day's sources are intact"),
    )


def _store_hint(kind: str) -> str:
    """Where to look when the remote copy keeps failing, in the store's own terms."""
    if kind == "rclone":
        return ("check the rclone remote (`rclone lsf <remote>:` with the same rclone config / RCLONE_CONFIG_<REMOTE>_* "
                "environment) and its credentials")
    if kind == "s3":
        return "check the bucket and the AWS credentials in the environment"
    return "check the store folder (archive.store.local_dir) and its disk"


def remote_result(workspace: LumenWorkspace, store_resource: ArchiveStoreResource, day: str) -> dg.AssetCheckResult:
    """The stored object's metadata and bytes (downloaded and hashed, decrypted with the key) match the manifest."""
    from lumen_assets.archive.manifest import MANIFEST_NAME, ManifestError, parse_manifest

    settings = workspace.config.archive
    root = workspace.root_path
    store = store_resource.store()
    if store is None:
        return dg.AssetCheckResult(
            check_name=REMOTE_CHECK, passed=True, severity=dg.AssetCheckSeverity.ERROR, metadata={"store": "none configured"},
            description=nothing_to_compare("archive.store is none: there is no remote copy to verify"),
        )
    manifest_path = root / settings.archive_dir / day / MANIFEST_NAME
    try:
        manifest, _ = parse_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
    except (OSError, ManifestError) as exc:
        return dg.AssetCheckResult(
            check_name=REMOTE_CHECK, passed=False, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"day": day, "error": str(exc)},
            description=described(False, "", f"the {day} manifest cannot be read: {exc}",
                                  f"re-materialise archive_bundle for {day}, then this check compares the remote copy"),
        )  # fmt: skip
    key = object_key(settings.store.prefix, day, stored_file(manifest)[0])
    problems, notes = verify_remote(store, key, manifest, store_resource.encryption_key)
    metadata: dict[str, Any] = {"day": day, "store": workspace.scrub(store.description), "key": key, "problems": len(problems)}
    if problems:
        metadata["failures"] = _problems_md(problems)
    if notes:
        metadata["notes"] = "; ".join(notes)
    return dg.AssetCheckResult(
        check_name=REMOTE_CHECK, passed=not problems, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
        description=described(
            not problems, f"the stored {key} matches the {day} manifest ({workspace.scrub(store.description)})",
            f"the stored copy {key} does not match the {day} manifest: {workspace.scrub(str(problems[0])) if problems else ''}",
            f"re-materialise archive_bundle for {day} to upload it again (the local bundle verifies first); "
            f"if it keeps failing, {_store_hint(settings.store.kind)}"),
    )


def retention_result(workspace: LumenWorkspace, store_resource: ArchiveStoreResource) -> dg.AssetCheckResult:
    """WARN when local or remote bundles exist that the GFS policy says should have been pruned."""
    from lumen_assets.archive.prune import prune

    config = workspace.config
    store = store_resource.store()
    outcome = prune(workspace.root_path, config, store, today=datetime.now(config.tz).date(), apply=False)
    rows = [(d, "local" if d in outcome.local_remove else "", "remote" if d in outcome.remote_remove else "") for d in outcome.all_remove]
    metadata: dict[str, Any] = {
        "kept": len(outcome.plan.keep),
        "to_prune": len(outcome.all_remove),
        "policy": f"{config.archive.retention.keep_days} daily / {config.archive.retention.keep_weekly} weekly / "
        f"{config.archive.retention.keep_monthly} monthly",
    }
    if rows:
        metadata["prune_candidates"] = metadata_table([("day", "string"), ("local", "string"), ("remote", "string")], rows)
    return dg.AssetCheckResult(
        check_name=RETENTION_CHECK, passed=not rows, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
        description=nothing_to_compare("no bundles yet") if not outcome.plan.keep and not rows else described(
            not rows, f"{len(outcome.plan.keep)} bundle(s) kept, none past the retention policy",
            f"{len(rows)} bundle(s) are past the retention policy ({metadata['policy']})",
            "review `lumen archive prune --workspace .` (a dry run), then `lumen archive prune --apply`"),
    )
