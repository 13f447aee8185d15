"""Declarative automation: the explicit automation-condition sensor and the assets' cron conditions,
evaluated by Dagster itself (`dg.evaluate_automation_conditions`) tick after tick with the returned cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lumen_assets.definitions import defs

T0 = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
RESONANCE = dg.AssetKey("resonance_scores")
POSTERIORS = dg.AssetKey("effect_posteriors")


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_the_automation_sensor_is_explicit_and_running_and_schedules_are_gone() -> None:
    sensor = defs.resolve_sensor_def("lumen_automation_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    names = {s.name for s in defs.schedules or []}
    assert not names & {"resonance_schedule", "effect_posteriors_schedule"}


def test_resonance_recomputes_on_each_cron_tick_whatever_upstream_did(instance) -> None:
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0)
    assert first.get_num_requested(RESONANCE) == 0  # no tick has passed since the first evaluation
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(minutes=10),
                                             cursor=first.cursor)
    assert tick.get_requested_partitions(RESONANCE) == {None}  # the */10 tick passed, nothing upstream changed
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(minutes=11),
                                              cursor=tick.cursor)
    assert again.get_num_requested(RESONANCE) == 0  # once per tick


def test_the_full_posterior_fit_runs_on_its_cron_only_after_new_effects(instance) -> None:
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0)
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(hours=1),
                                              cursor=start.cursor)
    assert quiet.get_num_requested(POSTERIORS) == 0  # the 15 * * * * tick passed, but no new effects: no refit
    for key, partition in (("rule_effects", "2026-01-05"), ("effect_posteriors_conjugate", None)):
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    fresh = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(hours=2),
                                              cursor=quiet.cursor)
    assert fresh.get_requested_partitions(POSTERIORS) == {None}


REPORT = dg.AssetKey("daily_report")
DISTRIBUTION = dg.AssetKey("report_distribution")
ARCHIVE = dg.AssetKey("archive_bundle")


@pytest.mark.parametrize("before_tick", [
    datetime(2025, 10, 24, 0, 0, tzinfo=UTC),  # 09:00 in Seoul, the reporting timezone
    datetime(2025, 3, 1, 0, 0, tzinfo=UTC),  # 09:00 on 1 March in Seoul: the previous day is 28 February
])
def test_yesterdays_report_at_0905_and_its_bundle_at_0935_in_the_reporting_timezone(instance, before_tick) -> None:
    """What the 09:05 / 09:35 schedules did, as automation conditions: the reporting day before the tick (the
    latest daily partition is today, still in progress), once per tick, whatever upstream did."""
    yesterday = {(before_tick.astimezone(ZoneInfo("Asia/Seoul")).date() - timedelta(days=1)).isoformat()}
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=before_tick)
    assert start.get_num_requested(REPORT) == start.get_num_requested(ARCHIVE) == 0
    report = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor,
                                               evaluation_time=before_tick + timedelta(minutes=6))
    assert report.get_requested_partitions(REPORT) == report.get_requested_partitions(DISTRIBUTION) == yesterday
    assert report.get_num_requested(ARCHIVE) == 0
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=report.cursor,
                                              evaluation_time=before_tick + timedelta(minutes=7))
    assert quiet.get_num_requested(REPORT) == quiet.get_num_requested(DISTRIBUTION) == 0  # once per tick
    archive = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor,
                                                evaluation_time=before_tick + timedelta(minutes=36))
    assert archive.get_requested_partitions(ARCHIVE) == yesterday and archive.get_num_requested(REPORT) == 0


def test_no_daily_schedules_remain() -> None:
    assert not {s.name for s in defs.schedules or []} & {"daily_report_schedule", "archive_daily_schedule"}


def test_yesterdays_in_toto_step_records_are_signed_at_0950_after_the_archive(instance) -> None:
    """Issue 14: in live operation the trust asset signs what yesterday's steps recorded, after its archive."""
    links = dg.AssetKey("in_toto_links")
    before_tick = datetime(2025, 10, 24, 0, 0, tzinfo=UTC)  # 09:00 in Seoul
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=before_tick)
    archive = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor,
                                                evaluation_time=before_tick + timedelta(minutes=36))
    assert archive.get_num_requested(links) == 0
    signed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=archive.cursor,
                                               evaluation_time=before_tick + timedelta(minutes=51))
    assert signed.get_requested_partitions(links) == {"2025-10-23"}


def test_the_daily_assets_carry_a_freshness_policy_and_lumens_instance_runs_its_daemon(tmp_path, monkeypatch) -> None:
    from lumen_assets.runner import instance_yaml

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    graph = defs.resolve_asset_graph()
    for key in (REPORT, DISTRIBUTION, ARCHIVE):
        policy = graph.get(key).freshness_policy
        assert policy is not None and policy.fail_window.to_timedelta() == timedelta(hours=26), key
    (tmp_path / "dagster.yaml").write_text(instance_yaml(), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.freshness_enabled
