"""Declarative automation: what runs when, as named jobs that carry their `AutomationCondition`, evaluated by one
explicit automation-condition sensor that is running by default.

| job | assets (and their checks) | when |
|---|---|---|
| `daily_report_job` | `daily_report`, `report_distribution` | 09:05, the reporting day before (reporting timezone) |
| `archive_bundle_job` | `archive_bundle` | 09:35, the day before |
| `in_toto_links_job` | `in_toto_links` | 09:50, the day before (after the report and the archive) |
| `resonance_scores_job` | `resonance_scores` | each tick of config `resonance.schedule_cron` (UTC), whatever upstream did |
| `effect_posteriors_job` | `effect_posteriors` (the PyMC fit) | each tick of config `posteriors.schedule_cron` (UTC), once new effects arrived |

Why jobs and not conditions on the assets: a run the automation sensor starts for an asset's own condition is an
anonymous `__ASSET_JOB` run; a job-scoped condition (`define_asset_job(..., automation_condition=
AutomationCondition.any_job_root_assets_match(...))`, Dagster's "Automating jobs", a *preview* API in 1.13)
starts a run of the named job, for the partition its condition selected. Such jobs are claimed by a sensor
through its `asset_job_keys` parameter, which Dagster 1.13 accepts but does not yet document (an asset
selection cannot name a job); unclaimed, they would fall to Dagster's `default_automation_condition_sensor`,
which is off until someone turns it on in the UI. tests/test_automation.py checks that this sensor claims
every conditioned job and ticks each condition with Dagster's own evaluator.

Elsewhere in `sensors/`: the rule-event sensor (`rule_event_job`), the conjugate-posterior asset sensor
(`effect_posteriors_fast_job`), the nightly `tlog_audit_schedule` (a job of one asset check, which a job-scoped
condition cannot express: it evaluates the job's root *assets*).
"""

from __future__ import annotations

import warnings

import dagster as dg

from lumen_assets.keys import asset_key
from lumen_assets.location_config import location_config
from lumen_assets.partitions import ARCHIVE_CRON, LINKS_CRON, REPORT_CRON, previous_day_on_cron


def _job(name: str, assets: tuple[str, ...], condition: dg.AutomationCondition | None,
         description: str) -> dg.UnresolvedAssetJobDefinition:
    """A named asset job (its assets and their checks) launched whenever `condition` holds for one of its root
    assets (no automation when `condition` is None: config turned the cron off)."""
    with warnings.catch_warnings():  # job-scoped conditions are a preview API, used knowingly (module docstring)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.define_asset_job(
            name,
            selection=dg.AssetSelection.assets(*(asset_key(a) for a in assets)),
            automation_condition=dg.AutomationCondition.any_job_root_assets_match(condition) if condition else None,
            description=description,
        )


def _on_cron(cron: str | None) -> dg.AutomationCondition | None:
    """Each tick of `cron` (UTC) whatever upstream did, as the seed's loops did; None when config turns it off."""
    if not cron:
        return None
    return (dg.AutomationCondition.cron_tick_passed(cron) & ~dg.AutomationCondition.in_progress()).with_label(
        f"on {cron} (UTC)")


_config = location_config()

daily_report_job = _job(
    "daily_report_job", ("daily_report", "report_distribution"), previous_day_on_cron(REPORT_CRON),
    "Yesterday's report (Markdown + PDF) and its distribution, at 09:05 in the reporting timezone (seed segB §4.5).")
archive_bundle_job = _job(
    "archive_bundle_job", ("archive_bundle",), previous_day_on_cron(ARCHIVE_CRON),
    "Yesterday's archive bundle (tar, manifest, Merkle root, encryption, upload) at 09:35.")
in_toto_links_job = _job(
    "in_toto_links_job", ("in_toto_links",), previous_day_on_cron(LINKS_CRON),
    "The pipeline signer signs yesterday's in-toto step records at 09:50, after the report and the archive.")
resonance_scores_job = _job(
    "resonance_scores_job", ("resonance_scores",), _on_cron(_config.resonance.schedule_cron),
    "Resonance scores and their SLO checks on config `resonance.schedule_cron`.")
effect_posteriors_job = _job(
    "effect_posteriors_job", ("effect_posteriors",),
    dg.AutomationCondition.on_cron(_config.posteriors.schedule_cron),
    "The full PyMC fit on config `posteriors.schedule_cron`, once new effects arrived since the last tick.")

AUTOMATED_JOBS = (daily_report_job, archive_bundle_job, in_toto_links_job, resonance_scores_job, effect_posteriors_job)

automation_sensor = dg.AutomationConditionSensorDefinition(
    "lumen_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the automation conditions of Lumen's jobs (cron and eager) and starts their runs, "
    "each a run of the named job: " + ", ".join(job.name for job in AUTOMATED_JOBS) + ".",
    asset_job_keys={dg.AssetJobKey(job.name) for job in AUTOMATED_JOBS if job.automation_condition is not None},
)
