"""Partition definitions shared by every area: one daily partition per reporting day (in the configured
timezone), starting at the first day the workspace's data covers. Rule effects are partitioned by day too (a
year of rule events is 365 partitions, not 100,000: see the README's "A year of history")."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from lumen_assets.check_words import nothing_to_compare
from lumen_assets.ingest.coverage import first_data_day
from lumen_assets.location_config import location_config

LEGACY_RULE_EVENT_PARTITIONS = "rule_event"  # the per-event dynamic partition set of earlier versions


def _first_day() -> str:
    """The first reporting day of LUMEN_WORKSPACE's data; NO_DATA_FIRST_DAY when there is none (yet), so a
    code location loaded without a workspace (tests, a fresh deployment) still knows past days."""
    config = location_config()
    root = Path(os.environ.get("LUMEN_WORKSPACE", "."))
    day = first_data_day(root / config.paths.metrics_csv, root / config.paths.rules_history, config.loop.timezone)
    return day.isoformat() if day else NO_DATA_FIRST_DAY


NO_DATA_FIRST_DAY = "2025-01-01"


FIRST_DAY = _first_day()  # the first reporting day a daily partition exists for

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


def skipped_checks(asset: str, names: tuple[str, ...], reason: str):
    """A day skipped for lack of data: its checks say so (nothing was written, so nothing was compared)."""
    for name in names:
        yield dg.AssetCheckResult(asset_key=asset, check_name=name, passed=True, severity=dg.AssetCheckSeverity.WARN,
                                  description=nothing_to_compare(reason), metadata={"skipped": reason})
