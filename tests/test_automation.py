"""Declarative automation: the explicit automation-condition sensor and the named jobs' cron conditions,
evaluated by Dagster itself (`dg.evaluate_automation_conditions`) tick after tick with the returned cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lumen_assets.definitions import defs

T0 = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
RESONANCE = "resonance_scores_job"
POSTERIORS = "effect_posteriors_job"


def launched(result: dg.EvaluateAutomationConditionsResult, job: str) -> set[str | None]:
    """The partitions (None: the unpartitioned job) for which the job's condition launches a run on this tick."""
    (outcome,) = [r for r in result.results if r.key == dg.AssetJobKey(job)]
    if outcome.true_subset.is_empty:
        return set()
    return set(outcome.true_subset.expensively_compute_partition_keys()) if outcome.true_subset.is_partitioned else {None}


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


def test_automated_runs_are_runs_of_named_jobs_claimed_by_lumens_running_sensor() -> None:
    """Issue 12 §6: no anonymous `__ASSET_JOB` runs from automation. No asset carries a condition of its own (its
    runs would be `__ASSET_JOB`); every condition sits on a named job, and the running `lumen_automation_sensor`
    claims all of them (else Dagster would add its `default_automation_condition_sensor`, off by default)."""
    graph = defs.resolve_asset_graph()
    assert not [k for k in graph.materializable_asset_keys if graph.get(k).automation_condition is not None]
    jobs = {"daily_report_job", "archive_bundle_job", "in_toto_links_job", "resonance_scores_job", "effect_posteriors_job"}
    assert graph.automatable_asset_job_keys == {dg.AssetJobKey(name) for name in jobs}
    assert defs.resolve_sensor_def("lumen_automation_sensor").asset_job_keys == graph.automatable_asset_job_keys
    assert "default_automation_condition_sensor" not in {s.name for s in defs.get_repository_def().sensor_defs}
    report_job = defs.resolve_job_def("daily_report_job")
    assert {k.to_user_string() for k in report_job.asset_layer.executable_asset_keys} == {"daily_report", "report_distribution"}


def test_a_fired_job_condition_becomes_a_run_request_naming_the_job_and_its_partition(instance) -> None:
    """What the daemon does with a job whose condition fired (Dagster's own `build_run_requests`, internal API of
    dagster 1.13 used by the asset daemon): one request for the named job and the partition, no asset list."""
    from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests

    before_tick = datetime(2025, 10, 24, 0, 0, tzinfo=UTC)
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=before_tick)
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor,
                                             evaluation_time=before_tick + timedelta(minutes=6))
    fired = [r.true_subset for r in tick.results if isinstance(r.key, dg.AssetJobKey) and not r.true_subset.is_empty]
    requests = build_run_requests(fired, defs.resolve_asset_graph(), {}, emit_backfills=True)
    assert [(r.job_name, r.partition_key, r.asset_selection) for r in requests] == [
        ("daily_report_job", "2025-10-23", None),  # 09:05 in Seoul: yesterday's report and its distribution
        ("resonance_scores_job", None, None),  # the */10 (UTC) tick at 00:00 passed too
    ]


def test_resonance_recomputes_on_each_cron_tick_whatever_upstream_did(instance) -> None:
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0)
    assert launched(first, RESONANCE) == set()  # no tick has passed since the first evaluation
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(minutes=10),
                                             cursor=first.cursor)
    assert launched(tick, RESONANCE) == {None}  # the */10 tick passed, nothing upstream changed
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(minutes=11),
                                              cursor=tick.cursor)
    assert launched(again, RESONANCE) == set()  # once per tick


def test_the_full_posterior_fit_runs_on_its_cron_only_after_new_effects(instance) -> None:
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0)
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(hours=1),
                                              cursor=start.cursor)
    assert launched(quiet, POSTERIORS) == set()  # the 15 * * * * tick passed, but no new effects: no refit
    for key, partition in (("rule_effects", "2026-01-05"), ("effect_posteriors_conjugate", None)):
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    fresh = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=T0 + timedelta(hours=2),
                                              cursor=quiet.cursor)
    assert launched(fresh, POSTERIORS) == {None}


REPORT = dg.AssetKey("daily_report")
DISTRIBUTION = dg.AssetKey("report_distribution")
ARCHIVE = dg.AssetKey("archive_bundle")
REPORT_JOB, ARCHIVE_JOB = "daily_report_job", "archive_bundle_job"  # the report job runs report and distribution


@pytest.mark.parametrize("before_tick", [
    datetime(2025, 10, 24, 0, 0, tzinfo=UTC),  # 09:00 in Seoul, the reporting timezone
    datetime(2025, 3, 1, 0, 0, tzinfo=UTC),  # 09:00 on 1 March in Seoul: the previous day is 28 February
])
def test_yesterdays_report_at_0905_and_its_bundle_at_0935_in_the_reporting_timezone(instance, before_tick) -> None:
    """What the 09:05 / 09:35 schedules did, as automation conditions: the reporting day before the tick (the
    latest daily partition is today, still in progress), once per tick, whatever upstream did."""
    yesterday = {(before_tick.astimezone(ZoneInfo("Asia/Seoul")).date() - timedelta(days=1)).isoformat()}
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=before_tick)
    assert launched(start, REPORT_JOB) == launched(start, ARCHIVE_JOB) == set()
    report = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor,
                                               evaluation_time=before_tick + timedelta(minutes=6))
    assert launched(report, REPORT_JOB) == yesterday
    assert launched(report, ARCHIVE_JOB) == set()
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=report.cursor,
                                              evaluation_time=before_tick + timedelta(minutes=7))
    assert launched(quiet, REPORT_JOB) == set()  # once per tick
    archive = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor,
                                                evaluation_time=before_tick + timedelta(minutes=36))
    assert launched(archive, ARCHIVE_JOB) == yesterday and launched(archive, REPORT_JOB) == set()


def test_no_daily_schedules_remain() -> None:
    assert not {s.name for s in defs.schedules or []} & {"daily_report_schedule", "archive_daily_schedule"}


def test_yesterdays_in_toto_step_records_are_signed_at_0950_after_the_archive(instance) -> None:
    """Issue 14: in live operation the trust asset signs what yesterday's steps recorded, after its archive."""
    links = "in_toto_links_job"
    before_tick = datetime(2025, 10, 24, 0, 0, tzinfo=UTC)  # 09:00 in Seoul
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=before_tick)
    archive = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor,
                                                evaluation_time=before_tick + timedelta(minutes=36))
    assert launched(archive, links) == set()
    signed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=archive.cursor,
                                               evaluation_time=before_tick + timedelta(minutes=51))
    assert launched(signed, links) == {"2025-10-23"}


def test_the_daily_assets_carry_a_freshness_policy_and_lumens_instance_runs_its_daemon(tmp_path, monkeypatch) -> None:
    from lumen_assets.runner import instance_yaml

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    graph = defs.resolve_asset_graph()
    for key in (REPORT, DISTRIBUTION, ARCHIVE, dg.AssetKey("in_toto_links")):
        policy = graph.get(key).freshness_policy
        assert policy is not None and policy.fail_window.to_timedelta() == timedelta(hours=26), key
    resonance = graph.get(dg.AssetKey("resonance_scores")).freshness_policy  # the */10 cron: two missed ticks
    assert resonance is not None and resonance.fail_window.to_timedelta() == timedelta(minutes=30)
    # the PyMC fit runs only after new effects: a quiet loop leaves it old, rightly (docs/ARCHITECTURE.md)
    assert graph.get(dg.AssetKey("effect_posteriors")).freshness_policy is None
    (tmp_path / "dagster.yaml").write_text(instance_yaml(), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.freshness_enabled


@pytest.mark.integration
def test_a_real_daemon_starts_a_run_of_the_named_job_from_lumens_automation_sensor(tmp_path, monkeypatch) -> None:
    """The whole path of issue 12 §6 as a deployment runs it: `dagster-daemon` evaluates `lumen_automation_sensor`
    (which claims the conditioned jobs) and submits a run of `resonance_scores_job`, not an `__ASSET_JOB` run.
    The workspace sets the resonance cron to every minute, so a tick passes within about a minute."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from lumen_assets.runner import instance_yaml
    from tests.support.processes import stop_process_group

    workspace, home = tmp_path / "ws", tmp_path / "home"
    workspace.mkdir()
    home.mkdir()
    (workspace / "lumen.yaml").write_text('resonance:\n  schedule_cron: "* * * * *"\n', encoding="utf-8")
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n      module_name: lumen_assets.definitions\n"
        f"      working_directory: {root}\n      location_name: lumen\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage config reads it, here and in the daemon
    env = {**os.environ, "LUMEN_WORKSPACE": str(workspace)}
    env.pop("LUMEN_CONFIG", None)
    log = tmp_path / "daemon.log"
    # the instance's SQLite storage is created here, before the daemon opens it (both creating it at once race)
    with dg.DagsterInstance.from_config(str(home)) as instance, open(log, "wb") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-w", str(tmp_path / "workspace.yaml")],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
        try:
            deadline = time.monotonic() + 300  # daemon start-up, the next minute's tick, a 30 s sensor interval, load
            while not (runs := instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "lumen_automation_sensor"}))):
                assert daemon.poll() is None, log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                time.sleep(3)
            assert "resonance_scores_job" in {run.job_name for run in runs}
            assert "__ASSET_JOB" not in {run.job_name for run in runs}
        finally:
            stop_process_group(daemon)
