"""The rule-event sensor (issue 2 §5): cursor across ticks, partial lines, truncation, rotation, a burst of
10,000 events drained in bounded ticks, and runs requested only once the post window has elapsed: one run
per reporting day with due events (the `rule_effects` partition of that day)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

import lumen.sensors.rule_events as sensor_module
from lumen.resources.workspace import LumenWorkspace
from lumen.sensors.rule_events import rule_event_sensor
from lumen_assets.ingest.rules import parse_rule_line

KST = timezone(timedelta(hours=9))
T0 = datetime(2025, 10, 23, 13, 0, 0, tzinfo=KST)
HEADER = "ts,phase_diff,entropy_rate,creative_band,risk_band\n"
DAY = "2025-10-23"  # T0's reporting day (Asia/Seoul)


def event_id_of(record: dict) -> str:
    return parse_rule_line(json.dumps(record), 1).event_id


def run_key(ids: list[str], day: str = DAY) -> str:
    return f"{day}:{ids[-1]}"


def _record(i: int, at: datetime | None = None) -> dict:
    moment = at or T0 + timedelta(seconds=i)
    return {"ts": moment.isoformat(), "actor": ["Lubit", "Sena"][i % 2], "rule": ["creative_min", "risk_max"][i % 2],
            "old": 0.2, "new": round(0.2 + i * 1e-4, 6), "note": f"n{i}"}


class Harness:
    """A workspace plus an ephemeral instance; `tick()` evaluates the sensor like the daemon would."""

    def __init__(self, root: Path, config: str = "") -> None:
        self.root = root
        (root / "controls").mkdir(parents=True)
        (root / "logs").mkdir()
        (root / "lumen.yaml").write_text(config or "{}\n", encoding="utf-8")
        self.history = root / "controls" / "rules_history.jsonl"
        self.metrics = root / "logs" / "metrics.csv"
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None
        self.requested: list[dg.RunRequest] = []
        self.skip_reason: str | None = None

    def append(self, text: str) -> None:
        with open(self.history, "a", encoding="utf-8") as handle:
            handle.write(text)

    def append_events(self, records: list[dict]) -> list[str]:
        self.append("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        return [event_id_of(r) for r in records]

    def metrics_until(self, moment: datetime) -> None:
        self.metrics.write_text(HEADER + f"{moment.isoformat()},0.1,0.1,0.1,0.1\n", encoding="utf-8")

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"workspace": LumenWorkspace(root=str(self.root))}
        )
        result = rule_event_sensor(context)
        assert isinstance(result, dg.SensorResult)
        assert not result.dynamic_partitions_requests  # effects are partitioned by day: nothing to register
        self.cursor = result.cursor
        self.requested += result.run_requests or []
        self.skip_reason = result.skip_reason.skip_message if result.skip_reason else None
        return list(result.run_requests or [])


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    h = Harness(tmp_path / "ws")
    h.metrics_until(T0 + timedelta(days=1))
    return h


def test_two_consecutive_ticks_with_the_returned_cursor(harness: Harness) -> None:
    first_ids = harness.append_events([_record(0), _record(1)])
    first = harness.tick()
    assert [r.run_key for r in first] == [run_key(first_ids)]  # one run for the day's two events
    assert first[0].tags["lumen/events"] == "2"
    assert harness.tick() == []  # nothing new: nothing requested again
    second_ids = harness.append_events([_record(2)])
    second = harness.tick()
    assert [r.run_key for r in second] == [run_key(second_ids)]


def test_run_request_carries_event_id_partition_actor_and_rule(harness: Harness) -> None:
    [event_id] = harness.append_events([_record(1)])
    [request] = harness.tick()
    assert request.run_key == run_key([event_id]) and request.partition_key == DAY
    assert event_id == "2025-10-23T04:00:01Z_risk_max"  # readable: UTC time and rule
    assert request.tags["lumen/actor"] == "Sena"
    assert request.tags["lumen/rule"] == "risk_max"
    assert request.tags["lumen/event_id"] == event_id
    assert request.asset_selection is None  # the sensor's named job decides what runs


def test_partial_last_line_is_taken_once_completed(harness: Harness) -> None:
    [first_id] = harness.append_events([_record(0)])
    line = json.dumps(_record(1))
    harness.append(line[:30])
    assert [r.run_key for r in harness.tick()] == [run_key([first_id])]
    assert harness.tick() == []
    harness.append(line[30:] + "\n")
    assert [r.run_key for r in harness.tick()] == [run_key([event_id_of(_record(1))])]
    assert not (harness.root / "logs" / "quarantine" / "rules_history.sensor.jsonl").exists()


def test_bad_line_is_quarantined_with_its_line_number_and_the_rest_run(harness: Harness) -> None:
    ids = harness.append_events([_record(0)])
    harness.append("{broken\n")
    ids += harness.append_events([_record(2)])
    [request] = harness.tick()
    assert request.run_key == run_key(ids) and request.tags["lumen/events"] == "2"
    records = [json.loads(x) for x in (harness.root / "logs/quarantine/rules_history.sensor.jsonl").read_text().splitlines()]
    assert [(r["line"], r["text"]) for r in records] == [(2, "{broken")]
    assert "not valid JSON" in records[0]["reason"]


def test_truncation_is_read_again_from_the_start(harness: Harness) -> None:
    harness.append_events([_record(i) for i in range(3)])
    assert harness.tick()[0].tags["lumen/events"] == "3"
    with open(harness.history, "w", encoding="utf-8") as handle:  # truncated in place (same inode)
        handle.write(json.dumps(_record(9)) + "\n")
    requests = harness.tick()
    assert [r.run_key for r in requests] == [run_key([event_id_of(_record(9))])]


def test_rotation_to_a_new_file_is_read_from_the_start(harness: Harness) -> None:
    harness.append_events([_record(i) for i in range(2)])
    assert len(harness.tick()) == 1
    os.rename(harness.history, harness.history.with_suffix(".jsonl.1"))
    new_ids = harness.append_events([_record(i) for i in range(10, 15)])  # bigger than the old file
    [request] = harness.tick()
    assert request.run_key == run_key(new_ids) and request.tags["lumen/events"] == "5"


def test_ten_thousand_events_at_once_are_drained_in_bounded_ticks(tmp_path: Path) -> None:
    h = Harness(tmp_path / "ws", "sensor:\n  max_events_per_tick: 700\n  max_bytes_per_tick: 65536\n")
    h.metrics_until(T0 + timedelta(days=1))
    records = [_record(i) for i in range(10_000)]
    ids = h.append_events(records)
    assert len(set(ids)) == 10_000
    ticks, per_tick = 0, []
    while ticks < 200:
        requests = h.tick()
        ticks += 1
        per_tick.append(len(requests))
        if not requests and json.loads(h.cursor)["offset"] == h.history.stat().st_size and not json.loads(h.cursor)["pending"]:
            break
    counts = [int(r.tags["lumen/events"]) for r in h.requested]
    assert max(counts) <= 700  # one run per day per tick, each with at most a tick's worth of events
    assert ticks >= 10_000 // 700
    keys = [r.run_key for r in h.requested]
    assert len(keys) == len(set(keys)) and sum(counts) == 10_000  # none lost, none requested twice
    assert {r.partition_key for r in h.requested} == {DAY}
    assert keys[-1] == run_key(ids)
    assert all(r.tags["lumen/rule"] == "creative_min,risk_max" for r in h.requested)


def test_event_is_requested_only_after_its_post_window_has_elapsed(harness: Harness, monkeypatch) -> None:
    now = datetime.now(KST)
    clock = SimpleNamespace(time_ns=lambda: int(now.timestamp() * 1e9))
    monkeypatch.setattr(sensor_module, "time", clock)
    harness.metrics_until(now + timedelta(minutes=5))
    [event_id] = harness.append_events([_record(0, at=now)])
    assert harness.tick() == []
    due = (now + timedelta(seconds=30)).strftime("%H:%M:%S KST")  # named: the Dagster UI shows UTC
    assert harness.skip_reason == f"event {event_id} (creative_min) waits for its post window until {due} (in 30 s)"
    clock.time_ns = lambda: int((now + timedelta(seconds=29)).timestamp() * 1e9)
    assert harness.tick() == []
    assert harness.skip_reason.endswith(f"until {due} (in 1.0 s)")
    clock.time_ns = lambda: int((now + timedelta(seconds=31)).timestamp() * 1e9)
    day = now.astimezone(ZoneInfo("Asia/Seoul")).date().isoformat()
    assert [(r.run_key, r.partition_key) for r in harness.tick()] == [(run_key([event_id], day), day)]
    assert harness.tick() == []


def test_event_waits_until_the_metrics_cover_its_post_window(harness: Harness) -> None:
    moment = T0 + timedelta(hours=2)
    harness.metrics_until(moment + timedelta(seconds=10))
    [event_id] = harness.append_events([_record(0, at=moment)])
    assert harness.tick() == []
    assert harness.tick() == []
    assert harness.skip_reason == (
        f"metrics do not cover event {event_id} (creative_min) until 2025-10-23 15:00:30 KST yet: the newest "
        "sample is from 2025-10-23 15:00:10 KST (20 s short)")
    harness.metrics_until(moment + timedelta(seconds=31))  # rows past due appended
    assert [r.run_key for r in harness.tick()] == [run_key([event_id])]
    assert harness.skip_reason is None
    assert harness.tick() == []
    assert harness.skip_reason == "no new rule events in controls/rules_history.jsonl; nothing waits"


def test_no_metrics_file_means_nothing_is_requested_yet(harness: Harness) -> None:
    harness.metrics.unlink()
    harness.append_events([_record(0)])
    assert harness.tick() == []
    harness.metrics_until(T0 + timedelta(days=1))
    assert len(harness.tick()) == 1


def test_sensor_is_running_by_default_with_configured_interval() -> None:
    assert rule_event_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert rule_event_sensor.minimum_interval_seconds >= 1


def test_a_tick_is_fast(tmp_path: Path) -> None:
    h = Harness(tmp_path / "ws")
    h.metrics_until(T0 + timedelta(days=1))
    h.append_events([_record(i) for i in range(500)])
    started = time.perf_counter()
    assert h.tick()[0].tags["lumen/events"] == "500"
    assert time.perf_counter() - started < 10


def test_event_runs_are_the_named_job_refreshing_metrics_and_mapping_evidence() -> None:
    """An event's run is `rule_event_job` (not an anonymous `__ASSET_JOB`): it re-ingests metrics, computes
    the day's effects and maps its evidence; the full model never runs on the sensor path."""
    from lumen_assets.definitions import defs

    assert rule_event_sensor.job_name == "rule_event_job"
    job = defs.resolve_job_def("rule_event_job")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert selected == {"rule_events", "metrics", "rule_effects", "quote_bank", "risk_ledger"}
    assert job.partitions_def is not None and job.partitions_def.get_partition_keys()[0] == "2025-01-01"


@pytest.mark.parametrize(("stored_status", "requested"), [("complete", False), ("insufficient", False), ("pending", True)])
def test_events_already_final_in_the_effects_store_are_not_run_again(
    harness: Harness, stored_status: str, requested: bool
) -> None:
    """A new sensor on a workspace `lumen run` already processed does not relaunch every old event."""
    import pandas as pd

    from lumen_assets.effects.table import upsert_effects
    from lumen_assets.effects.window import EFFECT_COLUMNS

    (event_id,) = harness.append_events([_record(0)])
    row = {column: None for column in EFFECT_COLUMNS}
    row.update(rule_ts=_record(0)["ts"], event_id=event_id, status=stored_status, n_pre=150, n_post=150)
    upsert_effects(harness.root / ".lumen" / "effects.parquet", harness.root / "logs" / "rules_effects.csv",
                   pd.DataFrame([row]))
    runs = harness.tick()
    assert [r.run_key for r in runs] == ([run_key([event_id])] if requested else [])
