"""Dagster definitions contributed by the tlog area: the `transparency_log` asset and its integrity checks."""


import hashlib
import json
import re
from pathlib import Path
from typing import Any

import dagster as dg

from lumen.resources.signer import LumenSigner
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.keys import TRUST_LOG_VKEY, TrustError
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.keys import SCHEDULED_ONLY, asset_key
from lumen_assets.tables import metadata_table
from lumen_assets.tlog.audit import AuditError, audit_increment, audit_log
from lumen_assets.tlog.checkpoint import CheckpointError, open_checkpoint
from lumen_assets.tlog.log import TransparencyLog
from lumen_assets.tlog.merkle import leaf_hash, verify_inclusion
from lumen_assets.tlog.publish import (
    ProofError,
    backfill_tiles,
    check_consistency,
    log_trust_files,
    read_latest_note,
    trust_files,
)
from lumen_assets.tlog.tiles import TILE_DIR

REPORT_NAME = re.compile(r"^report_(\d{4}-\d{2}-\d{2})\.(pdf|md)$")
INCLUSION_CHECK = "new_leaves_included"
CONSISTENCY_CHECK = "checkpoint_consistent"


def report_trust_observations(root: Path, config: Any, rels: list[str]) -> list[dg.AssetObservation]:
    """For each daily report among the artefacts just logged: an observation on its daily_report partition
    that says whether it is signed and logged (envelope digest, log index, checkpoint size, `lumen verify`
    result), with links to the attestation and log assets, so the report's own page answers it."""
    from lumen_assets.attest.verifier import TrustLayout, envelope_path, proof_path, verify_artifact

    layout = TrustLayout(config.attest.attest_dir, config.attest.trust_dir, config.tlog.dir, config.tlog.origin)
    reports_dir = Path(config.reports.reports_dir)
    by_day: dict[str, dict[str, Any]] = {}
    for rel in rels:
        match = REPORT_NAME.match(Path(rel).name)
        if not match or Path(rel).parent != reports_dir:
            continue
        day, kind = match.groups()
        envelope = envelope_path(root, rel, layout)
        proof_file = proof_path(root, rel, layout)
        proof = json.loads(proof_file.read_text()) if proof_file.exists() else {}
        report = verify_artifact(root / rel, root, layout, audit_log=False)
        entry = by_day.setdefault(day, {})
        entry[f"{kind}_envelope_sha256"] = hashlib.sha256(envelope.read_bytes()).hexdigest() if envelope.exists() else "none"
        entry[f"{kind}_log_index"] = int(proof.get("leaf_index", -1))
        entry[f"{kind}_checkpoint_size"] = int(proof.get("tree_size", 0))
        entry[f"{kind}_verified"] = "yes" if report.ok else "no: " + str(report.failure).replace(str(root) + "/", "")
    observations = []
    for day, entry in sorted(by_day.items()):
        verified = all(v == "yes" for k, v in entry.items() if k.endswith("_verified"))
        observations.append(dg.AssetObservation(
            asset_key=asset_key("daily_report"), partition=day,
            description=f"report {day}: signed and logged" + (", verified" if verified else ", NOT verified"),
            metadata={
                "signed_and_logged": "yes, verified by `lumen verify` (signature, chain, revocation, inclusion)"
                if verified else "logged, but verification failed: see *_verified",
                **entry,
                "attestations": dg.MetadataValue.asset(asset_key("attestations")),
                "transparency_log": dg.MetadataValue.asset(asset_key("transparency_log")),
            },
        ))
    return observations


@dg.asset(
    key="transparency_log",
    group_name="trust",
    deps=[dg.AssetKey("attestations")],
    kinds={"rfc9162"},
    owners=["team:lumen"],
    check_specs=[
        dg.AssetCheckSpec(INCLUSION_CHECK, asset="transparency_log", blocking=True,
                          description="every new leaf's inclusion proof verifies against the new checkpoint"),
        dg.AssetCheckSpec(CONSISTENCY_CHECK, asset="transparency_log", blocking=True,
                          description="the new checkpoint is consistent with the previous one (append-only)"),
    ],
    description=(
        "Append-only RFC 9162 Merkle log of the attestation envelopes under tlog/, a signed C2SP checkpoint "
        "after every append (tlog/checkpoint, history in tlog/checkpoints/), and attest/<path>.proof.json "
        "beside each envelope (seed segD §7.9, §8)."
    ),
)
def transparency_log(context: dg.AssetExecutionContext, workspace: LumenWorkspace, signer: LumenSigner) -> dg.MaterializeResult:
    from lumen_assets.attest.issue import log_envelopes, unlogged_envelopes

    config = workspace.config
    root = workspace.root_path
    try:
        name, key = signer.log_key()
    except TrustError as exc:
        raise dg.Failure(description=workspace.scrub(f"no usable log key: {exc}")) from exc
    vkey = (root / config.attest.trust_dir / TRUST_LOG_VKEY).read_text().strip()
    tlog_dir = root / config.tlog.dir
    # Certificates and CRLs are logged too, so a CRL rolled back to an older (still root-signed) one shows.
    if not (tlog_dir / TILE_DIR).exists() and (tlog_dir / "leaves.bin").exists():
        # A log from before entry bundles and tiles: publish them once from the entries still on disk.
        candidates = [p.read_bytes() for p in (root / config.attest.attest_dir).rglob("*.dsse.json")]
        candidates += [(root / rel).read_bytes() for rel, _ in trust_files(root, config.attest.trust_dir)]
        try:
            backfilled = backfill_tiles(tlog_dir, candidates)
        except ProofError as exc:
            raise dg.Failure(description=str(exc)) from exc
        context.log.info(f"published tiles and entry bundles for the {backfilled} leaves of an older log")
    previous_note = read_latest_note(tlog_dir)
    trust_logged = log_trust_files(root, config.attest.trust_dir, tlog_dir, config.tlog.origin, name, key)
    pending = unlogged_envelopes(root, config.attest.attest_dir)
    results = []
    for start in range(0, max(len(pending), 1), config.tlog.batch_size):
        results.append(log_envelopes(root, pending[start:start + config.tlog.batch_size], tlog_dir, config.tlog.origin,
                                     name, key, attest_dir=config.attest.attest_dir))
    last = results[-1]

    # Check 1: every new leaf verifies against the new checkpoint (re-read from disk, as a verifier would).
    failures = []
    try:
        checkpoint = open_checkpoint((tlog_dir / "checkpoint").read_text(), vkey, origin=config.tlog.origin)
    except CheckpointError as exc:
        checkpoint, failures = None, [f"checkpoint: {exc}"]
    leaves = [leaf for result in results for leaf in result.leaves]
    if checkpoint is not None:
        for leaf in leaves:
            rel = leaf["name"]
            envelope = (root / config.attest.attest_dir / (rel + ".dsse.json")).read_bytes()
            with TransparencyLog(tlog_dir) as log:
                proof = log.inclusion_proof(leaf["index"], checkpoint.tree_size)
            if not verify_inclusion(leaf_hash(envelope), leaf["index"], checkpoint.tree_size, proof, checkpoint.root_hash):
                failures.append(rel)
    # ... and the incremental audit: the new leaves recompute from their entry data, their index nodes,
    # entries.jsonl lines and tiles match (the full audit is the scheduled `tlog_full_audit` job).
    previous_checkpoint = None
    if previous_note is not None:
        try:
            previous_checkpoint = open_checkpoint(previous_note, vkey, origin=config.tlog.origin)
        except CheckpointError as exc:
            failures.append(f"previous checkpoint: {exc}")
    if checkpoint is not None:
        finding = audit_increment(tlog_dir, previous_checkpoint, checkpoint, label=config.tlog.dir)
        if finding is not None:
            failures.append(str(finding))
    inclusion = dg.AssetCheckResult(
        check_name=INCLUSION_CHECK, passed=not failures, severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("no new envelope was logged in this run") if not leaves and not failures
        else described(not failures, f"all {len(leaves)} new leaves verify against the new checkpoint",
                       f"{len(failures)} new leaf/leaves do not verify against the checkpoint (first: {failures[0] if failures else ''})",
                       f"do not publish {config.tlog.dir}/: restore it from the archive or its last good copy and "
                       "run `lumen verify` on the named artefacts; attestations downstream stay blocked"),
        metadata={"new_leaves": len(leaves), "trust_files_logged": len(trust_logged),
                  "failed": dg.MetadataValue.json(failures[:50])},
    )

    # Check 2: previous checkpoint -> new checkpoint is an append-only extension.
    consistent, detail = True, "first checkpoint"
    if previous_note is not None and checkpoint is not None:
        try:
            previous = open_checkpoint(previous_note, vkey, origin=config.tlog.origin)
            consistent = check_consistency(tlog_dir, previous, checkpoint)
            detail = f"{previous.tree_size} -> {checkpoint.tree_size}"
        except CheckpointError as exc:
            consistent, detail = False, f"previous checkpoint does not verify: {exc}"
    elif checkpoint is None:
        consistent, detail = False, "no verifiable checkpoint"
    consistency = dg.AssetCheckResult(
        check_name=CONSISTENCY_CHECK, passed=consistent, severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("this is the log's first checkpoint") if detail == "first checkpoint"
        else described(consistent, f"the new checkpoint extends the previous one ({detail})",
                       f"the log is not append-only: {detail}",
                       f"treat {config.tlog.dir}/ as tampered with: stop publishing it, compare it with the witnesses' "
                       "cosigned checkpoints and restore the last consistent copy"),
        metadata={"sizes": detail},
    )

    table = metadata_table(
        [("index", "int"), ("envelope_of", "string"), ("leaf_hash", "string", "first 16 hex digits")],
        [(leaf["index"], leaf["name"], leaf["leaf_hash"][:16]) for leaf in leaves], limit=200,
    )
    if checkpoint is not None:
        for observation in report_trust_observations(root, config, [leaf["name"] for leaf in leaves]):
            context.log_event(observation)
    return dg.MaterializeResult(
        metadata={
            "tree_size": dg.MetadataValue.int(last.checkpoint.tree_size),
            "root_hash": dg.MetadataValue.text(last.checkpoint.root_hash.hex()),
            "new_leaves": dg.MetadataValue.int(len(leaves)),
            "checkpoint": dg.MetadataValue.md(f"```\n{last.note}```"),
            "leaves": table,
            "tlog_dir": dg.MetadataValue.path(workspace.rel(tlog_dir)),
        },
        check_results=[inclusion, consistency],
    )


@dg.asset_check(
    asset=transparency_log,
    name="attested_artefacts_verify",
    description="`lumen verify` passes for every attested artefact (signature, chain, CRL, subject, inclusion, log audit)",
)
def attested_artefacts_verify(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    from lumen_assets.attest.issue import find_artifacts
    from lumen_assets.attest.verifier import TrustLayout, verify_artifact

    config = workspace.config
    root = workspace.root_path
    layout = TrustLayout(config.attest.attest_dir, config.attest.trust_dir, config.tlog.dir, config.tlog.origin)
    failures, count = {}, 0
    for spec in config.attest.artifacts:
        for rel in find_artifacts(root, [spec.glob], spec.exclude):
            count += 1
            report = verify_artifact(root / rel, root, layout, audit_log=False)
            if not report.ok:
                failures[rel] = report.failure
    first = next(iter(failures.items()), ("", ""))
    return dg.AssetCheckResult(
        passed=not failures, severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("no artefact matches attest.artifacts yet") if not count else described(
            not failures, f"`lumen verify` passes for all {count} attested artefacts",
            f"{len(failures)} of {count} artefacts fail `lumen verify` (first: {first[0]}: "
            f"{workspace.scrub(str(first[1]))})",
            f"run `lumen verify {first[0]} --workspace .` for the full report; if the file changed after it was "
            "signed, re-materialise its producer, then attestations and transparency_log"),
        metadata={"verified": count, "failures": dg.MetadataValue.json(json.loads(json.dumps(failures))) if failures else "none"},
    )


LOG_AUDIT_CHECK = "log_audit"


@dg.asset_check(
    asset=transparency_log,
    name=LOG_AUDIT_CHECK,
    blocking=False,
    description="`lumen tlog audit`: the whole log recomputed from its leaf data (entries, index, every checkpoint, "
                "entries.jsonl, tiles); runs on the `tlog_audit_schedule` (sensors/tlog.py), not on every trust run",
    metadata={SCHEDULED_ONLY: "tlog_audit_schedule"},
)
def log_audit(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    config = workspace.config
    root = workspace.root_path
    tlog_dir = root / config.tlog.dir
    try:
        vkey = (root / config.attest.trust_dir / TRUST_LOG_VKEY).read_text().strip()
        report = audit_log(tlog_dir, vkey, config.tlog.origin, label=config.tlog.dir)
    except (AuditError, OSError) as exc:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"first_inconsistency": str(exc)},
            description=described(False, "", f"the log under {config.tlog.dir}/ does not recompute: {exc}",
                                  f"treat {config.tlog.dir}/ as damaged or tampered with: stop publishing it and "
                                  "restore the last copy that `lumen tlog audit` accepts"))
    return dg.AssetCheckResult(passed=True, description=report.summary(), metadata={
        "leaves": report.leaves, "checkpoints": len(report.checkpoints), "tiles": report.tiles,
        "summary": report.summary()})
