"""Dagster ConfigurableResources: the workspace, and (per area) stores, signers and notifiers."""

from lumen.resources.workspace import LumenWorkspace

__all__ = ["LumenWorkspace"]
