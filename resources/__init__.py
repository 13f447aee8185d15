"""Dagster ConfigurableResources: the workspace, and (per area) stores, signers and notifiers."""

from resources.workspace import LumenWorkspace

__all__ = ["LumenWorkspace"]
