"""logs/metrics.csv (seed segA C11/C21): blank cells are missing, bad rows quarantined with their line
numbers, exact duplicates dropped and counted, rows sorted, gaps measured, a wrong header refused."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumen_assets.ingest.metrics import (
    COLUMNS,
    MetricsFormatError,
    measure_gaps,
    read_metrics_csv,
)
from lumen_assets.ingest.metrics_store import read_metrics, write_metrics_store

HEADER = ",".join(COLUMNS)
KST = timezone(timedelta(hours=9))
T0 = datetime(2025, 10, 23, 13, 0, 0, tzinfo=KST)


def _ts(seconds: float, style: str = "colon") -> str:
    moment = T0 + timedelta(seconds=seconds)
    if style == "compact":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    return moment.isoformat(timespec="microseconds")


def _row(seconds: float, values: tuple[str, ...] = ("0.450", "0.250", "0.200", "0.300"), style: str = "colon") -> str:
    return ",".join((_ts(seconds, style), *values))


def _csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_clean_file_is_typed_and_utc(tmp_path: Path) -> None:
    rows = [_row(i * 0.2, style="compact" if i % 2 else "colon") for i in range(10)]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    frame = result.frame
    assert list(frame.columns) == list(COLUMNS)
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert all(frame[c].dtype == np.float64 for c in COLUMNS[1:])
    assert frame["ts"].iloc[0] == pd.Timestamp(T0)
    assert frame["ts"].iloc[9] - frame["ts"].iloc[0] == pd.Timedelta(seconds=1.8)
    assert (result.rows_read, result.quarantined, result.duplicates_dropped, result.out_of_order) == (10, [], 0, 0)


def test_blank_cell_is_missing_not_zero(tmp_path: Path) -> None:
    rows = [_row(0), _row(0.2, ("", "0.250", "0.200", "0.300")), _row(0.4, ("0.450", "0.250", "0.200", ""))]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    frame = result.frame
    assert len(frame) == 3
    assert math.isnan(frame["phase_diff"].iloc[1])
    assert math.isnan(frame["risk_band"].iloc[2])
    assert (frame["phase_diff"] == 0.0).sum() == 0
    assert result.missing_cells == {"phase_diff": 1, "entropy_rate": 0, "creative_band": 0, "risk_band": 1}
    assert result.quarantined == []


def test_blank_cell_is_missing_not_zero_on_the_slow_path_too(tmp_path: Path) -> None:
    rows = [_row(0, ("", "0.250", "0.200", "0.300")), _row(0.2, ("oops", "0.250", "0.200", "0.300"))]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    assert len(result.frame) == 1 and math.isnan(result.frame["phase_diff"].iloc[0])
    assert [q[0] for q in result.quarantined] == [3]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_row(1.0, ("0.450", "0.250", "0.200")), "expected 5 fields, got 4"),
        (_row(1.0, ("0.450", "0.250", "0.200", "0.300", "0.1")), "expected 5 fields, got 6"),
        (_row(1.0, ("0.450", "high", "0.200", "0.300")), "entropy_rate: not a number"),
        (_row(1.0, ("0.450", "0.250", "1.200", "0.300")), "creative_band: 1.2 outside [0, 1]"),
        (_row(1.0, ("-0.001", "0.250", "0.200", "0.300")), "phase_diff: -0.001 outside [0, 1]"),
        ("2025-10-23T13:00:01.000000,0.1,0.1,0.1,0.1", "no UTC offset"),
        (",0.1,0.1,0.1,0.1", "ts:"),
    ],
)
def test_malformed_row_is_quarantined_with_its_line_number(tmp_path: Path, bad: str, reason: str) -> None:
    rows = [_row(0), _row(0.2), bad, _row(1.4), _row(1.6)]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    assert len(result.frame) == 4
    assert len(result.quarantined) == 1
    line_no, why, text = result.quarantined[0]
    assert line_no == 4  # header is line 1
    assert reason in why
    assert text == bad
    assert result.rows_read == 5
    assert result.quarantine_fraction == pytest.approx(1 / 5)


def test_several_bad_rows_keep_their_own_line_numbers(tmp_path: Path) -> None:
    rows = [_row(i * 0.2) if i % 4 else _row(i * 0.2, ("x", "0", "0", "0")) for i in range(1, 21)]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    assert [q[0] for q in result.quarantined] == [i + 1 for i in range(1, 21) if i % 4 == 0]
    assert len(result.frame) == 15


def test_exact_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = [_row(0), _row(0.2), _row(0.2), _row(0.4), _row(0.2), _row(0.6)]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    assert result.duplicates_dropped == 2
    assert len(result.frame) == 4
    assert result.rows_read == 6
    assert result.quarantined == []


@pytest.mark.parametrize("bad_cell", [False, True])  # the Arrow path, and the masked path (one bad cell)
def test_same_timestamp_with_other_values_quarantines_the_later_rows(tmp_path: Path, bad_cell: bool) -> None:
    other = ("0.451", "0.250", "0.200", "0.300")
    rows = [_row(0), _row(0.4), _row(0.2), _row(0.4, other), _row(0.4), _row(0.2, ("0.1", "", "0.2", "0.3")),
            _row(1.0, ("x", "0", "0", "0") if bad_cell else other)]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    quarantined = [(line, reason) for line, reason, _ in result.quarantined]
    conflicts = [(line, reason) for line, reason in quarantined if "same timestamp" in reason]
    assert [line for line, _ in conflicts] == [5, 7]
    assert "same timestamp as line 3, different values" in conflicts[0][1]
    assert "same timestamp as line 4, different values" in conflicts[1][1]
    assert result.duplicates_dropped == 1  # line 6 repeats line 3 exactly
    assert list(result.frame["phase_diff"].iloc[:3]) == [0.45, 0.45, 0.45]  # the first reading of each ts
    assert result.rows_read == len(result.frame) + len(result.quarantined) + result.duplicates_dropped == 7


def test_out_of_order_rows_are_sorted(tmp_path: Path) -> None:
    seconds = [0.0, 0.4, 0.2, 1.0, 0.6, 0.8]
    rows = [_row(s, (f"{s / 2:.3f}", "0.1", "0.1", "0.1")) for s in seconds]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", rows))
    frame = result.frame
    assert frame["ts"].is_monotonic_increasing
    assert list(frame["phase_diff"]) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert result.out_of_order == 2
    assert list(frame.index) == list(range(6))


def test_gaps_are_counted_with_longest_and_total(tmp_path: Path) -> None:
    seconds = [i * 0.2 for i in range(10)] + [1.8 + 5.0 + i * 0.2 for i in range(5)] + [7.6 + 2.0]
    result = read_metrics_csv(_csv(tmp_path / "m.csv", [_row(s) for s in seconds]), 5.0, 2.5)
    assert result.gaps.count == 2
    assert result.gaps.longest_s == pytest.approx(5.0)
    assert result.gaps.total_s == pytest.approx((5.0 - 0.2) + (2.0 - 0.2))


def test_measure_gaps_ignores_steps_within_the_factor() -> None:
    ts_ns = (np.array([0.0, 0.2, 0.4, 0.9, 1.1]) * 1e9).astype(np.int64)  # 0.5 s step = 2.5 periods
    assert measure_gaps(ts_ns, 5.0, 2.5).count == 0
    assert measure_gaps(ts_ns, 5.0, 2.4).count == 1
    assert measure_gaps(ts_ns[:1], 5.0, 2.5).count == 0


@pytest.mark.parametrize(
    "header",
    ["ts,phase_diff,entropy_rate,creative_band", "time,phase_diff,entropy_rate,creative_band,risk_band",
     "ts,entropy_rate,phase_diff,creative_band,risk_band", "2025-10-23T13:00:00+09:00,0.1,0.1,0.1,0.1"],
)
def test_wrong_header_is_a_format_error_naming_file_and_line_1(tmp_path: Path, header: str) -> None:
    path = _csv(tmp_path / "m.csv", [_row(0)], header=header)
    with pytest.raises(MetricsFormatError, match=rf"{path}:1: header"):
        read_metrics_csv(path)


def test_header_with_bom_is_accepted(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", [_row(0)], header="\ufeff" + HEADER)
    assert len(read_metrics_csv(path).frame) == 1


def test_header_with_spaces_after_commas_is_accepted_or_refused_cleanly(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", [_row(0)], header="ts, phase_diff,entropy_rate,creative_band,risk_band")
    try:
        assert len(read_metrics_csv(path).frame) == 1
    except MetricsFormatError as exc:
        assert f"{path}:1" in str(exc)


def test_literal_nan_cell_is_quarantined_not_missing(tmp_path: Path) -> None:
    result = read_metrics_csv(_csv(tmp_path / "m.csv", [_row(0), _row(0.2, ("0.1", "NaN", "0.1", "0.1"))]))
    assert [q[0] for q in result.quarantined] == [3]
    assert len(result.frame) == 1


def test_missing_and_empty_files_are_format_errors(tmp_path: Path) -> None:
    with pytest.raises(MetricsFormatError, match="not found"):
        read_metrics_csv(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(MetricsFormatError, match=rf"{empty}:1"):
        read_metrics_csv(empty)


def test_header_only_file_is_empty_frame(tmp_path: Path) -> None:
    result = read_metrics_csv(_csv(tmp_path / "m.csv", []))
    assert len(result.frame) == 0 and result.rows_read == 0 and result.quarantine_fraction == 0.0


def test_parquet_round_trip_keeps_types_and_missing(tmp_path: Path) -> None:
    rows = [_row(0.2), _row(0, ("", "0.250", "0.200", "0.300"))]
    frame = read_metrics_csv(_csv(tmp_path / "m.csv", rows)).frame
    target = tmp_path / "state" / "metrics"
    write_metrics_store(frame, target)
    back = read_metrics(target)
    pd.testing.assert_frame_equal(back, frame)
    assert str(back["ts"].dtype) == "datetime64[ns, UTC]"
    assert [p.name for p in target.parent.iterdir()] == ["metrics"]  # no temp files left behind


@pytest.mark.parametrize(
    "odd_row",
    [
        pytest.param(_row(0.4, ("nan", "0.250", "0.200", "0.300")), id="literal-nan-cell"),
        pytest.param("2025-10-23T13:00:01+09,0.1,0.1,0.1,0.1", id="hour-only-offset"),
        pytest.param("2025-10-23T13:01+09:00,0.1,0.1,0.1,0.1", id="no-seconds"),
        pytest.param("2025-10-23T13:00:01.123456789+09:00,0.1,0.1,0.1,0.1", id="nanosecond-ts"),
        pytest.param(_row(0.4, (" ", "0.250", "0.200", "0.300")), id="whitespace-cell"),
        pytest.param(_row(0.4, ("1", "0", ".5", "1e-1")), id="number-spellings"),
    ],
)
def test_a_rows_fate_does_not_depend_on_other_rows(tmp_path: Path, odd_row: str) -> None:
    """The same row must be kept (with the same values) or quarantined whether or not another row of the
    file is bad (one bad row switches the reader from the pyarrow path to row-by-row validation)."""
    alone = read_metrics_csv(_csv(tmp_path / "a.csv", [_row(0), odd_row]))
    mixed = read_metrics_csv(_csv(tmp_path / "b.csv", [_row(0), odd_row, _row(0.6, ("x", "0", "0", "0"))]))
    assert [q[0] for q in mixed.quarantined if q[0] != 4] == [q[0] for q in alone.quarantined]
    pd.testing.assert_frame_equal(alone.frame, mixed.frame)


# --- property: nothing is lost --------------------------------------------------------------------------

_cell = st.one_of(st.just(""), st.integers(0, 1000).map(lambda v: f"{v / 1000:.3f}"))
_good = st.tuples(st.integers(0, 600), st.sampled_from(["colon", "compact"]), st.tuples(_cell, _cell, _cell, _cell))
_garbage = st.sampled_from(
    [
        "{ts},0.1,0.1,0.1",
        "{ts},0.1,0.1,0.1,0.1,0.1",
        "{ts},abc,0.1,0.1,0.1",
        "{ts},0.1,0.1,0.1,1.5",
        "{ts},0.1,-0.2,0.1,0.1",
        "2025-10-23T13:00:00,0.1,0.1,0.1,0.1",
        "not a time,0.1,0.1,0.1,0.1",
        "{ts},0.1,0.1,0x10,0.1",
        "garbage",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(st.one_of(_good.map(lambda g: ("good", g)), _garbage.map(lambda g: ("bad", g))), max_size=40),
    repeats=st.lists(st.integers(0, 39), max_size=5),
)
def test_any_mix_of_good_and_garbage_rows_loses_nothing(tmp_path: Path, items: list, repeats: list[int]) -> None:
    lines, good_keys, bad_lines = [], [], []
    for kind, payload in items:
        if kind == "good":
            tenths, style, cells = payload
            lines.append(_row(tenths / 5, cells, style))
            good_keys.append((len(lines) + 1, (pd.Timestamp(T0 + timedelta(seconds=tenths / 5)).value,
                              *(float(c) if c else math.nan for c in cells))))
        else:
            lines.append(payload.format(ts=_ts(1.0)))
            bad_lines.append(len(lines) + 1)
    for index in repeats:  # re-append some good rows verbatim: exact duplicates
        if index < len(items) and items[index][0] == "good":
            lines.append(lines[index])
            good_keys.append((len(lines) + 1, good_keys[sum(1 for k, _ in items[:index] if k == "good")][1]))
    as_key = lambda row: tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)  # noqa: E731
    first_of_ts: dict[int, tuple] = {}
    conflicting_lines = []
    for line_no, key in good_keys:  # the first row of a timestamp stays; a later one with other values is bad
        if key[0] not in first_of_ts:
            first_of_ts[key[0]] = key
        elif as_key(first_of_ts[key[0]]) != as_key(key):
            conflicting_lines.append(line_no)
    path = _csv(tmp_path / "prop.csv", lines)
    result = read_metrics_csv(path)
    frame = result.frame
    assert result.rows_read == len(lines)
    assert result.rows_read == len(frame) + len(result.quarantined) + result.duplicates_dropped
    assert [q[0] for q in result.quarantined] == sorted(bad_lines + conflicting_lines)
    ts = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    kept = [(int(t), *frame.iloc[i, 1:].tolist()) for i, t in enumerate(ts)]
    assert {as_key(r) for r in kept} == {as_key(r) for r in first_of_ts.values()}
    assert len(kept) == len(first_of_ts)
    assert (np.diff(ts) >= 0).all()


_CELL = st.one_of(
    st.sampled_from(["", " ", "0.5", "1", "0", ".25", "1e-1", "nan", "inf", "-0.1", "1.5", "abc", "0.5 ", "+0.3"]),
    st.floats(0, 1).map(lambda v: f"{v:.3f}"),
)
_TS = st.sampled_from([
    "2025-10-23T13:00:01+09:00", "2025-10-23T13:00:02.5+0900", "2025-10-23T13:00:03", "2025-10-23T13:01+09:00",
    "2025-10-23T13:00:04+09", "2025-10-23T13:00:05.123456789+09:00", "garbage", "",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_TS, _CELL, _CELL, _CELL, _CELL), min_size=1, max_size=25))
def test_vectorised_and_row_by_row_validation_agree(tmp_path_factory, rows) -> None:
    """The masked (vectorised) path keeps and quarantines exactly what the row-by-row checker does."""
    from lumen_assets.ingest.metrics import _masked_rows, _slow_rows

    path = tmp_path_factory.mktemp("agree") / "metrics.csv"
    path.write_text(HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    masked = _masked_rows(path)
    slow_frame, slow_quarantined, slow_lines = _slow_rows(path)
    if masked is None:  # Arrow refused the file as a whole (e.g. an impossible date): the Python path runs
        return
    frame, quarantined, lines = masked
    assert sorted(quarantined) == sorted(slow_quarantined)
    assert sorted(lines.tolist()) == sorted(slow_lines.tolist())
    by_time = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    expected = slow_frame.sort_values("ts", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(by_time, expected)
