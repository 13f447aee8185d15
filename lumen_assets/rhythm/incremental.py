"""rhythm_sync a local day at a time, recomputing only the days whose inputs changed (pure: no dagster import).

A year of 1 Hz environment (31.5 M rows) and 5 Hz metrics (158 M rows) cannot be loaded at once on one machine,
and every sensor-launched run would pay for the whole history. So the synchronizer runs over chunks: one local
day (in the reporting timezone) each, its bounds snapped to the `step_s` grid so a step never straddles two
chunks. A chunk reads the environment over [start − temperature window, end) (the trailing window the
temperature z-score needs) and the metrics over [start, end), through the stores' range readers, and keeps the
steps that start inside it. Its output is a function of those store files alone, so a from-scratch run (every
chunk) and any sequence of incremental runs write the same bytes.

`STATE_DIR/rhythm_sync_state.json` remembers, per chunk, a digest of the store files it read (the parts, named
by day, name and `digests.file_identity`, whose rows fall in its range: the time span of each part comes from its
Parquet footer, read once per part and remembered) and where its records sit in `logs/rhythm_sync.jsonl`. A run finds the first
chunk whose inputs differ (new rows land in the newest day; a late row or a rebuilt store changes an older
one), keeps the output's bytes before it, and recomputes from there: the new file is the kept prefix (a byte
copy, no parsing) plus the recomputed records, written to a temp file and renamed. Changed settings, another
output path, an output that is not the one the state describes (size, mtime) or an unreadable state: every
chunk is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from lumen_assets.atomic import atomic_open, atomic_write_text, copy_prefix
from lumen_assets.digests import file_identity
from lumen_assets.ingest.environment import read_environment
from lumen_assets.ingest.metrics_store import load_state, read_metrics, row_group_spans
from lumen_assets.rhythm.settings import RhythmSettings
from lumen_assets.rhythm.sync import read_sync_file, read_sync_records, synchronize

SYNC_VERSION = 1  # bump when the records' formulas change: every chunk is recomputed


@dataclass
class SyncChunk:
    start_ns: int
    end_ns: int
    inputs: str  # digest of the store files the chunk read
    offset: int = 0  # where its records start in the output
    length: int = 0  # bytes of its records
    steps: int = 0
    with_blend: int = 0
    blend_sum: float = 0.0


@dataclass
class SyncState:
    settings: str = ""
    output_size: int = -1
    output_mtime_ns: int = -1
    chunks: list[SyncChunk] = field(default_factory=list)
    spans: dict[str, list[int]] = field(default_factory=dict)  # part identity -> [first, last] ts (footers)


@dataclass
class SyncRun:
    """What one run did and the totals of the whole output."""

    chunks: list[SyncChunk]
    first_recomputed: int  # index of the first recomputed chunk (== len(chunks): nothing recomputed)
    rebuilt: str | None  # why every chunk was recomputed ("new", "settings", "output"), or None
    latest: list[dict[str, Any]]  # the output's last records (up to 10)

    @property
    def steps(self) -> int:
        return sum(c.steps for c in self.chunks)

    @property
    def steps_with_blend(self) -> int:
        return sum(c.with_blend for c in self.chunks)

    @property
    def blend_mean(self) -> float | None:
        with_blend = self.steps_with_blend
        return sum(c.blend_sum for c in self.chunks) / with_blend if with_blend else None

    @property
    def recomputed(self) -> list[SyncChunk]:
        return self.chunks[self.first_recomputed:]


def load_sync_state(path: Path) -> SyncState | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return SyncState(**{**raw, "chunks": [SyncChunk(**c) for c in raw["chunks"]]})
    except (OSError, ValueError, TypeError, KeyError):
        return None  # no state or an unreadable one: recompute everything, never guess


def chunk_bounds(first_ns: int, last_ns: int, tz: ZoneInfo, step_ns: int) -> list[tuple[int, int]]:
    """[start, end) of each local day from the one holding `first_ns` to the one holding `last_ns`, snapped
    down to the step grid (every step lies in exactly one chunk)."""
    day = pd.Timestamp(first_ns, tz="UTC").tz_convert(tz).date()
    bounds: list[int] = []
    while not bounds or bounds[-1] <= last_ns:
        midnight = datetime.combine(day, dt_time(), tzinfo=tz)
        bounds.append(int(pd.Timestamp(midnight).value) // step_ns * step_ns)
        day += timedelta(days=1)
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


Span = tuple[str, int, int]  # a part file's identity (day/name:inode:size:mtime:ctime), its first and last ts in ns


def part_spans(store: Path, known: dict[str, list[int]]) -> dict[str, list[Span]]:
    """Per UTC day folder, each part file's identity and time span. The span comes from the file's footer the
    first time an identity is seen and from `known` after (updated in place), so a run reads the footers of
    the new or rewritten parts only."""
    days: dict[str, list[Span]] = {}
    if not store.exists():
        return days
    for folder in store.glob("date=*"):
        spans = []
        for part in sorted(folder.glob("part-*.parquet")):
            key = ":".join([f"{folder.name}/{part.name}", *map(str, file_identity(part))])
            if key not in known:
                groups = row_group_spans(part)
                known[key] = [min(g[0] for g in groups), max(g[1] for g in groups)] if groups else [0, 2**62]
            spans.append((key, *known[key]))
        days[folder.name.removeprefix("date=")] = spans
    return days


def _inputs(days: dict[str, list[Span]], start_ns: int, end_ns: int) -> list[str]:
    """The identities of the parts holding rows in [start, end)."""
    return [key for day in _days_between(start_ns, end_ns) for key, first, last in days.get(day, [])
            if first < end_ns and last >= start_ns]


def _days_between(start_ns: int, end_ns: int) -> list[str]:
    first = pd.Timestamp(start_ns, tz="UTC").date()
    last = pd.Timestamp(end_ns - 1, tz="UTC").date()
    return [(first + timedelta(days=d)).isoformat() for d in range((last - first).days + 1)]


def _settings_digest(settings: RhythmSettings, tz: ZoneInfo, output: Path, with_metrics: bool) -> str:
    text = json.dumps([SYNC_VERSION, settings.model_dump(mode="json"), str(tz), str(output), with_metrics],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def sync_chunk(
    env_store: Path, metrics_store: Path | None, start_ns: int, end_ns: int, settings: RhythmSettings, tz: ZoneInfo,
) -> list[dict[str, Any]]:
    """The records of the steps starting in [start, end): environment read from start − the temperature window."""
    margin_ns = int(settings.temperature.window_s * 1e9)
    start, end = pd.Timestamp(start_ns, tz="UTC"), pd.Timestamp(end_ns, tz="UTC")
    env = read_environment(env_store, pd.Timestamp(start_ns - margin_ns, tz="UTC"), end)
    metrics = read_metrics(metrics_store, start, end) if metrics_store is not None else None
    sync = synchronize(env, settings, tz, metrics)
    if not sync.records:
        return []
    inside = (sync.frame["step_start"] >= start).to_numpy()
    return [record for record, keep in zip(sync.records, inside, strict=True) if keep]


def _encode(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in records).encode()


def _read_chunk_records(output: Path, chunk: SyncChunk) -> list[dict[str, Any]]:
    with open(output, "rb") as handle:
        handle.seek(chunk.offset)
        data = handle.read(chunk.length)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def synchronize_incrementally(
    env_store: Path,
    metrics_store: Path | None,
    output: Path,
    state_path: Path,
    settings: RhythmSettings,
    tz: ZoneInfo,
    on_chunk: Callable[[list[dict[str, Any]]], None] | None = None,
) -> SyncRun:
    """Bring `output` up to date with the stores (see the module docstring); `on_chunk` sees the records of
    every recomputed chunk (the day messages), one chunk at a time."""
    if metrics_store is not None and load_state(metrics_store) is None:
        metrics_store = None  # no metrics ingested yet: records without the metrics' means
    step_ns = int(settings.step_s * 1e9)
    digest = _settings_digest(settings, tz, output, metrics_store is not None)
    env_state = load_state(env_store)
    old = load_sync_state(state_path)
    known = dict(old.spans) if old is not None else {}
    env_days = part_spans(env_store, known)
    metrics_days = part_spans(metrics_store, known) if metrics_store is not None else {}
    margin_ns = int(settings.temperature.window_s * 1e9)
    chunks = []
    if env_state is not None and env_state.first_ts_ns is not None and env_state.last_ts_ns is not None:
        for start, end in chunk_bounds(env_state.first_ts_ns, env_state.last_ts_ns, tz, step_ns):
            read = [_inputs(env_days, start - margin_ns, end), _inputs(metrics_days, start, end)]
            chunks.append(SyncChunk(start, end, hashlib.sha256(json.dumps(read).encode()).hexdigest()))
    in_use = {key for days in (env_days, metrics_days) for spans in days.values() for key, _, _ in spans}
    known = {key: span for key, span in known.items() if key in in_use}

    stat = output.stat() if output.exists() else None
    rebuilt = None
    if old is None:
        rebuilt = "new"
    elif old.settings != digest:
        rebuilt = "settings"
    elif stat is None or (stat.st_size, stat.st_mtime_ns) != (old.output_size, old.output_mtime_ns):
        rebuilt = "output"
    kept = [] if rebuilt else old.chunks
    first = 0
    while (first < min(len(chunks), len(kept))
           and (chunks[first].start_ns, chunks[first].end_ns, chunks[first].inputs)
           == (kept[first].start_ns, kept[first].end_ns, kept[first].inputs)):
        chunks[first] = kept[first]
        first += 1
    if not rebuilt and first == len(chunks) == len(kept):  # nothing changed: the output stays as it is
        if known != old.spans:
            old.spans = known
            _save(state_path, old)
        last = next((c for c in reversed(chunks) if c.length), None)
        return SyncRun(chunks, first, None, _read_chunk_records(output, last)[-10:] if last else [])

    prefix = kept[first].offset if first < len(kept) else sum(c.length for c in kept)
    latest: list[dict[str, Any]] = []
    with atomic_open(output, "wb") as handle:
        if prefix:
            copy_prefix(output, handle, prefix)
        position = prefix
        for chunk in chunks[first:]:
            records = sync_chunk(env_store, metrics_store, chunk.start_ns, chunk.end_ns, settings, tz)
            data = _encode(records)
            handle.write(data)
            blends = [r["blend"] for r in records if r["blend"] is not None]
            chunk.offset, chunk.length, chunk.steps = position, len(data), len(records)
            chunk.with_blend, chunk.blend_sum = len(blends), float(sum(blends))
            position += len(data)
            if records:
                latest = records[-10:]
                if on_chunk is not None:
                    on_chunk(records)
    if not latest:
        last = next((c for c in reversed(chunks[:first]) if c.length), None)
        latest = _read_chunk_records(output, last)[-10:] if last else []
    stat = output.stat()
    _save(state_path, SyncState(digest, stat.st_size, stat.st_mtime_ns, chunks, known))
    return SyncRun(chunks, first, rebuilt, latest)


def _save(path: Path, state: SyncState) -> None:
    atomic_write_text(path, json.dumps(asdict(state), separators=(",", ":")))



def read_sync_span(output: Path, state_path: Path, start_ns: int, end_ns: int) -> pd.DataFrame:
    """The steps starting in [start, end) of `output` as a frame (`read_sync_records`): only the days holding
    them are read when the state describes the output, else the whole file (then filtered)."""
    state = load_sync_state(state_path)
    stat = output.stat() if output.exists() else None
    if stat is not None and state is not None and (stat.st_size, stat.st_mtime_ns) == (state.output_size,
                                                                                        state.output_mtime_ns):
        chunks = [c for c in state.chunks if c.length and c.start_ns < end_ns and c.end_ns > start_ns]
        frame = read_sync_records(r for c in chunks for r in _read_chunk_records(output, c))
    else:
        frame = read_sync_file(output)
    if not len(frame):
        return frame
    starts = frame["step_start"].to_numpy(dtype="datetime64[ns]").view("int64")
    return frame[(starts >= start_ns) & (starts < end_ns)].reset_index(drop=True)
