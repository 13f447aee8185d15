"""logs/environment.csv ingest: the metrics grammar (offset required, blank = missing, bad rows by line)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumen_assets.ingest.environment import (
    DEFAULT_RANGES,
    EnvironmentFormatError,
    check_row,
    read_environment_csv,
    schema_problems,
)

HEADER = "ts,light_intensity,ambient_temp,sound_level"


def _write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "environment.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_blank_cell_is_missing_not_zero(tmp_path: Path) -> None:
    path = _write(tmp_path, ["2025-10-23T09:00:00+09:00,120.5,,41.0", "2025-10-23T09:00:01+0900,121,20.5,40"])
    ingest = read_environment_csv(path)
    assert math.isnan(ingest.frame["ambient_temp"][0])
    assert ingest.missing_cells == {"light_intensity": 0, "ambient_temp": 1, "sound_level": 0}
    assert not ingest.quarantined


def test_bad_rows_are_quarantined_by_line_with_reason(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        "2025-10-23T09:00:00+09:00,120,20,40",
        "2025-10-23T09:00:01,120,20,40",            # line 3: no offset
        "2025-10-23T09:00:02+09:00,-5,20,40",       # line 4: negative lux
        "2025-10-23T09:00:03+09:00,120,20,n/a",     # line 5: not a number
        "2025-10-23T09:00:04+09:00,120,20,250",     # line 6: louder than 194 dB
        "2025-10-23T09:00:05+09:00,120,20",         # line 7: three fields
        "2025-10-23T09:00:06+09:00,120,21,41",
    ])
    ingest = read_environment_csv(path)
    reasons = {line: reason for line, reason, _ in ingest.quarantined}
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "no UTC offset" in reasons[3]
    assert "light_intensity" in reasons[4] and "outside" in reasons[4]
    assert "not a number" in reasons[5]
    assert "sound_level" in reasons[6]
    assert "expected 4 fields" in reasons[7]
    assert len(ingest.frame) == 2 and ingest.rows_read == 7


def test_rows_are_sorted_and_exact_duplicates_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        "2025-10-23T09:00:02+09:00,1,20,40",
        "2025-10-23T09:00:01+09:00,1,20,40",
        "2025-10-23T09:00:02+09:00,1,20,40",
    ])
    ingest = read_environment_csv(path)
    assert ingest.out_of_order == 1 and ingest.duplicates_dropped == 1
    assert ingest.frame["ts"].is_monotonic_increasing and len(ingest.frame) == 2


def test_wrong_header_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, ["2025-10-23T09:00:00+09:00,1,2,3"], header="ts,lux,temp,db")
    with pytest.raises(EnvironmentFormatError, match=r"environment\.csv:1: header"):
        read_environment_csv(path)


def test_configured_ranges_are_honoured(tmp_path: Path) -> None:
    path = _write(tmp_path, ["2025-10-23T09:00:00+09:00,1,45,40"])
    ranges = {**DEFAULT_RANGES, "ambient_temp": (-10.0, 40.0)}
    assert read_environment_csv(path, ranges).quarantined[0][0] == 2
    assert schema_problems(read_environment_csv(path).frame, ranges) == ["ambient_temp: 1 values outside [-10, 40]"]


cell = st.one_of(st.just(""), st.floats(-100, 300, allow_nan=False).map(lambda v: f"{v:.2f}"), st.sampled_from(["x", "1e9", " 5 "]))
row = st.tuples(st.sampled_from(["2025-10-23T09:00:00+09:00", "2025-10-23 09:00:00+0900", "2025-10-23T09:00:00", "bad"]),
                cell, cell, cell)


def _reference(rows: list[tuple[str, ...]]) -> tuple[list[int], int]:
    """Quarantined lines and duplicates by the metrics rules, row by row: bad rows, then per timestamp the first
    row read is kept, an identical later row is a duplicate, a different one is quarantined."""
    bad, first_of = [], {}
    duplicates = 0
    for line, cells in enumerate(rows, start=2):
        checked = check_row(list(cells), DEFAULT_RANGES)
        if isinstance(checked, str):
            bad.append(line)
            continue
        ts_ns, values = checked
        if ts_ns not in first_of:
            first_of[ts_ns] = values
        elif all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(values, first_of[ts_ns], strict=True)):
            duplicates += 1
        else:
            bad.append(line)
    return sorted(bad), duplicates


@settings(max_examples=60, deadline=None)
@given(st.lists(row, min_size=1, max_size=12))
def test_vectorised_path_agrees_with_the_row_checker(tmp_path_factory, rows) -> None:
    path = _write(tmp_path_factory.mktemp("env"), [",".join(r) for r in rows])
    ingest = read_environment_csv(path)
    expected_bad, expected_duplicates = _reference(rows)
    assert [line for line, _, _ in ingest.quarantined] == expected_bad
    assert ingest.duplicates_dropped == expected_duplicates


def test_same_timestamp_with_different_values_is_quarantined_like_metrics(tmp_path: Path) -> None:
    """Two sensors (or a restarted logger) writing the same second: the first reading read is kept, an identical
    one is a counted duplicate, a different one is quarantined by line; never two samples at one instant."""
    path = _write(tmp_path, [
        "2025-10-23T09:00:01+09:00,100,20,40",
        "2025-10-23T09:00:00+09:00,100,20,40",
        "2025-10-23T09:00:01+0900,100,20,40",    # line 4: exact duplicate of line 2 (same instant, same values)
        "2025-10-23T00:00:01Z,250,20,40",        # line 5: the same instant as line 2, other light: quarantined
        "2025-10-23T09:00:02+09:00,100,,40",
        "2025-10-23T09:00:02+09:00,100,,40",     # line 7: blank equals blank: a duplicate, not a conflict
    ])
    ingest = read_environment_csv(path)
    assert ingest.duplicates_dropped == 2
    [(line, reason, raw)] = ingest.quarantined
    assert line == 5 and "same timestamp as line 2, different values" in reason and "250.0" in raw
    assert ingest.frame["light_intensity"].tolist() == [100.0, 100.0, 100.0]
    assert ingest.frame["ts"].is_unique and ingest.rows_read == 6


def test_a_conflict_is_found_whichever_reading_path_the_file_takes(tmp_path: Path) -> None:
    rows = ["2025-10-23T09:00:00+09:00,1,20,40", "2025-10-23T09:00:00+09:00,2,20,40"]
    vectorised = read_environment_csv(_write(tmp_path, rows))
    ragged = tmp_path / "ragged"
    ragged.mkdir()
    row_by_row = read_environment_csv(_write(ragged, [*rows, "2025-10-23T09:00:01+09:00,1,20"]))  # a 3-field row
    assert [q[0] for q in vectorised.quarantined] == [3]
    assert [q[0] for q in row_by_row.quarantined] == [3, 4]
