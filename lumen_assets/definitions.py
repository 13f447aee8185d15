"""The one Definitions object, merged by Dagster from the areas' `defs.py` modules (assets and checks),
`sensors/` (every sensor, schedule and the jobs they start) and `resources/`.

Nothing heavy happens at import: no file scans, no model compilation, no network.
"""

from __future__ import annotations

import warnings

import dagster as dg

import lumen.sensors
from lumen.resources.definitions import resource_defs
from lumen_assets.archive import defs as archive
from lumen_assets.attest import defs as attest
from lumen_assets.code_references import with_code_references
from lumen_assets.effects import defs as effects
from lumen_assets.evidence import defs as evidence
from lumen_assets.gateway import defs as gateway
from lumen_assets.ingest import defs as ingest
from lumen_assets.keys import asset_prefix
from lumen_assets.posteriors import defs as posteriors
from lumen_assets.reports import defs as reports
from lumen_assets.resonance import defs as resonance
from lumen_assets.rhythm import defs as rhythm
from lumen_assets.tlog import defs as tlog
from lumen_assets.tuning import defs as tuning

# single-run backfills of the rule-event partitions are "beta" in Dagster 1.13; we rely on them knowingly
warnings.filterwarnings("ignore", category=dg.BetaWarning)

AREA_MODULES = (
    ingest, effects, gateway, posteriors, tuning, evidence, reports, archive, attest, tlog, resonance, rhythm,
)


def build_definitions() -> dg.Definitions:
    """Merged anew on each call: resources bind the environment (LUMEN_WORKSPACE, secrets) as it is now."""
    areas = dg.load_definitions_from_modules(list(AREA_MODULES))
    strays = [d.name for d in [*(areas.sensors or []), *(areas.schedules or [])]]
    if strays:
        raise dg.DagsterInvalidDefinitionError(f"sensors and schedules live under sensors/, not in an area: {strays}")
    assets, checks = areas.assets or [], areas.asset_checks or []
    prefix = list(asset_prefix())
    if prefix:  # several workspaces on one deployment: every key (and every dep among them) under the prefix
        assets = dg.load_assets_from_modules(list(AREA_MODULES), key_prefix=prefix)
        checks = dg.load_asset_checks_from_modules(list(AREA_MODULES), asset_key_prefix=prefix)
    return dg.Definitions.merge(
        dg.Definitions(assets=with_code_references(assets), asset_checks=checks, jobs=areas.jobs),
        dg.load_definitions_from_package_module(lumen.sensors),
        resource_defs(),
        # One process per run: a step process per asset would load the code location again for each step
        # (seconds each on 2 cores) while Lumen's steps themselves take a second or two.
        dg.Definitions(executor=dg.in_process_executor),
    )


defs = build_definitions()
