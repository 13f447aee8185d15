"""logs/environment.csv through the metrics store's implementation: only appended lines are parsed, a truncated
file rebuilds the store, a half-written line waits, late rows merge into their day, the environment's own rules
(ranges, blank = missing, conflicting readings) hold block by block."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from lumen_assets.ingest.environment import (
    ENV_COLUMNS,
    ingest_environment,
    read_environment,
    read_environment_csv,
)
from lumen_assets.ingest.metrics_store import load_state, stored_days
from tests.support.signal_csv import write_signal_csv

KST = timezone(timedelta(hours=9))
T0 = datetime(2025, 10, 23, 8, 55, 0, tzinfo=KST)  # 23:55 UTC on the 22nd: rows cross a UTC day


def _rows(start_s: int, count: int, temp: str = "20.5") -> list[str]:
    return [f"{(T0 + timedelta(seconds=start_s + i)).isoformat()},{120 + i % 7},{temp},{40 + i % 3}"
            for i in range(count)]


def _write(path: Path, rows: list[str], mode: str = "w", header: bool = True) -> Path:
    return write_signal_csv(path, ENV_COLUMNS, rows, mode, header)


def test_appending_300_rows_parses_only_those(tmp_path: Path) -> None:
    store = tmp_path / "store"
    csv = _write(tmp_path / "environment.csv", _rows(0, 1000))
    assert ingest_environment(csv, store).reset_reason == "new"
    size = csv.stat().st_size
    _write(csv, _rows(1000, 300), mode="a", header=False)
    run = ingest_environment(csv, store)
    assert (run.reset_reason, run.rows_read, run.rows_added, run.bytes_read) == (None, 300, 300, csv.stat().st_size - size)
    assert ingest_environment(csv, store).bytes_read == 0  # nothing new: nothing read
    frame = read_environment(store)
    assert len(frame) == 1300 and frame["ts"].is_monotonic_increasing
    assert stored_days(store) == ["2025-10-22", "2025-10-23"]
    pd.testing.assert_frame_equal(frame, read_environment_csv(csv).frame)  # the store equals a full read
    state = load_state(store)
    assert state.rows_stored == 1300 and state.last_ts_ns == frame["ts"].iloc[-1].value


def test_the_environment_rules_hold_block_by_block(tmp_path: Path) -> None:
    """Blank = missing, out-of-range and conflicting rows quarantined by file line, in small blocks too."""
    rows = _rows(0, 400)
    rows[10] = rows[10].replace(",20.5,", ",,")  # blank: missing, kept
    rows[20] = rows[20].replace(",20.5,", ",99,")  # 99 °C: outside the default range
    rows[30] = _rows(29, 1, temp="21.0")[0]  # the instant of row 29 with another value: conflict
    csv = _write(tmp_path / "environment.csv", rows)
    run = ingest_environment(csv, tmp_path / "store", ranges={"light_intensity": (0, 1e5), "ambient_temp": (-60, 70),
                                                              "sound_level": (0, 194)}, block_bytes=2048)
    full = read_environment_csv(csv)
    pd.testing.assert_frame_equal(read_environment(tmp_path / "store"), full.frame)
    assert sorted(q[0] for q in run.quarantined) == sorted(q[0] for q in full.quarantined) == [22, 32]
    assert np.isnan(read_environment(tmp_path / "store")["ambient_temp"].iloc[10])
    assert load_state(tmp_path / "store").missing_cells["ambient_temp"] == 1


def test_truncated_or_rotated_file_rebuilds_the_store(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "environment.csv", _rows(0, 100)), tmp_path / "store"
    ingest_environment(csv, store)
    _write(csv, _rows(0, 10))  # truncated in place
    assert ingest_environment(csv, store).reset_reason == "truncated"
    assert len(read_environment(store)) == 10
    os.replace(_write(tmp_path / "new.csv", _rows(50, 20)), csv)  # rotated
    assert ingest_environment(csv, store).reset_reason == "rotated"
    frame = read_environment(store)
    assert len(frame) == 20 and frame["ts"].iloc[0] == pd.Timestamp(T0 + timedelta(seconds=50))


def test_a_half_written_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "environment.csv", _rows(0, 5)), tmp_path / "store"
    line = _rows(5, 1)[0]
    with open(csv, "a", encoding="utf-8") as handle:
        handle.write(line[:15])
    run = ingest_environment(csv, store)
    assert run.rows_added == 5 and run.incomplete_last_line
    with open(csv, "a", encoding="utf-8") as handle:
        handle.write(line[15:] + "\n")
    run = ingest_environment(csv, store)
    assert run.rows_added == 1 and not run.incomplete_last_line and not run.quarantined


def test_late_rows_merge_into_their_day_and_conflicts_are_quarantined(tmp_path: Path) -> None:
    rows = _rows(0, 600)
    csv, store = _write(tmp_path / "environment.csv", rows), tmp_path / "store"
    ingest_environment(csv, store)
    late = [f"{(T0 + timedelta(seconds=10.5)).isoformat()},1,2,3"]  # between two stored samples, the 22nd UTC
    resent = rows[100:102]  # exact copies
    conflict = [rows[200].replace(",20.5,", ",25.0,")]  # a stored instant, another value
    _write(csv, [*late, *resent, *conflict, *_rows(600, 5)], mode="a", header=False)
    run = ingest_environment(csv, store)
    assert run.duplicates_dropped == 2 and run.out_of_order >= 4
    assert [line for line, reason, _ in run.quarantined] == [605]
    assert "already stored row" in run.quarantined[0][1]
    assert run.rows_added == 6 and "2025-10-22" in run.days_written
    frame = read_environment(store)
    assert len(frame) == 606 and frame["ts"].is_monotonic_increasing and not frame["ts"].duplicated().any()
    assert frame.loc[frame["ts"] == pd.Timestamp(T0 + timedelta(seconds=200)), "ambient_temp"].tolist() == [20.5]
    state = load_state(store)
    assert (state.rows_stored, state.quarantined, state.duplicates_dropped) == (606, 1, 2)


def test_the_old_whole_history_parquet_is_replaced_by_a_rebuild_from_the_csv(tmp_path: Path) -> None:
    csv = _write(tmp_path / "logs" / "environment.csv", _rows(0, 30))
    legacy = tmp_path / ".lumen" / "environment.parquet"
    legacy.parent.mkdir(parents=True)
    read_environment_csv(csv).frame.iloc[:5].to_parquet(legacy)  # stale: the CSV is the source of truth
    run = ingest_environment(csv, tmp_path / ".lumen" / "environment", legacy=legacy)
    assert run.reset_reason == "migrated" and run.rows_added == 30
    assert not legacy.exists()


def test_range_reads_open_only_the_days_asked_for(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "environment.csv", _rows(0, 600)), tmp_path / "store"
    ingest_environment(csv, store)
    midnight = pd.Timestamp("2025-10-23T00:00:00Z")
    after = read_environment(store, midnight)
    before = read_environment(store, None, midnight, columns=["ts", "sound_level"])
    assert len(after) + len(before) == 600 and (after["ts"] >= midnight).all()
    assert list(before.columns) == ["ts", "sound_level"]
    (store / "date=2025-10-22").rename(tmp_path / "moved")  # a read after midnight never opens the 22nd
    assert len(read_environment(store, midnight)) == len(after)
