"""Declarative automation: one explicit automation-condition sensor, on by default, evaluates the
`AutomationCondition`s the assets carry (e.g. `resonance_scores` on config `resonance.schedule_cron`).

Dagster's implicit default automation sensor is off until toggled in the UI; this one is named and running.
"""

from __future__ import annotations

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "lumen_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions (cron and eager) and starts their runs.",
)
