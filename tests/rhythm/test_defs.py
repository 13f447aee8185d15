"""The rhythm assets on the demo workspace with an ephemeral instance, and the environment sensor's ticks."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from lumen.resources.workspace import LumenWorkspace
from lumen.sensors.environment import environment_sensor
from lumen_assets.demo import (
    SOUND_BURST_DB,
    TEMP_DRIFT_C_PER_H,
    TEMP_PER_LUX_NORM_C,
    demo_sound_bursts,
)
from lumen_assets.ingest.defs import metrics
from lumen_assets.ingest.environment import read_environment
from lumen_assets.reports.defs import _rhythm_sync
from lumen_assets.rhythm.defs import environment, rhythm_sync
from tests.effects.graph_support import check_evaluations, demo_graph


def _run(demo, assets):
    return dg.materialize(assets, resources=demo.resources, instance=demo.instance, raise_on_error=False)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_environment_and_rhythm_sync_on_the_demo(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path, hours=1.0)
    result = _run(demo, [metrics, environment, rhythm_sync])
    assert result.success
    checks = check_evaluations(result)
    assert checks["environment_schema_range_order"].passed
    assert checks["environment_quarantine_rate"].passed  # one bad row in 3600
    assert not checks["environment_freshness"].passed  # demo data is from 2025
    assert checks["rhythm_blend_coverage"].passed
    quarantine = _jsonl(demo.root / "logs" / "quarantine" / "environment.jsonl")
    assert [q["line"] for q in quarantine] == [1202] and "n/a" in quarantine[0]["reason"]
    records = _jsonl(demo.root / "logs" / "rhythm_sync.jsonl")
    assert len(records) == 60
    assert {"ts", "d_light", "d_temp", "d_sound", "d_time", "blend", "coverage", "corrections", "metrics"} <= set(records[0])
    assert records[5]["metrics"]["n"] == 300  # 5 Hz metrics in a one-minute step

    quotes = [q for q in _jsonl(demo.root / "controls" / "quotes_bank.jsonl") if q.get("kind") == "rhythm"]
    assert [q["event_id"] for q in quotes] == ["rhythm:2025-10-23"]
    assert quotes[0]["quote"].startswith("오늘의 리듬(2025-10-23)")
    again_run = _run(demo, [rhythm_sync])  # again: replaced, not duplicated
    assert again_run.success
    meta = again_run.asset_materializations_for_node("rhythm_sync")[0].metadata
    assert (meta["days_recomputed"].value, meta["steps"].value) == (0, 60)  # nothing new: nothing recomputed
    day = pd.Timestamp("2025-10-23T00:00:00+09:00")  # the report's overlay reads its day's steps only
    overlay = _rhythm_sync(LumenWorkspace(root=str(demo.root)), day, day + pd.Timedelta(days=1))
    assert len(overlay) == 60 and overlay["blend"].notna().all()
    again = [q for q in _jsonl(demo.root / "controls" / "quotes_bank.jsonl") if q.get("kind") == "rhythm"]
    assert len(again) == 1


def test_a_workspace_without_sensors_materialises_empty_and_says_so(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path, hours=0.2)
    (demo.root / "logs" / "environment.csv").unlink()
    result = _run(demo, [environment, rhythm_sync])
    assert result.success
    assert not check_evaluations(result)["environment_freshness"].passed
    assert (demo.root / "logs" / "rhythm_sync.jsonl").read_text() == ""


def test_a_broken_header_fails_naming_file_and_line(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path, hours=0.2)
    path = demo.root / "logs" / "environment.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["ts,lux,temp,db", *lines[1:]]) + "\n")
    result = _run(demo, [environment])
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "logs/environment.csv:1" in failure.step_failure_data.error.message  # workspace-relative


def test_demo_environment_relation_is_recovered(tmp_path: Path) -> None:
    """The demo's temperature = base + drift·h + gain·lux_norm + noise; bursts lift the sound Δ by 2.4."""
    demo = demo_graph(tmp_path, hours=4.0, add_partitions=False)
    assert _run(demo, [environment, rhythm_sync]).success
    frame = read_environment(demo.root / ".lumen" / "environment").dropna()
    hours = (frame["ts"] - frame["ts"].iloc[0]).dt.total_seconds().to_numpy() / 3600
    lux_norm = np.log10(1 + frame["light_intensity"].to_numpy()) / np.log10(1 + 100_000)
    design = np.column_stack([np.ones(len(frame)), hours, lux_norm])
    coef, *_ = np.linalg.lstsq(design, frame["ambient_temp"].to_numpy(), rcond=None)
    assert abs(coef[1] - TEMP_DRIFT_C_PER_H) < 0.05
    assert abs(coef[2] - TEMP_PER_LUX_NORM_C) < 0.3

    records = _jsonl(demo.root / "logs" / "rhythm_sync.jsonl")
    start = pd.Timestamp(records[0]["ts"])
    burst_steps = {int(s // 60) for s, _ in demo_sound_bursts(4.0)}
    d_sound = np.array([r["d_sound"] for r in records])
    steps = np.array([int((pd.Timestamp(r["ts"]) - start).total_seconds() // 60) for r in records])
    in_burst = np.isin(steps, list(burst_steps))
    # a 30 s burst fills half a one-minute step: +SOUND_BURST_DB/10/2 on the step's mean Δ (intensity ratio in log10)
    lift = d_sound[in_burst].mean() - d_sound[~in_burst].mean()
    assert abs(lift - SOUND_BURST_DB / 10 / 2) < 0.1
    found = set(steps[d_sound > d_sound[~in_burst].mean() + 0.6].tolist())
    assert found == burst_steps


def test_environment_sensor_requests_a_run_for_new_rows_only(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path, hours=0.1, add_partitions=False)
    instance = demo.instance
    context = dg.build_sensor_context(instance=instance, resources=demo.resources)
    first = environment_sensor(context)
    assert len(first.run_requests) == 1
    context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=demo.resources)
    second = environment_sensor(context)
    assert second.run_requests == [] and second.cursor == first.cursor
    path = demo.root / "logs" / "environment.csv"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("2025-10-23T09:06:00+09:00,100,20,40\n2025-10-23T09:06:01+09:00,100,20")  # half a line
    context = dg.build_sensor_context(instance=instance, cursor=second.cursor, resources=demo.resources)
    third = environment_sensor(context)
    assert len(third.run_requests) == 1 and third.run_requests[0].run_key != first.run_requests[0].run_key
    assert json.loads(third.cursor)["offset"] < path.stat().st_size  # the half line waits


def test_freshness_passes_for_sensors_that_are_writing_now(tmp_path: Path) -> None:
    """The freshness check can pass: samples up to a few seconds ago (the demo's 2025 data fails it above)."""
    demo = demo_graph(tmp_path, hours=0.1, add_partitions=False)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    rows = [f"{(now - pd.Timedelta(seconds=s)).isoformat()},{100 + s},21.5,42" for s in range(120, 0, -1)]
    (demo.root / "logs" / "environment.csv").write_text(
        "ts,light_intensity,ambient_temp,sound_level\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = _run(demo, [environment])
    checks = check_evaluations(result)
    assert checks["environment_freshness"].passed, checks["environment_freshness"].description
    assert checks["environment_schema_range_order"].passed and checks["environment_quarantine_rate"].passed


def test_rule_effects_are_written_with_and_without_the_rhythm(tmp_path: Path) -> None:
    from lumen_assets.effects.defs import rule_effects
    from lumen_assets.effects.table import read_effects_csv

    demo = demo_graph(tmp_path, hours=1.0, add_partitions=False)
    assert _run(demo, [metrics, environment]).success
    assert dg.materialize([rule_effects], partition_key=demo.event_days[0], resources=demo.resources,
                          instance=demo.instance).success
    result = _run(demo, [rhythm_sync])
    assert result.success
    path = demo.root / "logs" / "rhythm_effects.csv"
    across = pd.read_csv(path)
    effects = read_effects_csv(demo.root / "logs" / "rules_effects.csv")
    complete = effects[effects["status"] == "complete"]
    assert len(across) == len(complete) > 0 and across["event_id"].tolist() == complete["event_id"].tolist()
    assert np.allclose(across["d_phase"], complete["d_phase"].to_numpy(), atol=1e-6)  # "with": as measured
    for short in ("d_phase", "d_entropy", "d_creative", "d_risk"):
        assert across[f"{short}_without_rhythm"].notna().all() and across[f"gain_{short}"].notna().all()
        assert np.allclose(across[f"{short}_without_rhythm"],
                           across[short] - across[f"gain_{short}"] * across[f"rhythm_corr_{short}"], atol=1e-5)
    # the demo's sound bursts start with some events: the creative correction moves across their windows
    assert (across["rhythm_corr_d_creative"].abs() > 0.5).any()
    [materialisation] = result.asset_materializations_for_node("rhythm_sync")
    assert materialisation.metadata["rhythm_effects"].value == "logs/rhythm_effects.csv"


def test_environment_is_incremental_and_keeps_earlier_quarantined_lines(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path, hours=0.2, add_partitions=False)
    (demo.root / ".lumen").mkdir(exist_ok=True)
    (demo.root / ".lumen" / "environment.parquet").write_bytes(b"old whole-history file")  # an earlier version's
    first = _run(demo, [environment])
    assert first.success
    meta = first.asset_materializations_for_node("environment")[0].metadata
    assert meta["read_from"].value == "migrated" and not (demo.root / ".lumen" / "environment.parquet").exists()
    rows = meta["dagster/row_count"].value
    earlier = [q["line"] for q in _jsonl(demo.root / "logs" / "quarantine" / "environment.jsonl")]
    path = demo.root / "logs" / "environment.csv"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("2025-10-23T10:00:00+09:00,100,20,40\n2025-10-23T10:00:01+09:00,100,999,40\n")
    second = _run(demo, [environment])
    meta = second.asset_materializations_for_node("environment")[0].metadata
    assert (meta["rows_read"].value, meta["rows_added"].value, meta["quarantined_rows"].value) == (2, 1, 1)
    assert meta["dagster/row_count"].value == rows + 1
    assert meta["total_quarantined_rows"].value == len(earlier) + 1
    quarantine = _jsonl(demo.root / "logs" / "quarantine" / "environment.jsonl")
    assert [q["line"] for q in quarantine] == [*earlier, len(path.read_text().splitlines())]
    assert "999" in quarantine[-1]["reason"]


def test_day_messages_come_from_the_day_not_the_step_that_straddles_midnight(tmp_path: Path) -> None:
    """With 7 s steps a local day is not a whole number of steps: the chunk after midnight starts with the
    previous day's last step, and that day's message must still describe the day, not that one step."""
    from lumen_assets.ingest.environment import ingest_environment
    from lumen_assets.rhythm.defs import compute_rhythm_sync

    (tmp_path / "lumen.yaml").write_text("rhythm:\n  step_s: 7\n", encoding="utf-8")
    start = pd.Timestamp("2025-10-22T23:00:00+09:00")
    stamps = (start + pd.to_timedelta(np.arange(7200), unit="s")).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "environment.csv").write_text(
        "ts,light_intensity,ambient_temp,sound_level\n" + "".join(f"{s},100,20,45\n" for s in stamps), encoding="utf-8")
    workspace = LumenWorkspace(root=str(tmp_path))
    ingest_environment(workspace.layout.environment_csv, workspace.layout.environment_store)
    run, figures = compute_rhythm_sync(workspace)
    assert len(run.chunks) == 2 and figures["rhythm_quotes"] == 2
    quotes = {q["event_id"]: q for q in _jsonl(tmp_path / "controls" / "quotes_bank.jsonl")}
    records = _jsonl(tmp_path / "logs" / "rhythm_sync.jsonl")
    first_day = [r for r in records if r["ts"].startswith("2025-10-22")]
    assert quotes["rhythm:2025-10-22"]["summary"]["steps"] >= len(first_day) - 1 > 500
