"""The one way a secret reaches a Lumen resource: a `dg.EnvVar` field.

Config files only *name* the variables (`attest.passphrase_env`, `archive.encryption.env_key`, the AWS
credential variables); the value is resolved by Dagster when the resource is initialised and never appears
in the UI or in run config. The CLI uses the very same resources, initialised with
`process_config_and_initialize_cm()`, so it resolves secrets the same way.
"""

from __future__ import annotations

import os

import dagster as dg


def env_secret(name: str | None) -> str | None:
    """`dg.EnvVar(name)`, or None when the variable is unset (or unnamed) at load time.

    Bound only when set, so that a code location started without a secret still loads and runs everything
    else; the resource that needs the secret then fails with a message naming the variable."""
    return dg.EnvVar(name) if name and os.environ.get(name) else None
