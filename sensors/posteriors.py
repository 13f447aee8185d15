"""Posteriors automation: the full PyMC fit on its cron (config `posteriors.schedule_cron`), and the cheap
conjugate refresh whenever `rule_effects` materialises."""

from __future__ import annotations

from typing import Any

import dagster as dg

from lumen_assets.location_config import location_config

posteriors_job = dg.define_asset_job(
    "effect_posteriors_job", selection=["effect_posteriors", "causal_impact"],
    description="Full PyMC fit of the effect posteriors plus causal impact of every event.",
)
posteriors_fast_job = dg.define_asset_job(
    "effect_posteriors_fast_job", selection=["effect_posteriors_conjugate", "causal_impact"],
    description="Sensor path: the seed's closed-form conjugate posteriors (milliseconds) and causal impact.",
)
posteriors_schedule = dg.ScheduleDefinition(
    name="effect_posteriors_schedule", job=posteriors_job, cron_schedule=location_config().posteriors.schedule_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.asset_sensor(asset_key=dg.AssetKey("rule_effects"), job=posteriors_fast_job, minimum_interval_seconds=60,
                 default_status=dg.DefaultSensorStatus.RUNNING, name="effect_posteriors_fast_sensor")
def effect_posteriors_fast_sensor(context: dg.SensorEvaluationContext, asset_event: Any) -> dg.RunRequest:
    """A new effects row: refresh the posteriors the cheap way (one run per tick, newest event wins)."""
    return dg.RunRequest(run_key=f"rule_effects-{asset_event.run_id}-{asset_event.timestamp}")
