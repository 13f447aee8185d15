"""Issue attestations for workspace artefacts and record them in the transparency log.

Two steps, one per asset: `attest_artifact` writes `attest/<path>.dsse.json` (a signed in-toto
statement); `log_envelopes` appends the exact envelope bytes to the log, signs a checkpoint and writes
`attest/<path>.proof.json` beside each envelope.

Pure module: no dagster import.
"""

from __future__ import annotations

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
from lumen_assets.attest.statement import build_statement, sha256_file, statement_bytes
from lumen_assets.attest.verifier import ENVELOPE_SUFFIX, PROOF_SUFFIX
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


def unlogged_envelopes(workspace: Path, attest_dir: str = "attest") -> list[str]:
    """Envelopes (by artefact rel path) whose proof file is missing or proves different bytes."""
    root = Path(workspace) / attest_dir
    pending = []
    for envelope in sorted(root.rglob("*" + ENVELOPE_SUFFIX)):
        rel = envelope.relative_to(root).as_posix()[: -len(ENVELOPE_SUFFIX)]
        proof = envelope.with_name(envelope.name[: -len(ENVELOPE_SUFFIX)] + PROOF_SUFFIX)
        try:
            recorded = json.loads(proof.read_text())["leaf_hash"]
        except (OSError, ValueError, KeyError, TypeError):
            recorded = None
        if recorded != leaf_hash(envelope.read_bytes()).hex():
            pending.append(rel)
    return pending


def log_envelopes(workspace: Path, rels: Sequence[str], tlog_dir: Path, origin: str, key_name: str,
                  log_key: Ed25519PrivateKey, attest_dir: str = "attest") -> AppendResult:
    """Append the envelopes of `rels` to the log in one batch and write each `.proof.json`."""
    workspace = Path(workspace)
    entries = [(rel, (workspace / attest_dir / (rel + ENVELOPE_SUFFIX)).read_bytes()) for rel in rels]
    result = append_entries(tlog_dir, entries, origin, key_name, log_key)
    for rel, proof in result.proofs.items():
        atomic_write_text(workspace / attest_dir / (rel + PROOF_SUFFIX), json.dumps(proof, indent=2) + "\n")
    return result
