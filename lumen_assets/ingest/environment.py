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
row checker, so every line number is exact.

The file is ingested incrementally into a day-split Parquet store by the same implementation as metrics
(`lumen_assets.ingest.metrics_store`, with `environment_spec(ranges)`): a durable cursor, only the appended
lines parsed, truncation/rotation/rewrite rebuilds, late rows merged into their day; readers load a time range
(`read_environment`). Pure module: no dagster import.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from lumen_assets.ingest.metrics import (
    Rows,
    SignalIngest,
    Source,
    masked_rows,
    rows_one_by_one,
    settle_rows,
)
from lumen_assets.ingest.metrics_store import (
    IngestRun,
    StoreSpec,
    ingest_signal,
    range_problems,
    read_store,
    write_store,
)
from lumen_assets.ingest.timestamps import TimestampError, parse_timestamp

ENV_SIGNALS = ("light_intensity", "ambient_temp", "sound_level")
ENV_COLUMNS = ("ts", *ENV_SIGNALS)
ENV_UNITS = {"light_intensity": "lux", "ambient_temp": "°C", "sound_level": "dB"}
_FLOAT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

# one parse at a time; the environment's cells are all read as text (no fast numeric path), so smaller blocks:
# 30 days (111 MB) took 2.7 s and 1.13 GB peak in 128 MiB blocks, 1.4 s and 383 MB in 16 MiB blocks
ENV_BLOCK_BYTES = 16 * 1024 * 1024
Ranges = dict[str, tuple[float, float]]
DEFAULT_RANGES: Ranges = {"light_intensity": (0.0, 200_000.0), "ambient_temp": (-60.0, 70.0), "sound_level": (0.0, 194.0)}


class EnvironmentFormatError(ValueError):
    """The file cannot be read as environment samples at all (missing, empty, wrong header)."""


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


def _row_by_row(source: Source, ranges: Ranges, first_line: int = 2) -> Rows:
    return rows_one_by_one(source, ENV_COLUMNS, lambda cells: check_row(cells, ranges), first_line)


def _vectorised(source: Source, ranges: Ranges, first_line: int = 2) -> Rows | None:
    """Every line a four-field row: masks find bad rows (`masked_rows`; a blank line is skipped); None sends
    the file row by row."""

    def check(cells: list[str]) -> tuple[int, list[float]] | str | None:
        return check_row(cells, ranges) if any(cell.strip() for cell in cells) else None

    return masked_rows(source, ENV_COLUMNS, ranges, check, first_line)


def parse_environment(
    source: Source, first_line: int, ranges: Ranges | None = None, sample_rate_hz: float = 1.0,
    gap_factor: float = 2.5,
) -> SignalIngest:
    """Validate and clean rows: a whole file (first_line 2) or a block of appended lines given as bytes that
    start with the header line, whose first row is line `first_line` of the file."""
    ranges = ranges or DEFAULT_RANGES
    fast = _vectorised(source, ranges, first_line)
    rows = fast if fast is not None else _row_by_row(source, ranges, first_line)
    return settle_rows(rows, ENV_SIGNALS, sample_rate_hz, gap_factor)


def check_header(path: Path) -> None:
    with open(path, encoding="utf-8", newline="") as handle:
        header = handle.readline().strip().lstrip("\ufeff")
    if [h.strip() for h in header.split(",")] != list(ENV_COLUMNS):
        raise EnvironmentFormatError(f"{path}:1: header must be {','.join(ENV_COLUMNS)!r}, got {header!r}")


def read_environment_csv(
    path: Path | str, ranges: Ranges | None = None, sample_rate_hz: float = 1.0, gap_factor: float = 2.5
) -> SignalIngest:
    """Read, validate and clean logs/environment.csv (see the module docstring)."""
    path = Path(path)
    ranges = ranges or DEFAULT_RANGES
    if not path.exists():
        raise EnvironmentFormatError(f"{path}: environment file not found")
    if path.stat().st_size == 0:
        raise EnvironmentFormatError(f"{path}:1: empty file (expected the header {','.join(ENV_COLUMNS)!r})")
    check_header(path)
    return parse_environment(path, 2, ranges, sample_rate_hz, gap_factor)


def environment_spec(ranges: Ranges | None = None) -> StoreSpec:
    """The store spec of environment.csv with the configured physical ranges (readers need none)."""
    ranges = dict(ranges or DEFAULT_RANGES)
    return StoreSpec(
        "environment", ENV_COLUMNS,
        lambda source, first_line, rate, gap: parse_environment(source, first_line, ranges, rate, gap),
        check_header, lambda frame: schema_problems(frame, ranges), EnvironmentFormatError,
    )


ENVIRONMENT = environment_spec()


def ingest_environment(
    csv_path: Path | str, store: Path | str, ranges: Ranges | None = None, sample_rate_hz: float = 1.0,
    gap_factor: float = 2.5, block_bytes: int = ENV_BLOCK_BYTES, legacy: Path | None = None,
) -> IngestRun:
    """Add the complete lines appended to environment.csv since the saved cursor to its day-split store
    (`legacy`: the whole-history Parquet of earlier versions, removed once the store is rebuilt from the CSV)."""
    return ingest_signal(environment_spec(ranges), csv_path, store, sample_rate_hz, gap_factor, block_bytes,
                         legacy=legacy)


def read_environment(
    store: Path | str, start: object | None = None, end: object | None = None, columns: list[str] | None = None,
) -> pd.DataFrame:
    """Stored samples with start <= ts < end (either bound optional), sorted; only the days in range are read."""
    return read_store(store, start, end, columns, ENVIRONMENT)


def write_environment_store(frame: pd.DataFrame, store: Path | str) -> None:
    """Replace the store's rows with a cleaned frame (fixtures); the next ingest rebuilds it from the CSV."""
    write_store(frame, store, ENVIRONMENT)


def schema_problems(frame: pd.DataFrame, ranges: Ranges) -> list[str]:
    """What the schema/range/order check reports: columns, values within the configured ranges, sorted ts."""
    return range_problems(frame, ENV_COLUMNS, ranges)
