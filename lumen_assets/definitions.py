"""The one Definitions object: each area contributes its assets, checks, sensors, schedules, jobs, resources.

Nothing heavy happens at import: no file scans, no model compilation, no network.
"""

from __future__ import annotations

import importlib
import os
import warnings

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.areas import AREAS
from lumen_assets.code_references import with_code_references

# single-run backfills of the rule-event partitions are "beta" in Dagster 1.13; we rely on them knowingly
warnings.filterwarnings("ignore", category=dg.BetaWarning)



def build_definitions() -> dg.Definitions:
    assets, checks, sensors, schedules, jobs = [], [], [], [], []
    resources: dict[str, object] = {
        # The CLI (and an operator running `dagster dev`) says which workspace via LUMEN_WORKSPACE;
        # LUMEN_CONFIG is optional (else WORKSPACE/lumen.yaml, else the project's config/lumen.yaml).
        "workspace": LumenWorkspace(
            root=dg.EnvVar("LUMEN_WORKSPACE"), config_path=os.environ.get("LUMEN_CONFIG") or None
        ),
    }
    for area in AREAS:
        module = importlib.import_module(f"lumen_assets.{area}.defs")
        assets += getattr(module, "assets", [])
        checks += getattr(module, "asset_checks", [])
        sensors += getattr(module, "sensors", [])
        schedules += getattr(module, "schedules", [])
        jobs += getattr(module, "jobs", [])
        resources.update(getattr(module, "resources", {}))
    return dg.Definitions(
        assets=with_code_references(assets),
        asset_checks=checks,
        sensors=sensors,
        schedules=schedules,
        jobs=jobs,
        resources=resources,
        # One process per run: a step process per asset would load the code location again for each step
        # (seconds each on 2 cores) while Lumen's steps themselves take a second or two.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
