"""Archive automation: at 09:35 in the reporting timezone, freeze and seal the previous day."""

from __future__ import annotations

import dagster as dg

from lumen_assets.partitions import daily_partitions, previous_day_request

archive_job = dg.define_asset_job(
    "archive_job",
    selection=dg.AssetSelection.assets("archive_bundle"),
    description="Freeze, seal and upload one day's archive bundle (seed segC C2/C7: end-of-day freeze).",
)


@dg.schedule(
    job=archive_job,
    cron_schedule="35 9 * * *",
    execution_timezone=daily_partitions.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 09:35 in the reporting timezone (after the 09:05 report), archive the previous day.",
)
def archive_daily_schedule(context: dg.ScheduleEvaluationContext):
    return previous_day_request(context, "archive_bundle")
