"""Partition definitions shared by every area: one dynamic partition per rule event, one daily partition
per reporting day (in the configured timezone)."""

from __future__ import annotations

import dagster as dg

from lumen_assets.location_config import location_config

RULE_EVENT_PARTITIONS_NAME = "rule_event"
FIRST_DAY = "2025-01-01"  # the first reporting day a daily partition exists for

rule_event_partitions = dg.DynamicPartitionsDefinition(name=RULE_EVENT_PARTITIONS_NAME)

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_DAY, timezone=location_config().loop.timezone, end_offset=1
)
