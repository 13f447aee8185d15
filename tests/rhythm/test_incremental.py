"""rhythm_sync a local day at a time: incremental runs over appended, late and rebuilt inputs write exactly the
bytes a from-scratch run writes, and recompute only the days whose inputs changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lumen_assets.config import LumenConfig
from lumen_assets.ingest.environment import ENV_COLUMNS, ingest_environment, read_environment
from lumen_assets.ingest.metrics import COLUMNS
from lumen_assets.ingest.metrics_store import ingest_metrics, read_metrics
from lumen_assets.rhythm.incremental import chunk_bounds, read_sync_span, synchronize_incrementally
from lumen_assets.rhythm.sync import read_sync_file, synchronize

CONFIG = LumenConfig()
START = pd.Timestamp("2025-10-22T18:00:00+09:00")  # 30 h of data: three local days (Asia/Seoul)


def _env_rows(start_s: int, count: int) -> list[str]:
    rng = np.random.default_rng(start_s)
    t = np.arange(start_s, start_s + count)
    lux = np.clip(800 * np.sin(2 * np.pi * (t / 86400 - 0.25)), 0, None)
    temp = 18 + 0.5 * np.sin(2 * np.pi * t / 7200) + rng.normal(0, 0.05, count)
    sound = 40 + rng.normal(0, 2, count)
    stamps = (START + pd.to_timedelta(t, unit="s")).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    return [f"{s},{lx:.1f},{tp:.3f},{sd:.1f}" for s, lx, tp, sd in zip(stamps, lux, temp, sound, strict=True)]


def _metrics_rows(start_s: int, count: int) -> list[str]:
    t = np.arange(start_s, start_s + count)
    stamps = (START + pd.to_timedelta(t, unit="s")).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    phase = 0.5 + 0.3 * np.sin(2 * np.pi * t / 5400)
    return [f"{s},{p:.4f},0.2,0.3,{0.1 + (i % 50) / 1000:.3f}" for i, (s, p) in enumerate(zip(stamps, phase, strict=True))]


def _append(path: Path, columns: tuple[str, ...], rows: list[str]) -> None:
    new = not path.exists()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write((",".join(columns) + "\n" if new else "") + "".join(r + "\n" for r in rows))


def _sync(root: Path):
    """Ingest both CSVs into the workspace's stores, then bring its rhythm_sync.jsonl up to date."""
    ingest_environment(root / "environment.csv", root / "env")
    ingest_metrics(root / "metrics.csv", root / "metrics", sample_rate_hz=1.0)
    return synchronize_incrementally(root / "env", root / "metrics", root / "rhythm_sync.jsonl", root / "state.json",
                                     CONFIG.rhythm, CONFIG.tz)


def _from_scratch(root: Path, scratch: Path) -> bytes:
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    for name in ("environment.csv", "metrics.csv"):
        shutil.copyfile(root / name, scratch / name)
    assert _sync(scratch).rebuilt == "new"
    return (scratch / "rhythm_sync.jsonl").read_bytes()


def test_incremental_runs_write_what_a_from_scratch_run_writes(tmp_path: Path) -> None:
    ws, scratch = tmp_path / "ws", tmp_path / "scratch"
    ws.mkdir()
    env, met = ws / "environment.csv", ws / "metrics.csv"

    _append(env, ENV_COLUMNS, _env_rows(0, 20 * 3600))
    _append(met, COLUMNS, _metrics_rows(0, 20 * 3600))
    first = _sync(ws)
    assert first.rebuilt == "new" and len(first.chunks) == 2  # 18:00 -> 14:00 the next day: two local days
    assert (ws / "rhythm_sync.jsonl").read_bytes() == _from_scratch(ws, scratch)

    _append(env, ENV_COLUMNS, _env_rows(20 * 3600, 300))  # 300 new rows: only the newest day is recomputed
    _append(met, COLUMNS, _metrics_rows(20 * 3600, 300))
    second = _sync(ws)
    assert second.rebuilt is None and second.first_recomputed == 1 and len(second.recomputed) == 1
    assert (ws / "rhythm_sync.jsonl").read_bytes() == _from_scratch(ws, scratch)

    nothing = _sync(ws)  # no new rows: nothing recomputed, the output untouched
    assert nothing.recomputed == [] and nothing.steps == second.steps

    late = (START + pd.Timedelta(seconds=2 * 3600 + 0.5)).isoformat()  # between two samples of the first day
    _append(env, ENV_COLUMNS, [f"{late},900,25,70", *_env_rows(20 * 3600 + 300, 11 * 3600)])
    _append(met, COLUMNS, [f"{late},0.9,0.2,0.3,0.1", *_metrics_rows(20 * 3600 + 300, 11 * 3600)])
    third = _sync(ws)
    assert third.rebuilt is None and third.first_recomputed == 0 and len(third.chunks) == 3
    assert (ws / "rhythm_sync.jsonl").read_bytes() == _from_scratch(ws, scratch)

    _append(env, ENV_COLUMNS, _env_rows(31 * 3600 + 300, 600))
    fourth = _sync(ws)
    assert fourth.first_recomputed == 2
    assert (ws / "rhythm_sync.jsonl").read_bytes() == _from_scratch(ws, scratch)

    rotated = ws / "environment.new"  # rotated: a shorter file under the name -> store rebuilt -> recomputed
    _append(rotated, ENV_COLUMNS, _env_rows(3600, 10 * 3600))
    os.replace(rotated, env)
    fifth = _sync(ws)
    assert fifth.first_recomputed == 0 and len(fifth.chunks) == 2  # 19:00 -> 05:00
    assert (ws / "rhythm_sync.jsonl").read_bytes() == _from_scratch(ws, scratch)

    (ws / "rhythm_sync.jsonl").write_text("edited by hand\n")  # not the output the state describes: rebuilt
    assert _sync(ws).rebuilt == "output"
    assert (ws / "rhythm_sync.jsonl").read_bytes() == _from_scratch(ws, scratch)


def test_day_by_day_records_match_one_pass_over_the_whole_frame(tmp_path: Path) -> None:
    """Chunking changes where the computation starts, not what it computes (the temperature window is read
    across the day boundary): the same steps, the same values up to rounding."""
    _append(tmp_path / "environment.csv", ENV_COLUMNS, _env_rows(0, 10 * 3600))
    _append(tmp_path / "metrics.csv", COLUMNS, _metrics_rows(0, 10 * 3600))
    run = _sync(tmp_path)
    assert len(run.chunks) == 2
    chunked = pd.read_json(tmp_path / "rhythm_sync.jsonl", lines=True)
    whole = synchronize(read_environment(tmp_path / "env"), CONFIG.rhythm, CONFIG.tz, read_metrics(tmp_path / "metrics"))
    assert len(chunked) == whole.steps == run.steps
    for key in ("d_light", "d_temp", "d_sound", "d_time", "blend"):
        expected = np.array([np.nan if r[key] is None else r[key] for r in whole.records], dtype=float)
        np.testing.assert_allclose(chunked[key].to_numpy(dtype=float), expected, atol=2e-6, equal_nan=True)
    assert [r["metrics"]["n"] for r in whole.records] == [m["n"] for m in chunked["metrics"]]


@pytest.mark.parametrize("step_s", [60, 7])
def test_chunks_are_local_days_on_the_step_grid(step_s: int) -> None:
    step_ns = step_s * 10**9
    first = pd.Timestamp("2025-10-22T23:59:59+09:00").value
    last = pd.Timestamp("2025-10-24T00:00:00+09:00").value
    bounds = chunk_bounds(first, last, CONFIG.tz, step_ns)
    assert len(bounds) == 3 and bounds[0][0] <= first < bounds[-1][1] and last < bounds[-1][1]
    assert all(a % step_ns == 0 and b % step_ns == 0 for a, b in bounds)
    assert all(b == a2 for (_, b), (a2, _) in zip(bounds[:-1], bounds[1:], strict=True))


def test_a_span_of_the_output_is_read_from_the_days_holding_it(tmp_path: Path) -> None:
    _append(tmp_path / "environment.csv", ENV_COLUMNS, _env_rows(0, 10 * 3600))
    _append(tmp_path / "metrics.csv", COLUMNS, _metrics_rows(0, 10 * 3600))
    _sync(tmp_path)
    output, state = tmp_path / "rhythm_sync.jsonl", tmp_path / "state.json"
    whole = read_sync_file(output)
    lo, hi = pd.Timestamp("2025-10-22T23:30:00+09:00").value, pd.Timestamp("2025-10-23T00:30:00+09:00").value
    starts = whole["step_start"].to_numpy(dtype="datetime64[ns]").view("int64")
    expected = whole[(starts >= lo) & (starts < hi)].reset_index(drop=True)
    assert len(expected) == 60  # across local midnight: two days' chunks
    pd.testing.assert_frame_equal(read_sync_span(output, state, lo, hi), expected)
    with open(output, "a", encoding="utf-8") as handle:  # no longer the output the state describes: read whole
        handle.write(whole.iloc[:0].to_json(orient="records", lines=True))
    state.write_text("{}")
    pd.testing.assert_frame_equal(read_sync_span(output, state, lo, hi), expected)
