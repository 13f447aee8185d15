"""The one way a secret reaches Lumen: from an environment variable, through this module.

Config files only *name* the variables (`attest.passphrase_env`, `archive.encryption.env_key`,
`reports.distribution.smtp.password_env`, `alerts.smtp.password_env`, ...); the values never enter config
files, run config, metadata or the UI.

- Resources take a secret as a `dg.EnvVar` field (`env_secret`), resolved by Dagster when the resource is
  initialised: `signer`, `archive_store` (and its S3 credentials), `report_notifier`, `alert_channels`, with
  the variable names the code location's config gives at load; the CLI opens the same resources with
  `process_config_and_initialize_cm()`.
- The `lumen` commands that need a passphrase before any resource exists (`lumen keys`, `lumen tlog witness`,
  `lumen archive decrypt`, the pre-flight of `lumen run`) read the value with `secret_value` /
  `require_secret`.

A missing secret is an error naming the variable and what it is for (`MissingSecret`), never a silent
default. Importing this module does not import Dagster, so the CLI stays quick to start.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg


class MissingSecret(RuntimeError):
    """A secret Lumen needs is not set; the message names the environment variable and its purpose."""

    def __init__(self, name: str, purpose: str) -> None:
        self.name, self.purpose = name, purpose
        super().__init__(f"${name} is not set: export {purpose} in the environment variable {name} "
                         "(secrets are read from the environment only, never from config files)")


def secret_value(name: str | None) -> str | None:
    """The value of the secret variable `name`, or None when it is unnamed, unset or empty."""
    return (os.environ.get(name) or None) if name else None


def require_secret(name: str, purpose: str) -> str:
    """The value of the secret variable `name`; `MissingSecret` (naming it and `purpose`) when unset."""
    value = secret_value(name)
    if value is None:
        raise MissingSecret(name, purpose)
    return value


def env_secret(name: str | None) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` for a resource field, or None when the variable is unset (or unnamed) at load time.

    Bound only when set, so that a code location started without a secret still loads and runs everything
    else; the resource that needs the secret then fails with a message naming the variable."""
    import dagster as dg

    return dg.EnvVar(name) if secret_value(name) is not None else None
