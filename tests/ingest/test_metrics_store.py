"""The incremental metrics store: only appended lines are read, from a saved offset; truncation, rotation and
in-place rewrites rebuild it; late and re-sent rows merge into their day; readers open only what they need."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from lumen_assets.ingest.metrics import COLUMNS, read_metrics_csv
from lumen_assets.ingest.metrics_store import (
    STATE_FILE,
    event_window_frames,
    ingest_metrics,
    load_state,
    read_metrics,
    stored_days,
    stored_spans,
)
from tests.support.signal_csv import write_signal_csv

KST = timezone(timedelta(hours=9))
T0 = datetime(2025, 10, 23, 8, 59, 0, tzinfo=KST)  # 23:59 UTC on the 22nd: rows cross a UTC day


def _rows(start_s: float, count: int, step_s: float = 0.2, value: str = "0.300") -> list[str]:
    return [
        ",".join(((T0 + timedelta(seconds=start_s + i * step_s)).isoformat(timespec="microseconds"),
                  value, "0.250", "0.200", "0.300"))
        for i in range(count)
    ]


def _write(path: Path, rows: list[str], mode: str = "w", header: bool = True) -> Path:
    return write_signal_csv(path, COLUMNS, rows, mode, header)


def test_a_run_reads_only_the_lines_appended_since_the_saved_offset(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 1000)), tmp_path / "store"
    first = ingest_metrics(csv, store)
    assert (first.reset_reason, first.rows_added) == ("new", 1000)
    size = csv.stat().st_size
    _write(csv, _rows(200, 300), mode="a", header=False)
    second = ingest_metrics(csv, store)
    assert second.reset_reason is None
    assert second.rows_added == second.rows_read == 300
    assert second.bytes_read == csv.stat().st_size - size
    assert ingest_metrics(csv, store).bytes_read == 0
    frame = read_metrics(store)
    assert len(frame) == 1300 and frame["ts"].is_monotonic_increasing
    assert stored_days(store) == ["2025-10-22", "2025-10-23"]


def test_the_store_equals_a_full_read_whatever_the_block_size(tmp_path: Path) -> None:
    rows = _rows(0, 2000)
    rows[700] = rows[700].replace("0.300", "1.7", 1)  # quarantined, with its own line number
    csv = _write(tmp_path / "metrics.csv", rows)
    run = ingest_metrics(csv, tmp_path / "store", block_bytes=4096)
    full = read_metrics_csv(csv)
    pd.testing.assert_frame_equal(read_metrics(tmp_path / "store"), full.frame)
    assert [q[0] for q in run.quarantined] == [q[0] for q in full.quarantined] == [702]
    assert load_state(tmp_path / "store").quarantined == 1


def test_quarantined_appended_line_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 10)), tmp_path / "store"
    ingest_metrics(csv, store)
    _write(csv, [*_rows(2, 2), "garbage,row", *_rows(3, 1)], mode="a", header=False)
    run = ingest_metrics(csv, store)
    assert [(line, reason.split(":")[0]) for line, reason, _ in run.quarantined] == [(14, "expected 5 fields, got 2")]
    assert run.rows_added == 3


def test_half_written_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 5)), tmp_path / "store"
    with open(csv, "a", encoding="utf-8") as handle:
        handle.write(_rows(1, 1)[0][:20])
    run = ingest_metrics(csv, store)
    assert run.rows_added == 5 and run.incomplete_last_line
    with open(csv, "a", encoding="utf-8") as handle:
        handle.write(_rows(1, 1)[0][20:] + "\n")
    run = ingest_metrics(csv, store)
    assert run.rows_added == 1 and not run.incomplete_last_line


def test_truncated_rotated_or_rewritten_file_rebuilds_the_store(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 100)), tmp_path / "store"
    ingest_metrics(csv, store)
    _write(csv, _rows(0, 10))  # truncated in place
    assert ingest_metrics(csv, store).reset_reason == "truncated"
    assert len(read_metrics(store)) == 10
    replacement = _write(tmp_path / "new.csv", _rows(50, 20))
    os.replace(replacement, csv)  # rotated: a new file under the name
    assert ingest_metrics(csv, store).reset_reason == "rotated"
    assert read_metrics(store)["ts"].iloc[0] == pd.Timestamp(T0 + timedelta(seconds=50))
    text = csv.read_text()
    with open(csv, "r+", encoding="utf-8") as handle:  # same length, first row changed in place
        handle.write(text.replace("0.300", "0.400", 1))
    assert ingest_metrics(csv, store).reset_reason == "rewritten"
    assert read_metrics(store)["phase_diff"].iloc[0] == 0.4


def test_late_and_resent_rows_merge_into_their_day_without_duplicates(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 100)), tmp_path / "store"
    ingest_metrics(csv, store)
    resent, late = _rows(10, 5), _rows(0.1, 3)  # 5 exact copies of stored rows, 3 new rows in the past
    _write(csv, [*resent, *late, *_rows(20, 10)], mode="a", header=False)
    run = ingest_metrics(csv, store)
    assert run.duplicates_dropped == 5
    assert run.rows_added == 13
    frame = read_metrics(store)
    assert len(frame) == 113 and frame["ts"].is_monotonic_increasing
    assert not frame.duplicated().any()
    assert load_state(store).rows_stored == 113


def test_a_later_append_with_a_stored_timestamp_and_other_values_is_quarantined(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 100)), tmp_path / "store"
    ingest_metrics(csv, store)
    # line 102: exact copy of a stored row; line 103: a stored timestamp with another value; then new rows
    _write(csv, [*_rows(10, 1), *_rows(10.2, 1, value="0.900"), *_rows(20, 10)], mode="a", header=False)
    run = ingest_metrics(csv, store)
    assert run.duplicates_dropped == 1
    assert [(line, "same timestamp as an already stored row, different values" in reason)
            for line, reason, _ in run.quarantined] == [(103, True)]
    assert run.rows_added == 10
    frame = read_metrics(store)
    assert len(frame) == 110 and (frame["phase_diff"] == 0.3).all()  # the stored reading stayed
    assert load_state(store).quarantined == 1 and load_state(store).rows_stored == 110


def test_a_run_that_died_before_saving_its_cursor_doubles_nothing(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 50)), tmp_path / "store"
    ingest_metrics(csv, store)
    saved = (store / STATE_FILE).read_text()
    _write(csv, _rows(10, 50), mode="a", header=False)
    ingest_metrics(csv, store)
    (store / STATE_FILE).write_text(saved)  # as if the cursor had not been saved
    ingest_metrics(csv, store)
    assert len(read_metrics(store)) == 100


def test_a_workspace_with_the_old_whole_history_parquet_migrates(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "logs" / "metrics.csv", _rows(0, 30)), tmp_path / ".lumen" / "metrics"
    legacy = tmp_path / ".lumen" / "metrics.parquet"
    legacy.parent.mkdir(parents=True)
    read_metrics_csv(csv).frame.to_parquet(legacy)
    run = ingest_metrics(csv, store, legacy=legacy)
    assert run.reset_reason == "migrated" and run.rows_added == 30
    assert not legacy.exists()


def test_readers_filter_by_time_and_event_windows_read_a_day_at_a_time(tmp_path: Path) -> None:
    csv, store = _write(tmp_path / "metrics.csv", _rows(0, 3000, step_s=60)), tmp_path / "store"  # ~2 days
    ingest_metrics(csv, store)
    start, end = pd.Timestamp(T0 + timedelta(hours=5)), pd.Timestamp(T0 + timedelta(hours=6))
    window = read_metrics(store, start, end)
    assert len(window) == 60 and window["ts"].min() == start and window["ts"].max() < end
    assert len(read_metrics(store, columns=["phase_diff"]).columns) == 2
    t0 = np.array([pd.Timestamp(T0 + timedelta(hours=h)).value for h in (1, 2, 30, 31)], dtype=np.int64)
    groups = list(event_window_frames(store, t0, 600, 600, max_span_s=6 * 3600))
    assert [list(p) for p, _ in groups] == [[0, 1], [2, 3]]
    assert all(len(frame) <= 3 * 60 + 21 for _, frame in groups)  # hours 1-2 ±10 min, not two days
    spans = stored_spans(store)
    assert spans[0][0] == pd.Timestamp(T0).value and json.loads((store / STATE_FILE).read_text())["rows_stored"] == 3000
