"""Partition definitions shared by every area: one dynamic partition per rule event, one daily partition
per reporting day (in the configured timezone)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from lumen_assets.location_config import location_config

RULE_EVENT_PARTITIONS_NAME = "rule_event"
FIRST_DAY = "2025-01-01"  # the first reporting day a daily partition exists for

rule_event_partitions = dg.DynamicPartitionsDefinition(name=RULE_EVENT_PARTITIONS_NAME)

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_DAY, timezone=location_config().loop.timezone, end_offset=1
)


def previous_day_request(context: dg.ScheduleEvaluationContext, run_key_prefix: str) -> dg.RunRequest | dg.SkipReason:
    """The run for the reporting day before the tick (daily schedules: reports at 09:05, archive at 09:35)."""
    local = context.scheduled_execution_time.astimezone(ZoneInfo(daily_partitions.timezone))
    day = local.date() - timedelta(days=1)
    if day < daily_partitions.start.date():
        return dg.SkipReason(f"{day} is before the first reporting day {daily_partitions.start.date()}")
    return dg.RunRequest(run_key=f"{run_key_prefix}:{day.isoformat()}", partition_key=day.isoformat())
