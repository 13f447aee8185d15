"""Reports automation: at 09:05 in the reporting timezone, the previous day's report and its distribution."""

from __future__ import annotations

import dagster as dg

from lumen_assets.partitions import daily_partitions, previous_day_request

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=dg.AssetSelection.assets("daily_report", "report_distribution"),
    description="The previous day's report and its distribution (seed: 09:05 KST).",
)


@dg.schedule(
    job=daily_report_job,
    cron_schedule="5 9 * * *",
    execution_timezone=daily_partitions.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 09:05 in the reporting timezone, report and distribute the previous day (seed segB §4.5).",
)
def daily_report_schedule(context: dg.ScheduleEvaluationContext):
    return previous_day_request(context, "daily_report")
