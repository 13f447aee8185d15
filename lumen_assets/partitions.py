"""Partition definitions shared by every area: one daily partition per reporting day (in the configured
timezone), starting at the first day the workspace's data covers. Rule effects are partitioned by day too (a
year of rule events is 365 partitions, not 100,000: see the README's "A year of history")."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dagster as dg

from lumen_assets.check_words import nothing_to_compare
from lumen_assets.ingest.coverage import first_data_day
from lumen_assets.layout import WorkspaceLayout
from lumen_assets.location_config import location_config

LEGACY_RULE_EVENT_PARTITIONS = "rule_event"  # the per-event dynamic partition set of earlier versions


def _first_day() -> str:
    """The first reporting day of LUMEN_WORKSPACE's data; NO_DATA_FIRST_DAY when there is none (yet), so a
    code location loaded without a workspace (tests, a fresh deployment) still knows past days."""
    config = location_config()
    layout = WorkspaceLayout.of(Path(os.environ.get("LUMEN_WORKSPACE", ".")), config)
    day = first_data_day(layout.metrics_csv, layout.rules_history, config.loop.timezone, layout.rules_cache)
    return day.isoformat() if day else NO_DATA_FIRST_DAY


NO_DATA_FIRST_DAY = "2025-01-01"


FIRST_DAY = _first_day()  # the first reporting day a daily partition exists for

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_DAY, timezone=location_config().loop.timezone, end_offset=1
)


REPORT_CRON = "5 9 * * *"  # seed segB §4.5: yesterday's report at 09:05 in the reporting timezone
ARCHIVE_CRON = "35 9 * * *"  # after the report: yesterday's archive bundle at 09:35
LINKS_CRON = "50 9 * * *"  # after the archive: the pipeline signer signs yesterday's in-toto step records at 09:50


def previous_day_on_cron(cron: str) -> dg.AutomationCondition:
    """Materialise the reporting day *before* the tick, once per tick of `cron` in the reporting timezone,
    whatever upstream did (evaluated by `lumen_automation_sensor`, sensors/automation.py).

    `AutomationCondition.on_cron` targets the latest daily partition, which with `end_offset=1` is today, still
    in progress; this selects the one before it. `in_latest_time_window(60 h)` holds for today and yesterday
    (Dagster counts a partition in when it starts within the lookback of the latest window's end: 24 h and
    47-49 h across a DST change), and `~in_latest_time_window()` drops today."""
    yesterday = (dg.AutomationCondition.in_latest_time_window(timedelta(hours=60))
                 & ~dg.AutomationCondition.in_latest_time_window())
    return (
        dg.AutomationCondition.cron_tick_passed(cron, cron_timezone=daily_partitions.timezone)
        & yesterday
        & ~dg.AutomationCondition.in_progress()
    ).with_label(f"the previous reporting day, on {cron} ({daily_partitions.timezone})")


def cron_freshness(cron: str, timezone: str = "UTC") -> dg.FreshnessPolicy:
    """For an asset recomputed on every tick of `cron` whatever upstream did (resonance scores): WARN once it
    missed a tick, FAIL once it missed two, i.e. a time window of 2x / 3x the longest gap between two ticks
    (over the next 200 ticks or 8 days). The asset's own checks cannot say this: they are evaluated only when
    the asset runs, so they can never turn red while nothing runs."""
    from datetime import UTC, datetime
    from itertools import islice

    from dagster._utils.schedules import cron_string_iterator  # Dagster's own cron arithmetic (no croniter)

    start = datetime.now(UTC)
    ticks = [tick for tick in islice(cron_string_iterator(start.timestamp(), cron, timezone), 200)
             if tick - start <= timedelta(days=8)]
    gap = max((later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)), default=timedelta(days=8))
    return dg.FreshnessPolicy.time_window(fail_window=3 * gap, warn_window=2 * gap)


DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))
"""For the assets made once a day (report, distribution, archive bundle, in-toto links): the UI shows them WARN
when the last materialisation is over 25 h old and FAIL over 26 h, i.e. when a day's automated run did not happen. Evaluated
by Dagster's freshness daemon (`freshness: enabled: true` in the dagster.yaml `lumen run` writes)."""


def skipped_checks(asset: dg.AssetKey, names: tuple[str, ...], reason: str):
    """A day skipped for lack of data: its checks say so (nothing was written, so nothing was compared)."""
    for name in names:
        yield dg.AssetCheckResult(asset_key=asset, check_name=name, passed=True, severity=dg.AssetCheckSeverity.WARN,
                                  description=nothing_to_compare(reason), metadata={"skipped": reason})
