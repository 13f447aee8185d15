"""Dagster definitions contributed by the attest area: the `attestations` asset and its check."""


import datetime as dt
import re
from pathlib import Path
from typing import Any

import dagster as dg

from lumen.resources.signer import LumenSigner
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.intoto import LAYOUT_FILE, chain_paths, sign_day_links
from lumen_assets.attest.keys import TrustError
from lumen_assets.attest.sigstore_bundle import publish_sigstore_trust
from lumen_assets.keys import asset_key
from lumen_assets.partitions import DAILY_FRESHNESS, daily_partitions
from lumen_assets.tables import metadata_table

PRODUCERS = ("daily_report", "archive_bundle", "effect_posteriors", "effect_posteriors_conjugate")
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")
CODE_VERSION = "attest-1"


def _materials(workspace: LumenWorkspace, day: str | None) -> list[dict[str, Any]]:
    """What an artefact was made from, as in-toto ResourceDescriptors with each file's real sha256: the rules
    history, the metrics store's cursor, and the store's Parquet parts of the artefact's reporting day (the UTC
    days it spans; all days for an artefact without one). Not logs/metrics.csv: a year of it is 9.5 GB, hashed
    again on every run because the loop keeps appending to it, while the store's parts are written once and
    their digests cached (`step_records.cached_record`); the cursor names the CSV bytes they hold."""
    from lumen_assets.attest.step_records import cached_record

    config = workspace.config
    paths = chain_paths(config)
    if day:
        local = dt.date.fromisoformat(day)
        start = dt.datetime.combine(local, dt.time(), config.tz).astimezone(dt.UTC)
        end = dt.datetime.combine(local + dt.timedelta(days=1), dt.time(), config.tz).astimezone(dt.UTC)
        utc_days = sorted({start.date(), (end - dt.timedelta(microseconds=1)).date()})
        parts = [f"{paths.metrics_store}/date={d.isoformat()}/*.parquet" for d in utc_days]
    else:
        parts = [f"{paths.metrics_store}/date=*/*.parquet"]
    found = cached_record(workspace.root_path, paths,
                          [paths.rules_history, f"{paths.metrics_store}/_ingest_state.json", *parts])
    return [{"uri": rel, "digest": digest} for rel, digest in found.items()]


def _produced_by(instance: dg.DagsterInstance, asset: str, partition: str | None) -> dict[str, Any] | None:
    """The latest materialisation of the producing asset (partition-aware), for the predicate."""
    try:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key(asset), asset_partitions=[partition] if partition else None),
            limit=1,
        ).records
    except Exception:  # noqa: BLE001 - provenance is best effort; the attestation itself must not fail on it
        return None
    if not records:
        return None
    record = records[0]
    materialization = record.asset_materialization
    tags = materialization.tags if materialization and materialization.tags else {}
    return {
        "assetKey": asset_key(asset).to_user_string(),
        "partition": materialization.partition if materialization else partition,
        "runId": record.run_id,
        "codeVersion": tags.get("dagster/code_version"),
        "dataVersion": tags.get("dagster/data_version"),
        "materializedAt": dt.datetime.fromtimestamp(record.timestamp, dt.UTC).isoformat(),
    }


@dg.asset(
    key="attestations",
    group_name="trust",
    deps=[dg.AssetKey(name) for name in PRODUCERS],
    kinds={"in-toto", "dsse"},
    owners=["team:lumen"],
    code_version=CODE_VERSION,
    description=(
        "A signed in-toto Statement v1 in a DSSE envelope for every report, archive bundle and posterior "
        "file: attest/<path>.dsse.json (seed segD §7, with the standard PAE the seed got wrong); with a P-256 "
        "signer the transparency log then adds attest/<path>.sigstore.json for stock `sigstore verify`."
    ),
)
def attestations(context: dg.AssetExecutionContext, workspace: LumenWorkspace, signer: LumenSigner) -> dg.MaterializeResult:
    from lumen_assets.attest.issue import attest_artifact, find_artifacts

    config = workspace.config
    settings = config.attest
    root = workspace.root_path
    try:
        active = signer.signer()
    except TrustError as exc:
        raise dg.Failure(description=workspace.scrub(f"no usable signer: {exc}")) from exc
    materials: dict[str | None, list[dict[str, Any]]] = {}  # per reporting day
    rows, created = [], 0
    for spec in settings.artifacts:
        for rel in find_artifacts(root, [spec.glob], spec.exclude):
            match = _DAY.search(Path(rel).name) or _DAY.search(rel)
            partition = match.group(1) if match else None
            if partition not in materials:
                materials[partition] = _materials(workspace, partition)
            result = attest_artifact(
                root, rel, active, attest_dir=settings.attest_dir, asset_key=asset_key(spec.asset).to_user_string(), partition=partition,
                run_id=context.run.run_id, code_version=CODE_VERSION, config_digest=config.digest(),
                materials=materials[partition], produced_by=_produced_by(context.instance, spec.asset, partition),
            )
            created += result.created
            rows.append((rel, result.sha256[:16], "new" if result.created else "unchanged"))
    try:  # trust_config.json + sigstore.json follow the trust folder (new root, rotated roots, log key)
        publish_sigstore_trust(root / settings.trust_dir, settings.sigstore.identity, settings.sigstore.issuer,
                               trust_rel=settings.trust_dir)
    except TrustError as exc:
        context.log.warning(f"no Sigstore trust root (bundles need a P-256 root and signer): {exc}")
    table = metadata_table([("artefact", "string"), ("sha256", "string", "first hex digits"), ("envelope", "string")], rows)
    if not rows:
        context.log.warning("no artefact matched attest.artifacts yet; nothing to attest")
    return dg.MaterializeResult(
        metadata={
            "attested": dg.MetadataValue.int(len(rows)),
            "new_envelopes": dg.MetadataValue.int(created),
            "signer_serial": dg.MetadataValue.text(f"{active.cert.serial_number:x}"),
            "signer_keyid": dg.MetadataValue.text(active.keyid),
            "envelopes": table,
            "attest_dir": dg.MetadataValue.path(workspace.rel(root / settings.attest_dir)),
        }
    )


@dg.asset(
    key="in_toto_links",
    group_name="trust",
    partitions_def=daily_partitions,
    output_required=False,  # a day with no report (no data) has nothing to sign: skipped, as the report is
    freshness_policy=DAILY_FRESHNESS,  # in_toto_links_job at 09:50 every day
    deps=[dg.AssetKey("daily_report"), dg.AssetKey("archive_bundle")],
    kinds={"in-toto"},
    owners=["team:lumen"],
    code_version=CODE_VERSION,
    description=(
        "Signs the day's pipeline as in-toto links: each step (ingest, effects, posteriors, evidence, report, "
        "archive) recorded its materials and products as it ran; the pipeline signer signs them into "
        "attest/in-toto/<day>/<step>.<keyid>.link, verified by stock `in-toto-verify` against the root-signed "
        "attest/in-toto/root.layout (`lumen keys sign-layout`)."
    ),
)
def in_toto_links(context: dg.AssetExecutionContext, workspace: LumenWorkspace, signer: LumenSigner):
    from lumen_assets.attest.step_records import StepRecordError

    config = workspace.config
    root = workspace.root_path
    day = context.partition_key
    try:
        active = signer.signer()
    except TrustError as exc:
        raise dg.Failure(description=workspace.scrub(f"no usable signer: {exc}")) from exc
    paths = chain_paths(config)
    try:
        written, missing = sign_day_links(root, paths, day, active.key)
    except StepRecordError as exc:
        raise dg.Failure(description=workspace.scrub(str(exc)), allow_retries=False) from exc
    if not written and not any((root / rel).exists() for rel in paths.report_files(day)):
        skipped = f"{day} has no report (a day without data is never reported), so no step recorded a link for it"
        context.log.info(skipped)
        yield dg.AssetObservation(asset_key=asset_key("in_toto_links"), partition=day, metadata={"skipped": skipped})
        return
    if not written:
        raise dg.Failure(
            description=f"no step recorded a link for {day}: materialise daily_report and archive_bundle for {day} "
                        "(the report freezes the upstream steps' records into the day)", allow_retries=False)
    if missing:
        context.log.warning(f"{day}: no record from step(s) {', '.join(missing)}; in-toto-verify will name them "
                            "(materialise them, then the day's daily_report, archive_bundle and in_toto_links)")
    layout = root / paths.links_dir / LAYOUT_FILE
    if not layout.exists():
        context.log.warning(f"{workspace.rel(layout)} is missing: sign it with `lumen keys sign-layout --root DIR --workspace W`")
    yield dg.MaterializeResult(metadata={
        "links": metadata_table([("link", "string")], [(path.name,) for path in written]),
        "steps_missing": ", ".join(missing) or "none",
        "link_dir": dg.MetadataValue.path(f"{paths.links_dir}/{day}"),
        "layout_present": dg.MetadataValue.bool(layout.exists()),
        "verify_with": dg.MetadataValue.text(
            f'cd "$(mktemp -d)" && LUMEN_WORKSPACE=W in-toto-verify --layout W/{paths.links_dir}/{LAYOUT_FILE} '
            f"--verification-keys W/{config.attest.trust_dir}/layout.pub.pem --link-dir W/{paths.links_dir}/{day}"),
    })
