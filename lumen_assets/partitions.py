"""Partition definitions shared by every area: one dynamic partition per rule event, one daily partition per day.

The reporting day's timezone comes from the config the code location is loaded for (a small YAML read, at
import, nothing more).
"""

from __future__ import annotations

import os

import dagster as dg

from lumen_assets.config import load_config, resolve_config_path

RULE_EVENT_PARTITIONS_NAME = "rule_event"

rule_event_partitions = dg.DynamicPartitionsDefinition(name=RULE_EVENT_PARTITIONS_NAME)


def _reporting_timezone() -> str:
    workspace = os.environ.get("LUMEN_WORKSPACE", ".")
    try:
        return load_config(resolve_config_path(workspace, os.environ.get("LUMEN_CONFIG"))).loop.timezone
    except Exception:  # a bad config is reported by the assets with its file and key; never break loading
        return "Asia/Seoul"


daily_partitions = dg.DailyPartitionsDefinition(
    start_date="2025-01-01", timezone=_reporting_timezone(), end_offset=1
)
