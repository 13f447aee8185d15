"""in-toto Statement v1 for one artefact: subject = name + sha256, predicate = what produced it.

Why (seed segD §7.3, §7.8 #7): the seed put an SLSA v0.2-shaped predicate under the SLSA v1 type and used
non-standard digest keys. Lumen uses its own predicateType URI with a flat, documented predicate (asset
key, partition, run id, code version, config digest, upstream materials with digests, time), and checks a
statement's shape itself (the protobuf bindings turn ints into floats; DAGSTER_NOTES "Attestations").

Pure module: no dagster import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://lumen.dev/attestation/provenance/v1"


class StatementError(ValueError):
    """A statement that does not have the in-toto v1 shape Lumen writes."""


def build_statement(subject_name: str, subject_sha256: str, *, asset_key: str, partition: str | None,
                    run_id: str | None, code_version: str | None, config_digest: str | None,
                    materials: Sequence[dict[str, Any]], produced_by: dict[str, Any] | None,
                    timestamp: str) -> dict[str, Any]:
    """The statement dict (serialise with `statement_bytes`)."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": subject_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "builder": {"id": "lumen-assets"},
            "assetKey": asset_key,
            "partition": partition,
            "runId": run_id,
            "codeVersion": code_version,
            "configDigest": {"sha256": config_digest} if config_digest else None,
            "producedBy": produced_by,
            "materials": list(materials),
            "attestedOn": timestamp,
        },
    }


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8): the DSSE payload."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def validate_statement(statement: Any) -> dict[str, Any]:
    """Check the in-toto v1 shape; raise StatementError naming the first bad key."""
    if not isinstance(statement, dict):
        raise StatementError("statement is not a JSON object")
    if statement.get("_type") != STATEMENT_TYPE:
        raise StatementError(f"_type is {statement.get('_type')!r}, expected {STATEMENT_TYPE!r}")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise StatementError("subject must be a non-empty list")
    for i, subject in enumerate(subjects):
        if not isinstance(subject, dict) or not isinstance(subject.get("name"), str):
            raise StatementError(f"subject[{i}].name is missing")
        digest = subject.get("digest")
        if not isinstance(digest, dict) or not digest:
            raise StatementError(f"subject[{i}].digest is missing")
        sha = digest.get("sha256")
        if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
            raise StatementError(f"subject[{i}].digest.sha256 is not 64 hex characters")
    if not isinstance(statement.get("predicateType"), str) or not statement["predicateType"]:
        raise StatementError("predicateType must be a non-empty URI string")
    if not isinstance(statement.get("predicate"), dict):
        raise StatementError("predicate must be an object")
    return statement
