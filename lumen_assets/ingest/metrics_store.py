"""The signal stores: an appended CSV made columnar incrementally, one Parquet folder per UTC day.

One implementation serves both signal streams, parameterised by a `StoreSpec` (columns, block parser, header
check, schema check): `METRICS` here for logs/metrics.csv (5 Hz) and `lumen_assets.ingest.environment`'s spec
for logs/environment.csv (1 Hz). The loop appends rows to logs/metrics.csv; re-reading a year of it (158 M
rows, ~9.5 GB) on every run is impossible on one machine. So ingest keeps a durable cursor (byte offset, line number and file identity,
the same truncation/rotation/rewrite detection as the rule-event sensor, `ingest.tail`) and parses only the
complete lines appended since, in bounded blocks, into

    STATE_DIR/<store>/date=YYYY-MM-DD/part-<first byte offset>.parquet     (hive layout, UTC days)
    STATE_DIR/<store>/_ingest_state.json                                   (cursor and running counts)

A part is named by the byte offset its rows came from, so a run that dies before saving the cursor
rewrites the same files when it runs again (nothing doubled). Rows older than the newest stored sample
(late or re-sent rows) are merged into their day, sorted and de-duplicated there. When the file was
truncated, rotated or rewritten in place, the store is rebuilt from the new file (the CSV is the source of
truth, as when every run re-read it). A half-written last line waits for its newline.

Readers load only what they need through pyarrow dataset filters (the day folders prune the files, the
`ts` filter the rows): `read_store(store, start, end, spec=...)` (`read_metrics` for metrics), `event_window_frames(...)` for rule-event
windows, `stored_days(store)` for the days covered.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from lumen_assets.atomic import atomic_open, atomic_write_text
from lumen_assets.ingest.metrics import (
    COLUMNS,
    SIGNAL_RANGES,
    SIGNALS,
    TS_TYPE,
    MetricsFormatError,
    SignalIngest,
    _check_header,
    measure_gaps,
    parse_metrics,
    split_same_timestamps,
)
from lumen_assets.ingest.tail import HEAD_BYTES, TailCursor, _head_hash, reset_reason

STATE_FILE = "_ingest_state.json"
BLOCK_BYTES = 128 * 1024 * 1024  # one parse at a time: bounds memory whatever the backlog
COMPACT_PARTS = 48  # a day with more part files than this is rewritten as one
NS_PER_DAY = 86_400 * 10**9


def signal_schema(signals: tuple[str, ...]) -> pa.Schema:
    return pa.schema([("ts", TS_TYPE), *[(name, pa.float64()) for name in signals]])


SCHEMA = signal_schema(SIGNALS)


def range_problems(frame: pd.DataFrame, columns: tuple[str, ...], ranges: dict[str, tuple[float, float]]) -> list[str]:
    """What the schema/range/order check reports: the columns, values within their inclusive ranges or
    missing, sorted ts."""
    if list(frame.columns) != list(columns):
        return [f"columns {list(frame.columns)}"]
    problems = []
    for name in columns[1:]:
        values = frame[name].to_numpy(dtype="float64")
        low, high = ranges[name]
        bad = ~np.isnan(values) & ((values < low) | (values > high))
        if bad.any():
            problems.append(f"{name}: {int(bad.sum())} values outside [{low:g}, {high:g}]")
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    if len(ts_ns) > 1 and (np.diff(ts_ns) < 0).any():
        problems.append("timestamps not sorted")
    return problems


def metrics_schema_problems(frame: pd.DataFrame) -> list[str]:
    return range_problems(frame, COLUMNS, SIGNAL_RANGES)


@dataclass(frozen=True)
class StoreSpec:
    """What one signal CSV is: its columns (`ts` first), how a block of its lines is parsed and validated
    (`parse(block bytes starting with the header line, first line number, sample rate, gap factor)`), how its
    header is checked (raises `error` naming file and line), and the schema/range/order check of cleaned rows."""

    name: str
    columns: tuple[str, ...]
    parse: Callable[[bytes, int, float, float], SignalIngest]
    check_header: Callable[[Path], None]
    problems: Callable[[pd.DataFrame], list[str]]
    error: type[ValueError] = ValueError

    @property
    def signals(self) -> tuple[str, ...]:
        return self.columns[1:]

    @property
    def schema(self) -> pa.Schema:
        return signal_schema(self.signals)


METRICS = StoreSpec("metrics", COLUMNS, parse_metrics, _check_header, metrics_schema_problems, MetricsFormatError)


@dataclass
class StoreState:
    """The cursor into the CSV and running counts over everything ingested since the last rebuild."""

    offset: int = 0
    line_no: int = 1  # lines consumed, the header included
    inode: int = 0
    device: int = 0
    head_len: int = 0
    head_sha256: str = ""
    rows_read: int = 0
    rows_stored: int = 0
    quarantined: int = 0
    duplicates_dropped: int = 0
    out_of_order: int = 0
    missing_cells: dict[str, int] = field(default_factory=dict)  # per signal, filled as rows arrive
    gap_count: int = 0
    gap_longest_s: float = 0.0
    gap_total_s: float = 0.0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None

    def cursor(self) -> TailCursor:
        return TailCursor(self.offset, self.line_no, self.inode, self.device, self.head_len, self.head_sha256)

    @property
    def quarantine_fraction(self) -> float:
        return self.quarantined / self.rows_read if self.rows_read else 0.0


@dataclass
class IngestRun:
    """What one ingest call did: the rows it added, what it quarantined, and the state it left."""

    state: StoreState
    reset_reason: str | None = None  # "new", "migrated", "rotated", "truncated", "rewritten" or None
    bytes_read: int = 0
    rows_read: int = 0
    rows_added: int = 0
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)
    duplicates_dropped: int = 0
    out_of_order: int = 0
    days_written: list[str] = field(default_factory=list)
    incomplete_last_line: bool = False
    problems: list[str] = field(default_factory=list)  # schema/range/order problems in what was written

    def figures(self) -> dict[str, object]:
        """This run's figures beside the store's totals, as the ingest assets show them."""
        state = self.state
        first, last = (None if ns is None else pd.Timestamp(ns, tz="UTC") for ns in (state.first_ts_ns, state.last_ts_ns))
        return {
            "dagster/row_count": state.rows_stored,
            "rows_added": self.rows_added,
            "rows_read": self.rows_read,
            "bytes_read": self.bytes_read,
            "read_from": self.reset_reason or "saved offset",
            "incomplete_last_line": self.incomplete_last_line,
            "quarantined_rows": len(self.quarantined),
            "duplicates_dropped": self.duplicates_dropped,
            "out_of_order_rows": self.out_of_order,
            "total_rows_read": state.rows_read,
            "total_quarantined_rows": state.quarantined,
            "total_duplicates_dropped": state.duplicates_dropped,
            "missing_cells": sum(state.missing_cells.values()),
            "gaps": state.gap_count,
            "gap_longest_s": state.gap_longest_s,
            "gap_total_s": state.gap_total_s,
            "first_ts": str(first),
            "last_ts": str(last),
        }


def load_state(store: Path) -> StoreState | None:
    path = store / STATE_FILE
    if not path.exists():
        return None
    try:
        return StoreState(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None  # an unreadable state means a rebuild from the CSV, never a guess


def _save_state(store: Path, state: StoreState) -> None:
    atomic_write_text(store / STATE_FILE, json.dumps(asdict(state), separators=(",", ":")))


def _day_of(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")


def _write_table(path: Path, table: pa.Table) -> None:
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle, row_group_size=256 * 1024)


def _frame_table(frame: pd.DataFrame, spec: StoreSpec) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=spec.schema, preserve_index=False)



def _merge_late(store: Path, late: pd.DataFrame, late_lines: np.ndarray, part_name: str, run: IngestRun,
                spec: StoreSpec) -> int:
    """Rows at or before the newest stored sample: merge each affected day, sort, drop exact duplicates and
    quarantine rows whose timestamp a stored row already has with other values (the stored row stays).
    Returns how many rows were quarantined."""
    ts_ns = late["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    day_index = ts_ns // NS_PER_DAY
    quarantined = 0
    for day_number in np.unique(day_index):
        day = _day_of(int(day_number) * NS_PER_DAY)
        folder = store / f"date={day}"
        old_parts = sorted(folder.glob("part-*.parquet")) if folder.exists() else []
        pieces = [read_parquet_frame(p, spec) for p in old_parts]
        stored_rows = sum(len(piece) for piece in pieces)
        in_day = day_index == day_number
        pieces.append(late[in_day])
        merged = pd.concat(pieces, ignore_index=True)
        lines = np.r_[np.full(stored_rows, -1, dtype="int64"), late_lines[in_day]]  # stored rows: no line
        merged_ns = merged["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        order = np.argsort(merged_ns, kind="stable")  # stored rows first within a timestamp: they stay
        merged, lines = merged.iloc[order].reset_index(drop=True), lines[order]
        merged_ns = merged_ns[order]
        merged, _, dropped, conflicts = split_same_timestamps(merged, merged_ns, lines, spec.signals)
        run.quarantined.extend(conflicts)
        quarantined += len(conflicts)
        run.duplicates_dropped += dropped
        run.rows_added += int(in_day.sum()) - dropped - len(conflicts)
        target = folder / part_name.replace(".parquet", "-merged.parquet")  # beside this block's own part
        _write_table(target, _frame_table(merged, spec))
        for part in old_parts:
            if part != target:
                part.unlink()
        run.days_written.append(day)
    return quarantined


def _append(store: Path, frame: pd.DataFrame, part_name: str, run: IngestRun, spec: StoreSpec) -> None:
    """Rows after the newest stored sample: one new part file per UTC day they fall on."""
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    day_index = ts_ns // NS_PER_DAY
    bounds = np.r_[0, np.nonzero(np.diff(day_index))[0] + 1, len(ts_ns)]
    table = _frame_table(frame, spec)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        day = _day_of(int(ts_ns[start]))
        folder = store / f"date={day}"
        _write_table(folder / part_name, table.slice(int(start), int(stop - start)))
        run.days_written.append(day)
        run.rows_added += int(stop - start)
        parts = list(folder.glob("part-*.parquet"))
        if len(parts) > COMPACT_PARTS:
            compact_day(folder, spec)


def compact_day(folder: Path, spec: StoreSpec = METRICS) -> None:
    """Rewrite a day's many small parts (one per sensor run) as one file named after the first part."""
    parts = sorted(folder.glob("part-*.parquet"))
    if len(parts) < 2:
        return
    table = pa.concat_tables([pq.read_table(p, schema=spec.schema) for p in parts])
    _write_table(parts[0], table.sort_by("ts"))
    for part in parts[1:]:
        part.unlink()


def _rebuild(store: Path) -> None:
    """Empty the store (rows and state) before reading the CSV again from its first line."""
    if store.exists():
        doomed = store.with_name(store.name + ".old")
        if doomed.exists():
            shutil.rmtree(doomed)
        store.rename(doomed)
        shutil.rmtree(doomed)
    store.mkdir(parents=True, exist_ok=True)


def ingest_metrics(
    csv_path: Path | str,
    store: Path | str,
    sample_rate_hz: float = 5.0,
    gap_factor: float = 2.5,
    block_bytes: int = BLOCK_BYTES,
    progress=None,
    legacy: Path | None = None,
) -> IngestRun:
    """logs/metrics.csv into its store (`ingest_signal` with the metrics spec)."""
    return ingest_signal(METRICS, csv_path, store, sample_rate_hz, gap_factor, block_bytes, progress, legacy)


def ingest_signal(
    spec: StoreSpec,
    csv_path: Path | str,
    store: Path | str,
    sample_rate_hz: float,
    gap_factor: float,
    block_bytes: int = BLOCK_BYTES,
    progress=None,
    legacy: Path | None = None,
) -> IngestRun:
    """Add the complete lines appended to `csv_path` since the saved cursor to the day-split store.
    `legacy`: the whole-history Parquet of earlier versions, removed once the store holds its rows."""
    csv_path, store = Path(csv_path), Path(store)
    if not csv_path.exists():
        raise spec.error(f"{csv_path}: {spec.name} file not found")
    stat = csv_path.stat()
    if stat.st_size == 0:
        raise spec.error(f"{csv_path}:1: empty file (expected the header {','.join(spec.columns)!r})")
    state = load_state(store)
    with open(csv_path, "rb") as handle:
        reason = None
        if state is None or state.offset == 0:  # offset 0: written from a frame, not yet tied to the CSV
            reason = "migrated" if legacy is not None and legacy.exists() else "new"
        else:
            reason = reset_reason(handle, stat, state.cursor())
        if reason:
            spec.check_header(csv_path)
            _rebuild(store)
            header_end = len(handle.readline())
            state = StoreState(offset=header_end, line_no=1, missing_cells=dict.fromkeys(spec.signals, 0))
        run = IngestRun(state=state, reset_reason=reason)
        state.inode, state.device = stat.st_ino, stat.st_dev
        header = b",".join(c.encode() for c in spec.columns) + b"\n"
        while True:
            handle.seek(state.offset)
            chunk = handle.read(block_bytes)
            if not chunk:
                break
            end = chunk.rfind(b"\n") + 1
            if end == 0:
                if len(chunk) == block_bytes:
                    raise spec.error(
                        f"{csv_path}:{state.line_no + 1}: a line longer than {block_bytes} bytes")
                run.incomplete_last_line = True  # being written: its newline comes with a later run
                break
            block = chunk[:end]
            lines = block.count(b"\n")
            parsed = spec.parse(header + block, state.line_no + 1, sample_rate_hz, gap_factor)
            _add_block(store, state, run, parsed, f"part-{state.offset:015d}.parquet", sample_rate_hz, gap_factor,
                       spec)
            run.bytes_read += end
            state.offset += end
            state.line_no += lines
            if state.head_len < min(state.offset, HEAD_BYTES):
                state.head_len = min(state.offset, HEAD_BYTES)
                state.head_sha256 = _head_hash(handle, state.head_len)
            _save_state(store, state)
            if progress:
                progress(state.offset, stat.st_size)
            if len(chunk) < block_bytes and end == len(chunk):
                break
        if not run.bytes_read and (reason or state.head_len == 0):
            state.head_len = min(state.offset, HEAD_BYTES)
            state.head_sha256 = _head_hash(handle, state.head_len)
    _save_state(store, state)
    if legacy is not None and legacy.exists():
        legacy.unlink()  # the store has the same rows now; the old whole-history file would go stale
    run.days_written = sorted(set(run.days_written))
    return run


def _add_block(store: Path, state: StoreState, run: IngestRun, parsed: SignalIngest, part_name: str,
               sample_rate_hz: float, gap_factor: float, spec: StoreSpec) -> None:
    frame = parsed.frame
    run.rows_read += parsed.rows_read
    run.quarantined.extend(parsed.quarantined)
    run.duplicates_dropped += parsed.duplicates_dropped
    run.out_of_order += parsed.out_of_order
    run.problems.extend(spec.problems(frame))
    state.rows_read += parsed.rows_read
    state.quarantined += len(parsed.quarantined)
    if not len(frame):
        return
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    late_mask = ts_ns <= state.last_ts_ns if state.last_ts_ns is not None else np.zeros(len(ts_ns), dtype=bool)
    added_before, dropped_before = run.rows_added, run.duplicates_dropped
    if late_mask.any():
        run.out_of_order += int(late_mask.sum())
        lines = parsed.lines if parsed.lines is not None else np.full(len(frame), -1, dtype="int64")
        state.quarantined += _merge_late(store, frame[late_mask].reset_index(drop=True), lines[late_mask],
                                         part_name, run, spec)
    fresh = frame[~late_mask].reset_index(drop=True)
    if len(fresh):
        _append(store, fresh, part_name, run, spec)
        fresh_ns = ts_ns[~late_mask]
        joined = fresh_ns if state.last_ts_ns is None else np.r_[state.last_ts_ns, fresh_ns]
        gaps = measure_gaps(joined, sample_rate_hz, gap_factor)
        state.gap_count += gaps.count
        state.gap_longest_s = max(state.gap_longest_s, gaps.longest_s)
        state.gap_total_s += gaps.total_s
        state.last_ts_ns = int(fresh_ns[-1])
    state.first_ts_ns = int(ts_ns[0]) if state.first_ts_ns is None else min(state.first_ts_ns, int(ts_ns[0]))
    state.rows_stored += run.rows_added - added_before
    state.duplicates_dropped += parsed.duplicates_dropped + (run.duplicates_dropped - dropped_before)
    state.out_of_order += parsed.out_of_order + int(late_mask.sum())
    for name in spec.signals:
        state.missing_cells[name] = state.missing_cells.get(name, 0) + int(frame[name].isna().sum())


def write_metrics_store(frame: pd.DataFrame, store: Path | str) -> StoreState:
    return write_store(frame, store, METRICS)


def write_store(frame: pd.DataFrame, store: Path | str, spec: StoreSpec) -> StoreState:
    """Replace the store's rows with a cleaned frame (fixtures, benchmarks, a legacy file). Its state has no
    CSV cursor, so the next ingest rebuilds it from the CSV."""
    store = Path(store)
    _rebuild(store)
    frame = frame.loc[:, list(spec.columns)].sort_values("ts", kind="stable").reset_index(drop=True)
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    state = StoreState(offset=0, line_no=0)
    run = IngestRun(state=state)
    if len(frame):
        _append(store, frame, "part-000000000000000.parquet", run, spec)
        ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        state.first_ts_ns, state.last_ts_ns = int(ts_ns[0]), int(ts_ns[-1])
    state.rows_read = state.rows_stored = len(frame)
    state.missing_cells = {name: int(frame[name].isna().sum()) for name in spec.signals}
    _save_state(store, state)
    return state


# ---- readers -------------------------------------------------------------------------------------------


def read_parquet_frame(path: Path, spec: StoreSpec = METRICS) -> pd.DataFrame:
    return _to_frame(pq.read_table(path, schema=spec.schema), spec)


def _to_frame(table: pa.Table, spec: StoreSpec) -> pd.DataFrame:
    frame = table.select(list(spec.columns)).to_pandas()
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    return frame


def _empty_frame(columns: list[str], spec: StoreSpec) -> pd.DataFrame:
    return _to_frame(spec.schema.empty_table(), spec).loc[:, columns]


def stored_days(store: Path | str) -> list[str]:
    """UTC days with stored rows, from the folder names alone."""
    store = Path(store)
    if not store.exists():
        return []
    return sorted(p.name.removeprefix("date=") for p in store.glob("date=*") if any(p.glob("part-*.parquet")))


def stored_spans(store: Path | str) -> list[tuple[int, int]]:
    """(first, last) ts in ns of every stored part's row groups, from the Parquet footers' statistics (no rows
    read)."""
    spans = []
    for day in stored_days(store):
        for part in sorted((Path(store) / f"date={day}").glob("part-*.parquet")):
            spans.extend(row_group_spans(part))
    return spans


def row_group_spans(part: Path) -> list[tuple[int, int]]:
    """(first, last) ts in ns of each non-empty row group of one part file, from its footer."""
    meta = pq.ParquetFile(part).metadata
    spans = []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(0).statistics
        if stats is not None and stats.has_min_max and meta.row_group(group).num_rows:
            spans.append((pd.Timestamp(stats.min).value, pd.Timestamp(stats.max).value))
    return spans


def _as_ns(moment: object) -> int:
    return int(pd.Timestamp(moment).tz_convert("UTC").value) if pd.Timestamp(moment).tzinfo else int(pd.Timestamp(moment).value)


def read_metrics(
    store: Path | str,
    start: object | None = None,
    end: object | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    return read_store(store, start, end, columns, METRICS)


def read_store(
    store: Path | str,
    start: object | None = None,
    end: object | None = None,
    columns: list[str] | None = None,
    spec: StoreSpec = METRICS,
) -> pd.DataFrame:
    """Rows with start <= ts < end (either bound optional), sorted by ts; only the days in range are
    opened and only the rows in range are materialised."""
    store = Path(store)
    columns = list(columns or spec.columns)
    if "ts" not in columns:
        columns = ["ts", *columns]
    days = stored_days(store)
    lo = _as_ns(start) if start is not None else None
    hi = _as_ns(end) if end is not None else None
    if lo is not None:
        days = [d for d in days if d >= _day_of(lo)]
    if hi is not None:
        days = [d for d in days if d <= _day_of(hi)]
    files = [str(p) for d in days for p in sorted((store / f"date={d}").glob("part-*.parquet"))]
    if not files:
        return _empty_frame(columns, spec)
    dataset = pads.dataset(files, schema=spec.schema, format="parquet")
    condition = None
    if lo is not None:
        condition = pads.field("ts") >= pa.scalar(lo, TS_TYPE)
    if hi is not None:
        upper = pads.field("ts") < pa.scalar(hi, TS_TYPE)
        condition = upper if condition is None else condition & upper
    table = dataset.to_table(columns=columns, filter=condition)
    ts_order = pc.sort_indices(table, sort_keys=[("ts", "ascending")])
    frame = table.take(ts_order).to_pandas()
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    return frame


def read_newest_day(store: Path | str, spec: StoreSpec = METRICS) -> pd.DataFrame:
    """The rows of the newest stored UTC day (empty when the store holds none): the newest sample and a
    recent summary without reading the history."""
    days = stored_days(store)
    if not days:
        return _empty_frame(list(spec.columns), spec)
    return read_store(store, f"{days[-1]}T00:00:00Z", spec=spec)


def newest_sample(store: Path | str) -> datetime | None:
    state = load_state(Path(store))
    if state is None or state.last_ts_ns is None:
        return None
    return datetime.fromtimestamp(state.last_ts_ns / 1e9, tz=UTC)


def event_window_frames(
    store: Path | str,
    event_ts_ns: np.ndarray,
    before_s: float,
    after_s: float,
    max_span_s: float = 86_400.0,
) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """(event positions, metrics around them) in groups of events whose windows span at most about
    `max_span_s`, so a year of events is processed one day of samples at a time, never all at once."""
    event_ts_ns = np.asarray(event_ts_ns, dtype=np.int64)
    if not len(event_ts_ns):
        return
    order = np.argsort(event_ts_ns, kind="stable")
    before_ns, after_ns, span_ns = int(before_s * 1e9), int(after_s * 1e9), int(max_span_s * 1e9)
    group_start = 0
    while group_start < len(order):
        first = event_ts_ns[order[group_start]]
        stop = group_start + 1
        while stop < len(order) and event_ts_ns[order[stop]] - first <= span_ns:
            stop += 1
        positions = order[group_start:stop]
        lo = first - before_ns
        hi = event_ts_ns[order[stop - 1]] + after_ns + 1
        yield positions, read_metrics(store, pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC"))
        group_start = stop
