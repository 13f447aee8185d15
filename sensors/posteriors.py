"""Posteriors automation: the cheap conjugate refresh whenever `rule_effects` materialises. (The full PyMC
fit runs on config `posteriors.schedule_cron` by its automation condition, see sensors/automation.py.)"""

from __future__ import annotations

from typing import Any

import dagster as dg

from lumen_assets.keys import asset_key

posteriors_fast_job = dg.define_asset_job(
    "effect_posteriors_fast_job", selection=dg.AssetSelection.assets(asset_key("effect_posteriors_conjugate"), asset_key("causal_impact")),
    description="Sensor path: the seed's closed-form conjugate posteriors (milliseconds) and causal impact.",
)


@dg.asset_sensor(asset_key=asset_key("rule_effects"), job=posteriors_fast_job, minimum_interval_seconds=60,
                 default_status=dg.DefaultSensorStatus.RUNNING, name="effect_posteriors_fast_sensor")
def effect_posteriors_fast_sensor(context: dg.SensorEvaluationContext, asset_event: Any) -> dg.RunRequest:
    """A new effects row: refresh the posteriors the cheap way (one run per tick, newest event wins)."""
    return dg.RunRequest(run_key=f"rule_effects-{asset_event.run_id}-{asset_event.timestamp}")
