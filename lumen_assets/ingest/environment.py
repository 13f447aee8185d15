"""logs/environment.csv: the rhythm sensors' 1 Hz stream (seed segC §C1), typed, validated, quarantined.

The seed names the file and its signals but gives no schema; Lumen reads `ts, light_intensity, ambient_temp,
sound_level` (lux, °C, dB). The rules are the metrics file's: the same timestamp grammar (offset required,
`+0900` or `+09:00`), a blank cell is missing (NaN, never 0.0), a bad row is quarantined with its line number
and reason, rows are sorted by time (then reading order), exact duplicates are dropped and counted, and a row
with the timestamp of an earlier row but different values is quarantined with its line (the first one read is
kept, as for metrics: `split_same_timestamps` is shared). Ranges are physical limits from config
(`rhythm.environment`), not [0, 1].

Two paths, one grammar: when every line has four fields, pyarrow reads the cells as text and vectorised masks
find the bad rows, which alone go to the row checker for their reason; otherwise every line goes through the
row checker, so every line number is exact. Pure module: no dagster import.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lumen_assets.ingest.metrics import (
    Rows,
    SignalIngest,
    masked_rows,
    rows_one_by_one,
    settle_rows,
)
from lumen_assets.ingest.timestamps import TimestampError, parse_timestamp

ENV_SIGNALS = ("light_intensity", "ambient_temp", "sound_level")
ENV_COLUMNS = ("ts", *ENV_SIGNALS)
ENV_UNITS = {"light_intensity": "lux", "ambient_temp": "°C", "sound_level": "dB"}
_FLOAT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TS_TYPE = pa.timestamp("ns", tz="UTC")

Ranges = dict[str, tuple[float, float]]
DEFAULT_RANGES: Ranges = {"light_intensity": (0.0, 200_000.0), "ambient_temp": (-60.0, 70.0), "sound_level": (0.0, 194.0)}


class EnvironmentFormatError(ValueError):
    """The file cannot be read as environment samples at all (missing, empty, wrong header)."""


EnvironmentIngest = SignalIngest


def check_row(cells: list[str], ranges: Ranges) -> tuple[int, list[float]] | str:
    """One row's cells -> (ts in ns, values), or the reason it is quarantined."""
    if len(cells) != len(ENV_COLUMNS):
        return f"expected {len(ENV_COLUMNS)} fields, got {len(cells)}"
    try:
        parse_timestamp(cells[0])
        ts_ns = int(pd.Timestamp(cells[0].strip()).value)
    except TimestampError as exc:
        return f"ts: {exc}"
    values: list[float] = []
    for name, cell in zip(ENV_SIGNALS, cells[1:], strict=True):
        cell = cell.strip()
        if cell == "":
            values.append(math.nan)  # a blank cell is missing, never 0.0
            continue
        if not _FLOAT.match(cell):
            return f"{name}: not a number: {cell!r}"
        value = float(cell)
        low, high = ranges[name]
        if not low <= value <= high:
            return f"{name}: {value} {ENV_UNITS[name]} outside [{low:g}, {high:g}]"
        values.append(value)
    return ts_ns, values


def _row_by_row(path: Path, ranges: Ranges) -> Rows:
    return rows_one_by_one(path, ENV_COLUMNS, lambda cells: check_row(cells, ranges))


def _vectorised(path: Path, ranges: Ranges) -> Rows | None:
    """Every line a four-field row: masks find bad rows (`masked_rows`; a blank line is skipped); None sends
    the file row by row."""

    def check(cells: list[str]) -> tuple[int, list[float]] | str | None:
        return check_row(cells, ranges) if any(cell.strip() for cell in cells) else None

    return masked_rows(path, ENV_COLUMNS, ranges, check)


def read_environment_csv(
    path: Path | str, ranges: Ranges | None = None, sample_rate_hz: float = 1.0, gap_factor: float = 2.5
) -> EnvironmentIngest:
    """Read, validate and clean logs/environment.csv (see the module docstring)."""
    path = Path(path)
    ranges = ranges or DEFAULT_RANGES
    if not path.exists():
        raise EnvironmentFormatError(f"{path}: environment file not found")
    if path.stat().st_size == 0:
        raise EnvironmentFormatError(f"{path}:1: empty file (expected the header {','.join(ENV_COLUMNS)!r})")
    with open(path, encoding="utf-8", newline="") as handle:
        header = handle.readline().strip().lstrip("\ufeff")
    if [h.strip() for h in header.split(",")] != list(ENV_COLUMNS):
        raise EnvironmentFormatError(f"{path}:1: header must be {','.join(ENV_COLUMNS)!r}, got {header!r}")
    fast = _vectorised(path, ranges)
    rows = fast if fast is not None else _row_by_row(path, ranges)
    return settle_rows(rows, ENV_SIGNALS, sample_rate_hz, gap_factor)


def write_environment_parquet(frame: pd.DataFrame, path: Path | str) -> None:
    """Atomically write the cleaned frame (temp file + rename)."""
    from lumen_assets.atomic import atomic_open

    with atomic_open(path, "wb") as handle:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)


def read_environment_parquet(path: Path | str) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    return frame


def schema_problems(frame: pd.DataFrame, ranges: Ranges) -> list[str]:
    """What the schema/range/order check reports: columns, values within the configured ranges, sorted ts."""
    problems = []
    if list(frame.columns) != list(ENV_COLUMNS):
        problems.append(f"columns {list(frame.columns)}")
        return problems
    for name in ENV_SIGNALS:
        values = frame[name].to_numpy(dtype="float64")
        low, high = ranges[name]
        bad = ~np.isnan(values) & ((values < low) | (values > high))
        if bad.any():
            problems.append(f"{name}: {int(bad.sum())} values outside [{low:g}, {high:g}]")
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    if len(ts_ns) > 1 and (np.diff(ts_ns) < 0).any():
        problems.append("timestamps not sorted")
    return problems
