"""Transparency-log automation: the full audit (`lumen tlog audit`) every night at 03:20 in the reporting timezone.

The trust run's `new_leaves_included` / `checkpoint_consistent` checks audit what each append added; this job
recomputes the whole log from its leaf data, so damage to older leaves, index nodes or checkpoints shows too.
"""

from __future__ import annotations

import dagster as dg

from lumen_assets.keys import check_key
from lumen_assets.partitions import daily_partitions
from lumen_assets.tlog.defs import LOG_AUDIT_CHECK

tlog_audit_job = dg.define_asset_job(
    "tlog_audit_job",
    selection=dg.AssetSelection.checks(check_key("transparency_log", LOG_AUDIT_CHECK)),
    description="Full audit of the transparency log (issue 13 §1): the `log_audit` check alone, no append.",
)

tlog_audit_schedule = dg.ScheduleDefinition(
    name="tlog_audit_schedule",
    job=tlog_audit_job,
    cron_schedule="20 3 * * *",
    execution_timezone=daily_partitions.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 03:20 in the reporting timezone, audit the whole transparency log.",
)
