"""logs/metrics.csv: the 5 Hz signal stream (seed segA C11), typed, validated and made columnar.

Seed bugs fixed here: a blank cell is missing (NaN), never 0.0; a malformed row is quarantined with its
line number and reason instead of silently skipped; rows are sorted by time instead of trusting file order;
exact duplicate rows are dropped and counted; a row with the timestamp of an earlier row but different values
is quarantined with its line number (the first one read is kept: which of two readings is right is not ours
to guess, and averaging them would invent a sample).

Three paths, one grammar. Clean file: pyarrow parses the CSV and the timestamps. Bad cells: pyarrow reads
the cells as text and vectorised masks find the bad rows, which alone go to the row checker for their
reason (13 M rows with one bad cell: ~16 s). Lines that are not five-field rows (or blank lines): the
row-by-row parser, so every line number is exact. A property test holds the first two to the third.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lumen_assets.ingest.timestamps import ISO_WITH_OFFSET, TimestampError, parse_timestamp
from lumen_assets.signals import SIGNALS

COLUMNS = ("ts", *SIGNALS)
SIGNAL_RANGES = dict.fromkeys(SIGNALS, (0.0, 1.0))  # every metric is a fraction: blank, or within [0, 1]
TS_TYPE = pa.timestamp("ns", tz="UTC")
_FLOAT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class MetricsFormatError(ValueError):
    """The file cannot be read as metrics at all (e.g. a wrong header); names the file and line."""


@dataclass(frozen=True)
class Gaps:
    count: int
    longest_s: float
    total_s: float


@dataclass
class SignalIngest:
    """The cleaned frame of a signal CSV (metrics.csv, environment.csv) plus an account of everything that
    was not kept as-is."""

    frame: pd.DataFrame  # ts: datetime64[ns, UTC] sorted; signals float64 with NaN for missing
    rows_read: int
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)  # (line_no, reason, raw row)
    duplicates_dropped: int = 0
    out_of_order: int = 0
    missing_cells: dict[str, int] = field(default_factory=dict)
    gaps: Gaps = Gaps(0, 0.0, 0.0)
    lines: np.ndarray | None = None  # the file line of each row of `frame` (int64, aligned with it)

    @property
    def quarantine_fraction(self) -> float:
        return len(self.quarantined) / self.rows_read if self.rows_read else 0.0


def _check_header(path: Path) -> None:
    with open(path, encoding="utf-8", newline="") as handle:
        header = handle.readline().strip().lstrip("\ufeff")
    names = header.split(",")
    if names != list(COLUMNS):
        raise MetricsFormatError(
            f"{path}:1: header must be {','.join(COLUMNS)!r}, got {header!r}"
        )


def _all_timestamps_well_formed(column: pa.ChunkedArray) -> bool:
    """True when every ts has exactly the shape the row-by-row parser accepts (Arrow's cast alone would
    also take `+09` or a time without seconds, so a row's fate would depend on the other rows)."""
    pattern = ISO_WITH_OFFSET.pattern

    def chunk_ok(chunk: pa.Array) -> bool:
        return chunk.null_count == 0 and pc.all(pc.match_substring_regex(chunk, pattern)).as_py() is not False

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return all(pool.map(chunk_ok, column.chunks))


Source = Path | bytes  # a file, or a block of CSV bytes that starts with the header line


def _csv_input(source: Source):
    return pa.BufferReader(source) if isinstance(source, bytes) else source


def _fast_table(path: Source) -> tuple[pa.Table, list[str]] | None:
    """Read with pyarrow; None when any cell needs row-by-row validation."""
    invalid_rows: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid_rows.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            _csv_input(path),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"ts": pa.string(), **{s: pa.float64() for s in SIGNALS}},
                null_values=[""],
                strings_can_be_null=False,
                include_columns=list(COLUMNS),
            ),
        )
        if invalid_rows or not _all_timestamps_well_formed(table.column("ts")):
            return None
        ts = pc.cast(table.column("ts"), TS_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
        return None
    for name in SIGNALS:
        column = table.column(name)
        bounds = pc.min_max(column).as_py()  # nulls (blank cells) and NaN are skipped here
        if pc.any(pc.is_nan(column)).as_py():
            return None  # a literal "nan" is not a blank cell: quarantine it with its line
        if bounds["min"] is not None and not (0.0 <= bounds["min"] and bounds["max"] <= 1.0):
            return None  # NaN or out-of-range values: let the row-by-row path name each line
    return table.set_column(0, "ts", ts), invalid_rows


def _check_cells(cells: list[str]) -> tuple[int, list[float]] | str:
    """One row's cells -> (ts in ns, values), or the reason it is quarantined."""
    if len(cells) != len(COLUMNS):
        return f"expected {len(COLUMNS)} fields, got {len(cells)}"
    try:
        parse_timestamp(cells[0])  # validates the shape and the offset
        ts_ns = int(pd.Timestamp(cells[0].strip()).value)  # keeps nanoseconds, as Arrow's cast does
    except TimestampError as exc:
        return f"ts: {exc}"
    values: list[float] = []
    for name, cell in zip(SIGNALS, cells[1:], strict=True):
        cell = cell.strip()
        if cell == "":
            values.append(math.nan)  # a blank cell is missing, never 0.0 (seed bug)
            continue
        if not _FLOAT.match(cell):
            return f"{name}: not a number: {cell!r}"
        value = float(cell)
        if not 0.0 <= value <= 1.0:
            return f"{name}: {value} outside [0, 1]"
        values.append(value)
    return ts_ns, values


Rows = tuple[pd.DataFrame, list[tuple[int, str, str]], np.ndarray]  # frame, quarantined, file line of each row
RowCheck = Callable[[list[str]], tuple[int, list[float]] | str | None]


def signal_frame(
    ts_ns: list[int] | np.ndarray, values: list[list[float]] | np.ndarray, signals: Sequence[str],
) -> pd.DataFrame:
    """`ts` (datetime64[ns, UTC]) and one float64 column per signal."""
    frame = pd.DataFrame(np.asarray(values, dtype="float64").reshape(-1, len(signals)), columns=list(signals))
    frame.insert(0, "ts", pd.to_datetime(np.asarray(ts_ns, dtype="int64"), unit="ns", utc=True))
    return frame


def rows_one_by_one(source: Source, columns: Sequence[str], check_cells: RowCheck, first_line: int = 2) -> Rows:
    """Validate every line in Python with the row checker; keep good rows, quarantine the rest with line
    number and reason. Used when lines are not plain rows (wrong field count, blank lines), so every line
    number is exact. A blank line is skipped. Shared by metrics.csv and environment.csv."""
    good_ts: list[int] = []
    good_values: list[list[float]] = []
    good_lines: list[int] = []
    quarantined: list[tuple[int, str, str]] = []
    handle = (
        StringIO(source.decode("utf-8", errors="replace"), newline="") if isinstance(source, bytes)
        else open(source, encoding="utf-8", errors="replace", newline="")
    )
    with handle:
        handle.readline()
        for line_no, raw in enumerate(handle, start=first_line):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            checked = check_cells(text.split(","))
            if checked is None:
                continue
            if isinstance(checked, str):
                quarantined.append((line_no, checked, text))
                continue
            good_ts.append(checked[0])
            good_values.append(checked[1])
            good_lines.append(line_no)
    return signal_frame(good_ts, good_values, columns[1:]), quarantined, np.asarray(good_lines, dtype="int64")


def _slow_rows(path: Source, first_line: int = 2) -> Rows:
    return rows_one_by_one(path, COLUMNS, _check_cells, first_line)


def masked_rows(
    source: Source, columns: Sequence[str], ranges: Mapping[str, tuple[float, float]], check_cells: RowCheck,
    first_line: int = 2,
) -> Rows | None:
    """Every line is a row of `columns` (`ts`, then the signals) but some cells are bad: find the bad rows
    with vectorised masks (a signal is blank or a number within its inclusive range; line = row +
    `first_line`) and give only those to the row checker `check_cells` for their reason (a string), their
    values (the checker is the reference: what it accepts is kept, after the others) or None (nothing to
    say, e.g. a blank line). Returns (frame, quarantined (line, reason, text), file line of each kept
    row), or None when a line is not a row of `columns` (use the Python path). Shared by metrics.csv
    and environment.csv."""
    signals = list(columns[1:])
    invalid: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            _csv_input(source),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns}, strings_can_be_null=False,
                include_columns=list(columns),
            ),
        )
        if invalid:
            return None
        text = {c: pc.utf8_trim_whitespace(table.column(c)) for c in columns}
        good = _matches(text["ts"], ISO_WITH_OFFSET.pattern)
        numbers = {}
        for name in signals:
            blank = pc.equal(text[name], "")
            numeric = _matches(text[name], _FLOAT.pattern)
            value = pc.cast(pc.if_else(numeric, text[name], pa.scalar(None, pa.string())), pa.float64())
            low, high = ranges[name]
            in_range = pc.and_kleene(pc.greater_equal(value, low), pc.less_equal(value, high))
            good = pc.and_(good, pc.or_(blank, pc.fill_null(in_range, False)))
            numbers[name] = value
        keep = good.to_numpy(zero_copy_only=False)
        ts_ns = pc.cast(pc.filter(text["ts"], good), TS_TYPE).to_numpy(zero_copy_only=False).astype("datetime64[ns]").view("int64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
        return None
    values = np.column_stack(
        [pc.filter(numbers[n], good).to_numpy(zero_copy_only=False).astype("float64") for n in signals]
    ) if len(ts_ns) else np.empty((0, len(signals)))
    raw = {c: table.column(c) for c in columns}
    quarantined, rescued_ts, rescued_values, rescued_lines = [], [], [], []
    lines = np.nonzero(keep)[0].astype("int64") + first_line
    for row in np.nonzero(~keep)[0]:
        cells = [raw[c][int(row)].as_py() for c in columns]
        checked = check_cells(cells)
        if checked is None:
            continue
        if isinstance(checked, str):
            quarantined.append((int(row) + first_line, checked, ",".join(cells)))
        else:
            rescued_ts.append(checked[0])
            rescued_values.append(checked[1])
            rescued_lines.append(int(row) + first_line)
    if rescued_ts:
        ts_ns = np.concatenate([ts_ns, np.asarray(rescued_ts, dtype="int64")])
        values = np.vstack([values, np.asarray(rescued_values, dtype="float64")])
        lines = np.concatenate([lines, np.asarray(rescued_lines, dtype="int64")])
    return signal_frame(ts_ns, values, signals), quarantined, lines


def _masked_rows(path: Source, first_line: int = 2) -> Rows | None:
    """Every line is a five-field row but some cells are bad (`masked_rows`, signals in [0, 1]). None: use
    the Python path."""
    return masked_rows(path, COLUMNS, SIGNAL_RANGES, _check_cells, first_line)


def _matches(column: pa.ChunkedArray, pattern: str) -> pa.ChunkedArray:
    """Regex match over the chunks on all cores (Arrow's kernels run one chunk per call)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        chunks = list(pool.map(lambda chunk: pc.match_substring_regex(chunk, pattern), column.chunks))
    return pa.chunked_array(chunks, type=pa.bool_())


def measure_gaps(ts_ns: np.ndarray, sample_rate_hz: float, gap_factor: float) -> Gaps:
    """Steps longer than `gap_factor` sample periods; total_s is the time missing beyond one period."""
    if len(ts_ns) < 2:
        return Gaps(0, 0.0, 0.0)
    period_s = 1.0 / sample_rate_hz
    steps_s = np.diff(ts_ns) / 1e9
    long_steps = steps_s[steps_s > gap_factor * period_s]
    if not len(long_steps):
        return Gaps(0, 0.0, 0.0)
    return Gaps(int(len(long_steps)), float(long_steps.max()), float((long_steps - period_s).sum()))


def _drop_exact_duplicates(frame: pd.DataFrame, ts_ns: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Drop rows identical in every column (first kept); rows sharing a timestamp with different values stay."""
    same = same_timestamp_rows(frame, ts_ns)
    if same is None:
        return frame, 0
    duplicate, _, _ = same
    if not duplicate.any():
        return frame, 0
    return frame[~duplicate].reset_index(drop=True), int(duplicate.sum())


def same_timestamp_rows(
    frame: pd.DataFrame, ts_ns: np.ndarray, signals: tuple[str, ...] = SIGNALS
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For a frame sorted by time (stably, so rows of one timestamp keep their reading order):
    (exact duplicates of the group's first row, rows that differ from it, the position of that first row),
    as masks/indices over the frame; None when no two rows share a timestamp. Only the rows of shared
    timestamps are compared, vectorised (a blank cell equals a blank cell)."""
    if len(ts_ns) < 2:
        return None
    same = np.diff(ts_ns) == 0
    if not same.any():
        return None
    group_start = np.r_[True, ~same]  # the first row of each run of equal timestamps
    first = np.maximum.accumulate(np.where(group_start, np.arange(len(ts_ns)), 0))
    later = np.nonzero(~group_start)[0]
    values = frame.loc[:, list(signals)].to_numpy(dtype="float64")
    a, b = values[later], values[first[later]]
    equal = ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)
    duplicate = np.zeros(len(ts_ns), dtype=bool)
    conflict = np.zeros(len(ts_ns), dtype=bool)
    duplicate[later[equal]] = True
    conflict[later[~equal]] = True
    return duplicate, conflict, first


def _row_text(frame: pd.DataFrame, position: int, signals: tuple[str, ...] = SIGNALS) -> str:
    row = frame.iloc[position]
    cells = [row["ts"].isoformat()] + ["" if math.isnan(row[s]) else repr(float(row[s])) for s in signals]
    return ",".join(cells)


def conflict_reason(frame: pd.DataFrame, position: int, first_line: int | None) -> str:
    where = f"line {first_line}" if first_line is not None and first_line >= 0 else "an already stored row"
    return f"ts {frame['ts'].iloc[position].isoformat()}: same timestamp as {where}, different values"


def split_same_timestamps(
    frame: pd.DataFrame, ts_ns: np.ndarray, lines: np.ndarray, signals: tuple[str, ...] = SIGNALS,
) -> tuple[pd.DataFrame, np.ndarray, int, list[tuple[int, str, str]]]:
    """Drop exact duplicates (counted) and quarantine rows whose timestamp an earlier row already has with
    different values (file line, reason, the row as read). `lines` < 0 marks rows with no line (stored).
    `signals` names the value columns (the metrics' four; the environment file reuses this for its three)."""
    same = same_timestamp_rows(frame, ts_ns, signals)
    if same is None:
        return frame, lines, 0, []
    duplicate, conflict, first = same
    quarantined = [
        (int(lines[p]), conflict_reason(frame, int(p), int(lines[first[p]])), _row_text(frame, int(p), signals))
        for p in np.nonzero(conflict)[0]
    ]
    keep = ~(duplicate | conflict)
    if keep.all():
        return frame, lines, 0, quarantined
    return frame[keep].reset_index(drop=True), lines[keep], int(duplicate.sum()), quarantined


def read_metrics_csv(path: Path | str, sample_rate_hz: float = 5.0, gap_factor: float = 2.5) -> SignalIngest:
    """Read, validate and clean logs/metrics.csv (see module docstring for what cleaning means)."""
    path = Path(path)
    if not path.exists():
        raise MetricsFormatError(f"{path}: metrics file not found")
    if path.stat().st_size == 0:
        raise MetricsFormatError(f"{path}:1: empty file (expected the header {','.join(COLUMNS)!r})")
    _check_header(path)
    return parse_metrics(path, 2, sample_rate_hz, gap_factor)


def parse_metrics(source: Source, first_line: int, sample_rate_hz: float = 5.0, gap_factor: float = 2.5) -> SignalIngest:
    """Validate and clean CSV rows: a whole file (first_line 2) or a block of appended lines, given as bytes
    that start with the header line, whose first row is line `first_line` of the file."""
    fast = _fast_table(source)
    if fast is not None:
        table, _ = fast
        frame = table.to_pandas()
        frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
        quarantined: list[tuple[int, str, str]] = []
        lines = np.arange(len(frame), dtype="int64") + first_line
    else:
        masked = _masked_rows(source, first_line)
        frame, quarantined, lines = masked if masked is not None else _slow_rows(source, first_line)
    return settle_rows((frame, quarantined, lines), SIGNALS, sample_rate_hz, gap_factor)


def settle_rows(rows: Rows, signals: tuple[str, ...], sample_rate_hz: float, gap_factor: float) -> SignalIngest:
    """The read rows as the ingest keeps them: sorted by time, then in reading order (rescued rows come
    last; the first reading of an instant is kept), exact repeats dropped and counted, a second reading of an
    instant with other values quarantined; missing cells, out-of-order rows and gaps counted. Shared by
    metrics.csv and environment.csv."""
    frame, quarantined, lines = rows
    rows_read = len(frame) + len(quarantined)
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    out_of_order = int((np.diff(ts_ns) < 0).sum()) if len(ts_ns) > 1 else 0
    if out_of_order or (len(lines) > 1 and (np.diff(lines) < 0).any()):
        order = np.lexsort((lines, ts_ns))
        frame, lines = frame.iloc[order].reset_index(drop=True), lines[order]
        ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    frame, lines, duplicates, conflicts = split_same_timestamps(frame, ts_ns, lines, signals)
    if conflicts:
        quarantined = sorted([*quarantined, *conflicts], key=lambda q: q[0])
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    return SignalIngest(
        frame=frame,
        rows_read=rows_read,
        lines=lines,
        quarantined=quarantined,
        duplicates_dropped=duplicates,
        out_of_order=out_of_order,
        missing_cells={name: int(frame[name].isna().sum()) for name in signals},
        gaps=measure_gaps(ts_ns, sample_rate_hz, gap_factor),
    )
