"""Resonance automation: recompute the scores and their SLO checks on config `resonance.schedule_cron`."""

from __future__ import annotations

import dagster as dg

from lumen_assets.location_config import location_config

resonance_job = dg.define_asset_job(
    "resonance_job",
    selection=dg.AssetSelection.assets("resonance_scores"),
    description="Recompute resonance scores and their SLO checks.",
)


def _schedules() -> list[dg.ScheduleDefinition]:
    cron = location_config().resonance.schedule_cron
    if not cron:
        return []
    return [
        dg.ScheduleDefinition(
            name="resonance_schedule",
            job=resonance_job,
            cron_schedule=cron,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Seed cadence was 1 min collect/map, 5 min push; Lumen recomputes on this cron.",
        )
    ]


resonance_schedules = _schedules()  # empty when config turns the schedule off (`resonance.schedule_cron: ""`)
