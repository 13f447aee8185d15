"""The gateway activation state (seed segA C1-C8): lifecycle and the signature phrase's hash.

The seed's lock-in script recomputed the hash and silently overwrote a mismatching recorded value; here a
mismatch is reported and the file is never written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

LIFECYCLE = ("initializing", "binding", "resonating", "locked")


class GatewayError(ValueError):
    """gateway_activation.yaml is unreadable or malformed; the message names the file and key."""


@dataclass(frozen=True)
class GatewayState:
    gateway_id: str
    status: str
    signer: str
    phrase: str
    recorded_hash: str
    computed_hash: str

    @property
    def hash_matches(self) -> bool:
        return self.recorded_hash.lower() == self.computed_hash

    def next_status(self) -> str | None:
        """The lifecycle's next state (None once locked); transitions only move forward."""
        index = LIFECYCLE.index(self.status)
        return LIFECYCLE[index + 1] if index + 1 < len(LIFECYCLE) else None


def signature_hash(phrase: str) -> str:
    """sha256 of the phrase's UTF-8 bytes, no normalisation, no trailing period (seed segA C4)."""
    return hashlib.sha256(phrase.encode("utf-8")).hexdigest()


def read_gateway_state(path: Path | str) -> GatewayState:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GatewayError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise GatewayError(f"{where}: not valid YAML") from exc
    if not isinstance(document, dict):
        raise GatewayError(f"{path}: expected a mapping at the top level")

    def field(section: str, key: str) -> str:
        block = document.get(section)
        if not isinstance(block, dict) or key not in block or block[key] in (None, ""):
            raise GatewayError(f"{path}: missing key '{section}.{key}'")
        return str(block[key])

    status = field("gateway", "status")
    if status not in LIFECYCLE:
        raise GatewayError(f"{path}: key 'gateway.status' is {status!r}, expected one of {', '.join(LIFECYCLE)}")
    phrase = field("signature", "phrase")
    return GatewayState(
        gateway_id=field("gateway", "id"),
        status=status,
        signer=field("signature", "signer"),
        phrase=phrase,
        recorded_hash=field("signature", "resonance_hash_sha256"),
        computed_hash=signature_hash(phrase),
    )
