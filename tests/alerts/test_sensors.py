"""The alert sensors end to end: real HTTP receiver and SMTP server on 127.0.0.1, real Dagster instance.

Data breaks an SLO -> the check fails -> one alert per channel; data fixed -> one resolution per channel.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.notifiers_alerts import AlertChannelsResource
from lumen.resources.workspace import LumenWorkspace
from lumen.sensors.alerts import check_alert_sensor, run_failure_alert_sensor
from lumen_assets.resonance.defs import (
    coherence_slo,
    creative_band_slo,
    freshness_slo,
    phase_slo,
    resonance_scores,
    risk_band_slo,
    run_success_slo,
)
from tests.resonance.conftest import write_metrics, write_report

SLO_CHECKS = [coherence_slo, phase_slo, creative_band_slo, risk_band_slo, run_success_slo, freshness_slo]


def configure(root: Path, smtp_port: int, **alerts) -> None:
    config = {
        "resonance": {"schedule_cron": None},
        "alerts": {
            "smtp": {"enabled": True, "host": "127.0.0.1", "port": smtp_port, "recipients": ["oncall@example.com"]},
            "webhook": {"backoff_s": 0.01},
            "ui_base_url": "http://dagster.local:3000",
            **alerts,
        },
    }
    (root / "lumen.yaml").write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML


def resources(root: Path, webhook_url: str | None) -> dict:
    workspace = LumenWorkspace(root=str(root))
    return {
        "workspace": workspace,
        "alert_channels": AlertChannelsResource(workspace=workspace, webhook_url=webhook_url,
                                                webhook_token="tok-not-in-messages"),
    }


def tick(instance, res, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=res) as context:
        result = check_alert_sensor.evaluate_tick(context)
    assert result.run_requests == []
    return result.cursor


def materialize(root, instance):
    result = dg.materialize(
        [resonance_scores, *SLO_CHECKS], resources={"workspace": LumenWorkspace(root=str(root))}, instance=instance
    )
    assert result.success
    return result


def file_alerts(root: Path) -> list[dict]:
    path = root / "logs" / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.integration
def test_one_alert_per_channel_then_one_resolution(tmp_path, http_receiver, smtp_server):
    configure(tmp_path, smtp_server.port)
    res = resources(tmp_path, http_receiver.url)
    instance = dg.DagsterInstance.ephemeral()
    write_report(tmp_path)

    write_metrics(tmp_path, creative=0.10)  # breaks creative_band mean >= 0.22
    materialize(tmp_path, instance)
    cursor = tick(instance, res, None)

    assert len(http_receiver.requests) == 1
    assert len(smtp_server.messages) == 1
    assert len(file_alerts(tmp_path)) == 1
    payload = http_receiver.requests[0]["json"]
    assert payload["text"] == "[Lumen] FIRING WARN: resonance_scores/creative_band_slo"
    body = json.dumps(payload)
    assert "creative_band_mean" in body and "0.1" in body and "http://dagster.local:3000/runs/" in body
    assert "tok-not-in-messages" not in body
    assert smtp_server.messages[0]["Subject"] == payload["text"]
    record = file_alerts(tmp_path)[0]
    assert (record["kind"], record["asset"], record["check"], record["severity"]) == (
        "firing", "resonance_scores", "creative_band_slo", "WARN"
    )

    # still broken, evaluated again: nothing in between
    materialize(tmp_path, instance)
    cursor = tick(instance, res, cursor)
    assert len(http_receiver.requests) == 1 and len(smtp_server.messages) == 1 and len(file_alerts(tmp_path)) == 1

    write_metrics(tmp_path, creative=0.30)  # fixed
    materialize(tmp_path, instance)
    cursor = tick(instance, res, cursor)
    assert len(http_receiver.requests) == 2 and len(smtp_server.messages) == 2 and len(file_alerts(tmp_path)) == 2
    assert http_receiver.requests[1]["json"]["text"] == "[Lumen] RESOLVED WARN: resonance_scores/creative_band_slo"
    assert file_alerts(tmp_path)[1]["since"] is not None

    # a further tick with no new evaluations sends nothing and keeps the cursor
    assert tick(instance, res, cursor) == cursor
    assert len(http_receiver.requests) == 2


def test_bounded_batches_walk_the_backlog_in_order(tmp_path):
    configure(tmp_path, 25, batch_size=2, smtp={"enabled": False})
    res = resources(tmp_path, None)
    instance = dg.DagsterInstance.ephemeral()
    write_report(tmp_path)
    write_metrics(tmp_path, creative=0.10)
    materialize(tmp_path, instance)  # 6 evaluations, one failing
    write_metrics(tmp_path, creative=0.30)
    materialize(tmp_path, instance)  # 6 more, all passing
    cursor, ticks = None, 0
    while True:
        new = tick(instance, res, cursor)
        ticks += 1
        if new == cursor:
            break
        cursor = new
    assert ticks == 7  # 12 evaluations / 2 per tick + one idle tick
    assert [a["kind"] for a in file_alerts(tmp_path)] == ["firing", "resolved"]


def test_rate_limit_suppresses_and_keeps_resolution_silent(tmp_path):
    configure(tmp_path, 25, rate_limit={"max_alerts": 1, "window_s": 3600}, smtp={"enabled": False})
    res = resources(tmp_path, None)
    instance = dg.DagsterInstance.ephemeral()
    write_metrics(tmp_path, creative=0.10, risk=0.5)  # two failing checks, and freshness (no report)
    materialize(tmp_path, instance)
    cursor = tick(instance, res, None)
    assert len(file_alerts(tmp_path)) == 1
    write_metrics(tmp_path, creative=0.30, risk=0.2)
    write_report(tmp_path)
    materialize(tmp_path, instance)
    tick(instance, res, cursor)
    # only the resolution of the alert that was actually sent (and the limit is still spent)
    assert [a["kind"] for a in file_alerts(tmp_path)] == ["firing"]


@dg.asset
def broken_asset():
    raise ConnectionResetError("Connection reset by peer (password=hunter2)")


def _run_failure_sensor(instance, run, res):
    """One evaluation of the run-failure sensor for `run` (in the context's scope: resources nest the workspace)."""
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    with dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
        resources=res,
    ) as context:
        return run_failure_alert_sensor(context.for_run_failure())


def test_run_failure_alert_classifies_without_leaking(tmp_path):
    configure(tmp_path, 25, smtp={"enabled": False})
    res = resources(tmp_path, None)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([broken_asset], instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    _run_failure_sensor(instance, run, res)
    (alert,) = file_alerts(tmp_path)
    assert alert["kind"] == "run_failure" and alert["run_id"] == run.run_id
    assert alert["figures"]["failure_class"] == "network"
    assert alert["asset"] == "broken_asset"
    assert "hunter2" not in json.dumps(alert) and "Connection reset" not in json.dumps(alert)


def test_run_that_will_be_retried_is_skipped(tmp_path):
    configure(tmp_path, 25, smtp={"enabled": False})
    res = resources(tmp_path, None)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([broken_asset], instance=instance, raise_on_error=False, tags={"dagster/will_retry": "true"})
    run = instance.get_run_by_id(result.run_id)
    outcome = _run_failure_sensor(instance, run, res)
    assert isinstance(outcome, dg.SkipReason) and "will be retried" in outcome.skip_message
    assert file_alerts(tmp_path) == []


def test_alerts_work_on_the_instance_lumen_run_creates(tmp_path, monkeypatch):
    """The DAGSTER_HOME that `lumen run` writes (SQLite on disk, not the in-memory test instance) can
    answer the sensor's cross-run query; the run-sharded default SQLite storage cannot."""
    from lumen_assets.runner import instance_yaml

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home), encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the event log's folder is read from it (relocatable)
    configure(tmp_path, 25, smtp={"enabled": False})
    write_report(tmp_path)
    write_metrics(tmp_path, creative=0.10)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        materialize(tmp_path, instance)
        cursor = tick(instance, resources(tmp_path, None), None)
        write_metrics(tmp_path, creative=0.30)
        materialize(tmp_path, instance)
        tick(instance, resources(tmp_path, None), cursor)  # a storage-id cursor: the cross-run query
    assert [(a["kind"], a["check"]) for a in file_alerts(tmp_path)] == [
        ("firing", "creative_band_slo"), ("resolved", "creative_band_slo")
    ]


def test_each_alert_sent_is_recorded_on_the_checked_asset_and_in_the_tick(tmp_path, monkeypatch):
    """Issue 15 §3: the operator sees in the UI which alert went out (channel, check, state), and its link
    points at the webserver's real address ($LUMEN_UI_BASE_URL when the config leaves it null)."""
    configure(tmp_path, 25, smtp={"enabled": False}, ui_base_url=None)
    monkeypatch.setenv("LUMEN_UI_BASE_URL", "http://127.0.0.1:43117/")
    res = resources(tmp_path, None)
    instance = dg.DagsterInstance.ephemeral()
    write_report(tmp_path)
    write_metrics(tmp_path, creative=0.10)
    materialize(tmp_path, instance)
    with dg.build_sensor_context(instance=instance, cursor=None, resources=res) as context:
        result = check_alert_sensor.evaluate_tick(context)
    [observation] = result.asset_events
    assert observation.asset_key == dg.AssetKey("resonance_scores")
    assert observation.metadata["alert"].value == "firing (WARN)"
    assert observation.metadata["check"].value == "creative_band_slo"
    assert observation.metadata["channels"].value == "file: sent"
    assert observation.metadata["run"].value.startswith("http://127.0.0.1:43117/runs/")
    assert "firing WARN alert for resonance_scores/creative_band_slo" in result.skip_message
    assert "sent via file" in result.skip_message and "1 check(s) failing" in result.skip_message
    assert file_alerts(tmp_path)[0]["run_url"].startswith("http://127.0.0.1:43117/runs/")
