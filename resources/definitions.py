"""Every resource the code location binds, under the keys the assets and sensors ask for."""

from __future__ import annotations

import os

import dagster as dg

from lumen.resources.archive_store import archive_store_resource
from lumen.resources.notifiers import report_notifier_resource
from lumen.resources.notifiers_alerts import alert_channels_resource
from lumen.resources.signer import signer_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.location_config import location_config


def resource_defs() -> dg.Definitions:
    # The CLI (and an operator running `dagster dev`) says which workspace via LUMEN_WORKSPACE;
    # LUMEN_CONFIG is optional (else WORKSPACE/lumen.yaml, else the project's config/lumen.yaml).
    workspace = LumenWorkspace(root=dg.EnvVar("LUMEN_WORKSPACE"), config_path=os.environ.get("LUMEN_CONFIG") or None)
    # Secret variable names come from the config read once at load; values are dg.EnvVars (resources/secrets.py).
    config = location_config()
    return dg.Definitions(
        resources={
            "workspace": workspace,
            "archive_store": archive_store_resource(workspace, config.archive.encryption.env_key, config.archive.store),
            "signer": signer_resource(workspace, config.attest.passphrase_env),
            "report_notifier": report_notifier_resource(workspace, config.reports.distribution),
            "alert_channels": alert_channels_resource(workspace, config.alerts),
        }
    )
