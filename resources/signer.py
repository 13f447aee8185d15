"""The keystore resource: the signer and log keys the trust assets use (seed segD §2.2 signer keys).

Keys stay encrypted at rest; the passphrase comes from the environment through `dg.EnvVar`
(`LUMEN_SIGNER_PASS` by default), never from config files. The root key is never here (custody).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen.resources.secrets import env_secret
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.keys import ActiveSigner, current_signer, log_key, trust_setup_problem


class LumenSigner(dg.ConfigurableResource):
    """Opens the keystore of `workspace`: `keystore_dir` (absolute, or relative to the workspace; default
    `attest.keystore_dir` of its config) with `passphrase` (a `dg.EnvVar`, see resources/secrets.py)."""

    workspace: LumenWorkspace
    passphrase: str | None = None
    passphrase_env: str = "LUMEN_SIGNER_PASS"
    keystore_dir: str | None = None

    def _passphrase(self) -> str:
        if not self.passphrase:
            raise dg.Failure(
                description=f"trust is not set up: ${self.passphrase_env} is not set (export the keystore passphrase "
                "before `dagster dev` / `lumen run`; `lumen demo` sets a public demo passphrase itself)"
            )
        return self.passphrase

    @property
    def keystore(self) -> Path:
        path = Path(self.keystore_dir or self.workspace.config.attest.keystore_dir).expanduser()
        return path if path.is_absolute() else self.workspace.root_path / path

    def setup_problem(self, need: tuple[str, ...] = ("signer", "log")) -> str | None:
        """One line naming what the trust assets lack and the `lumen keys` commands that set it up, or None."""
        return trust_setup_problem(self.keystore, self.passphrase, passphrase_env=self.passphrase_env, need=need)

    def _ready(self, need: str) -> None:
        problem = self.setup_problem((need,))
        if problem:
            raise dg.Failure(description=problem, allow_retries=False)

    def signer(self) -> ActiveSigner:
        self._ready("signer")
        return current_signer(self.keystore, self._passphrase())

    def log_key(self) -> tuple[str, Ed25519PrivateKey]:
        self._ready("log")
        return log_key(self.keystore, self._passphrase())


def signer_resource(workspace: LumenWorkspace, passphrase_env: str = "LUMEN_SIGNER_PASS") -> LumenSigner:
    """The resource as the Definitions bind it: the passphrase as `dg.EnvVar(passphrase_env)`."""
    return LumenSigner(workspace=workspace, passphrase=env_secret(passphrase_env), passphrase_env=passphrase_env)
