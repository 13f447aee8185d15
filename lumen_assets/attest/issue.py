"""Issue attestations for workspace artefacts and record them in the transparency log.

Two steps, one per asset: `attest_artifact` writes `attest/<path>.dsse.json` (a signed in-toto
statement); `log_envelopes` appends the exact envelope bytes to the log, signs a checkpoint and writes
`attest/<path>.proof.json` beside each envelope. An envelope signed by a Sigstore-ready (P-256) signer
also gets a second leaf, its Rekor `dsse/0.0.1` entry body, in the same batch, and
`attest/<path>.sigstore.json`, a Sigstore bundle proving that leaf (see `sigstore_bundle.py`).

Pure module: no dagster import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen_assets.atomic import atomic_write_bytes, atomic_write_text
from lumen_assets.attest.envelope import envelope_bytes, envelope_payload, parse_envelope, sign_envelope
from lumen_assets.attest.keys import ActiveSigner
from lumen_assets.attest.sigstore_bundle import (
    SIGSTORE_SUFFIX,
    build_bundle,
    bundle_entry_body,
    bundle_path,
    dsse_entry_body,
    log_id,
    signed_entry_timestamp,
    signer_cert_of,
    sigstore_ready,
)
from lumen_assets.attest.statement import build_statement, statement_bytes
from lumen_assets.attest.verifier import ENVELOPE_SUFFIX, PROOF_SUFFIX
from lumen_assets.digests import sha256_file
from lumen_assets.tlog.merkle import leaf_hash
from lumen_assets.tlog.publish import AppendResult, append_entries


@dataclass(frozen=True)
class Attested:
    rel: str
    sha256: str
    envelope: Path
    created: bool  # False when an envelope for this exact content already existed


def find_artifacts(workspace: Path, patterns: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
    """Workspace-relative POSIX paths of files matching any glob, sorted, minus exclusions."""
    workspace = Path(workspace)
    found: set[str] = set()
    for pattern in patterns:
        for path in workspace.glob(pattern):
            if path.is_file():
                rel = path.relative_to(workspace).as_posix()
                if not any(fnmatch.fnmatch(rel, ex) for ex in exclude):
                    found.add(rel)
    return sorted(found)


def envelope_subject_digest(envelope_file: Path) -> str | None:
    """sha256 the existing envelope attests, or None if it is unreadable (then it is re-issued)."""
    try:
        statement = json.loads(envelope_payload(parse_envelope(envelope_file.read_bytes())))
        return statement["subject"][0]["digest"]["sha256"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def attest_artifact(workspace: Path, rel: str, signer: ActiveSigner, *, attest_dir: str = "attest",
                    asset_key: str, partition: str | None = None, run_id: str | None = None,
                    code_version: str | None = None, config_digest: str | None = None,
                    materials: Iterable[dict[str, Any]] = (), produced_by: dict[str, Any] | None = None,
                    now: dt.datetime | None = None) -> Attested:
    """Sign a statement for `rel` unless its current envelope already attests the same bytes."""
    workspace = Path(workspace)
    digest = sha256_file(workspace / rel)
    target = workspace / attest_dir / (rel + ENVELOPE_SUFFIX)
    if target.exists() and envelope_subject_digest(target) == digest:
        return Attested(rel, digest, target, created=False)
    statement = build_statement(
        rel, digest, asset_key=asset_key, partition=partition, run_id=run_id, code_version=code_version,
        config_digest=config_digest, materials=list(materials), produced_by=produced_by,
        timestamp=(now or dt.datetime.now(dt.UTC)).isoformat(),
    )
    envelope = sign_envelope(statement_bytes(statement), signer.key, signer.cert)
    atomic_write_bytes(target, envelope_bytes(envelope))
    return Attested(rel, digest, target, created=True)


def _sigstore_body(envelope_raw: bytes) -> bytes | None:
    """The dsse/0.0.1 entry body for an envelope whose signer is Sigstore-ready, else None."""
    try:
        envelope = parse_envelope(envelope_raw)
        if not sigstore_ready(signer_cert_of(envelope)):
            return None
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return dsse_entry_body(envelope, envelope_raw)


def _proof_is_current(proof_file: Path, envelope_raw: bytes) -> bool:
    try:
        return json.loads(proof_file.read_text())["leaf_hash"] == leaf_hash(envelope_raw).hex()
    except (OSError, ValueError, KeyError, TypeError):
        return False


def unlogged_envelopes(workspace: Path, attest_dir: str = "attest") -> list[str]:
    """Envelopes (by artefact rel path) whose proof is missing or stale, or whose Sigstore bundle is."""
    root = Path(workspace) / attest_dir
    pending = []
    for envelope in sorted(root.rglob("*" + ENVELOPE_SUFFIX)):
        rel = envelope.relative_to(root).as_posix()[: -len(ENVELOPE_SUFFIX)]
        raw = envelope.read_bytes()
        proof = envelope.with_name(envelope.name[: -len(ENVELOPE_SUFFIX)] + PROOF_SUFFIX)
        body = _sigstore_body(raw)
        if not _proof_is_current(proof, raw) or (
                body is not None and bundle_entry_body(bundle_path(workspace, rel, attest_dir)) != body):
            pending.append(rel)
    return pending


def log_envelopes(workspace: Path, rels: Sequence[str], tlog_dir: Path, origin: str, key_name: str,
                  log_key: Ed25519PrivateKey, attest_dir: str = "attest",
                  now: dt.datetime | None = None) -> AppendResult:
    """Append the envelopes of `rels` to the log in one batch, write each `.proof.json`, and for
    Sigstore-ready envelopes append their dsse entry body too and write `.sigstore.json`.

    The returned result lists the envelope leaves only (the bundle leaves are named `<rel>.sigstore.json`
    in the log's entries.jsonl)."""
    workspace = Path(workspace)
    now = now or dt.datetime.now(dt.UTC)
    entries: list[tuple[str, bytes]] = []
    bundles: dict[str, tuple[dict, bytes]] = {}
    for rel in rels:
        raw = (workspace / attest_dir / (rel + ENVELOPE_SUFFIX)).read_bytes()
        if not _proof_is_current(workspace / attest_dir / (rel + PROOF_SUFFIX), raw):
            entries.append((rel, raw))
        body = _sigstore_body(raw)
        if body is not None and bundle_entry_body(bundle_path(workspace, rel, attest_dir)) != body:
            entries.append((rel + SIGSTORE_SUFFIX, body))
            bundles[rel] = (parse_envelope(raw), body)
    kinds = ["rekor-dsse" if name.endswith(SIGSTORE_SUFFIX) and name not in rels else "envelope"
             for name, _ in entries]
    result = append_entries(tlog_dir, entries, origin, key_name, log_key, now=now, kinds=kinds)
    log_id_bytes = log_id(key_name, log_key.public_key())
    integrated_time = int(now.timestamp())
    for rel, (envelope, body) in bundles.items():
        proof = result.proofs[rel + SIGSTORE_SUFFIX]
        set_signature = signed_entry_timestamp(log_key, body, integrated_time, log_id_bytes, proof["leaf_index"])
        atomic_write_bytes(bundle_path(workspace, rel, attest_dir),
                           build_bundle(envelope, body, proof, result.checkpoint.root_hash, integrated_time,
                                        log_id_bytes, set_signature))
    envelope_names = {rel for rel, _ in entries if rel in rels}
    for rel in envelope_names:
        atomic_write_text(workspace / attest_dir / (rel + PROOF_SUFFIX),
                          json.dumps(result.proofs[rel], indent=2) + "\n")
    return dataclasses.replace(result, leaves=[leaf for leaf in result.leaves if leaf["name"] in envelope_names],
                               proofs={k: v for k, v in result.proofs.items() if k in envelope_names})
