"""The keystore resource: the signer and log keys the trust assets use (seed segD §2.2 signer keys).

Keys stay encrypted at rest; the passphrase comes from the environment through `dg.EnvVar`
(`LUMEN_SIGNER_PASS` by default), never from config files. The root key is never here (custody).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen_assets.attest.keys import ActiveSigner, current_signer, log_key, trust_setup_problem


class LumenSigner(dg.ConfigurableResource):
    """Opens the keystore: `keystore_dir` (absolute, or relative to the workspace) and its passphrase."""

    passphrase: str | None = None
    keystore_dir: str | None = None

    def _passphrase(self) -> str:
        if not self.passphrase:
            raise dg.Failure(
                description="trust is not set up: $LUMEN_SIGNER_PASS is not set (export the keystore passphrase "
                "before `dagster dev` / `lumen run`; `lumen demo` sets a public demo passphrase itself)"
            )
        return self.passphrase

    def keystore(self, workspace_root: Path, default_rel: str) -> Path:
        path = Path(self.keystore_dir or default_rel).expanduser()
        return path if path.is_absolute() else Path(workspace_root) / path

    def setup_problem(self, keystore: Path, need: tuple[str, ...] = ("signer", "log")) -> str | None:
        """One line naming what the trust assets lack and the `lumen keys` commands that set it up, or None."""
        return trust_setup_problem(keystore, self.passphrase, need=need)

    def _ready(self, keystore: Path, need: str) -> None:
        problem = self.setup_problem(keystore, (need,))
        if problem:
            raise dg.Failure(description=problem, allow_retries=False)

    def signer(self, keystore: Path) -> ActiveSigner:
        self._ready(keystore, "signer")
        return current_signer(keystore, self._passphrase())

    def log_key(self, keystore: Path) -> tuple[str, Ed25519PrivateKey]:
        self._ready(keystore, "log")
        return log_key(keystore, self._passphrase())


def signer_resource() -> LumenSigner:
    """The resource as the Definitions bind it: the passphrase from $LUMEN_SIGNER_PASS at run time.

    Bound as an EnvVar only when the variable exists, so that a code location started without it still
    loads, ticks its sensors and runs everything else; the trust assets then fail with a clear message."""
    if os.environ.get("LUMEN_SIGNER_PASS"):
        return LumenSigner(passphrase=dg.EnvVar("LUMEN_SIGNER_PASS"))
    return LumenSigner()
