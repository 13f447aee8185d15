"""Asset keys of this code location: each asset's name, under the workspace's `location.asset_prefix` when
one is configured (several workspaces on one Dagster deployment and database, README "Scale out").

Without a prefix (the default) a key is the bare name, as it always was. Code that names another asset (deps
are rewritten by Dagster) goes through `asset_key`, so sensors, jobs, instance queries and metadata links
follow the prefix.
"""

from __future__ import annotations

import dagster as dg

from lumen_assets.location_config import location_config


def asset_prefix() -> tuple[str, ...]:
    """The key prefix of this code location's assets (empty without `location.asset_prefix`)."""
    prefix = location_config().location.asset_prefix
    return (prefix,) if prefix else ()


def asset_key(name: str) -> dg.AssetKey:
    """The key of Lumen's asset `name` in this code location."""
    return dg.AssetKey([*asset_prefix(), name])


def check_key(asset: str, check: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset_key(asset), check)


# Check metadata marking a check that runs only in its own scheduled job (e.g. the full log audit), never as
# part of `lumen run` / `lumen demo`, which select the other checks of the assets they materialise.
SCHEDULED_ONLY = "lumen/scheduled_only"


def owns(key: dg.AssetKey) -> bool:
    """True for a key of this code location: with a prefix, exactly the prefixed ones (others in the same
    instance belong to other workspaces); without one, the unprefixed ones."""
    return tuple(key.path[:-1]) == asset_prefix()
