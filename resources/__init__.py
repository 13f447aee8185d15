"""Dagster ConfigurableResources: the workspace, and (per area) stores, signers and notifiers.

Import the modules themselves (`lumen.resources.workspace`, ...): this package imports nothing, so that
`lumen.resources.secrets` stays cheap for the `lumen` commands."""
