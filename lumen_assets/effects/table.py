"""logs/rules_effects.csv: one row per rule event, seed columns first, rewritten atomically.

The per-event results live in a Parquet store under the workspace's state folder, upserted by event id
under a file lock (sensor-launched runs for different events may overlap); the CSV is regenerated from it
in event-time order, so it never holds a duplicate row or a half-written line (the seed appended rows and
mixed 14- and 19-column schemas under one header, segA C21).

A year is 100,000 rows (25 MB of CSV, ~2 s to render), and a rule event's run changes the rows of its day
only, usually just the new last one. So the CSV is rewritten from its first changed row: the bytes before it
are copied from the file as the last write left it (a stamp beside the store, `effects.csv-stamp.json`,
holds that file's identity, size, mtimes and row count, and the column types it was rendered with), then
the changed and later rows are rendered after them, into a temp file renamed over the CSV as before. Those
unchanged bytes are what `evidence.incremental` relies on to map only the new rows. A CSV touched by
anything else (another tool, `migrate`), or a type change, is rewritten whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lumen_assets.atomic import atomic_open, atomic_write_text, file_lock
from lumen_assets.digests import file_identity
from lumen_assets.effects.window import EFFECT_COLUMNS

CSV_DTYPES = {
    "rule_ts": "string", "actor": "string", "rule": "string", "status": "string", "event_id": "string",
    "n_pre": "Int64", "n_post": "Int64",
}


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic_open(path, "wb") as handle:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)


def _sort_by_event_time(frame: pd.DataFrame) -> pd.DataFrame:
    order = pd.to_datetime(frame["rule_ts"].astype(str), format="ISO8601", utc=True)
    return frame.assign(_t=order).sort_values(["_t", "event_id"], kind="stable").drop(columns="_t")


def upsert_effects(store: Path, csv_path: Path, rows: pd.DataFrame, keep_ids: set[str] | None = None) -> pd.DataFrame:
    """Merge `rows` into the store (newer result per event wins), optionally drop events no longer in the
    history (`keep_ids`), then rewrite the CSV from its first changed row. Returns the whole table."""
    with file_lock(store):
        current = pq.read_table(store).to_pandas() if store.exists() else pd.DataFrame(columns=list(EFFECT_COLUMNS))
        before = current
        if len(current):
            current = current[~ids_in(current["event_id"], set(rows["event_id"]))]
        merged = pd.concat([df for df in (current, rows) if len(df)], ignore_index=True) if len(rows) or len(current) else rows
        if keep_ids is not None and len(merged):
            merged = merged[ids_in(merged["event_id"], keep_ids)]
        merged = _sort_by_event_time(merged[list(EFFECT_COLUMNS)]) if len(merged) else merged
        merged = merged.reset_index(drop=True)
        _write_parquet(merged, store)
        write_effects_csv(merged, csv_path, stamp=_stamp_path(store), previous=before)
        return merged


def ids_in(ids: pd.Series, wanted: set[str]) -> np.ndarray:
    """`ids.isin(wanted)` as a boolean array, by set lookups: pandas' isin of 100,000 strings in a set of
    100,000 takes ~0.7 s, this ~30 ms."""
    return np.fromiter((value in wanted for value in ids.to_numpy(dtype=object)), dtype=bool, count=len(ids))


def _stamp_path(store: Path) -> Path:
    return store.with_name(f"{store.stem}.csv-stamp.json")


def _types(frame: pd.DataFrame) -> list[str]:
    return [str(frame[c].dtype) for c in EFFECT_COLUMNS]


def first_difference(old: pd.DataFrame, new: pd.DataFrame) -> int:
    """The first row position where two effects tables differ (a missing cell equals a missing cell)."""
    n = min(len(old), len(new))
    if n == 0:
        return 0
    a, b = old.iloc[:n].reset_index(drop=True), new.iloc[:n].reset_index(drop=True)
    same = np.ones(n, dtype=bool)
    try:
        for column in EFFECT_COLUMNS:
            x, y = a[column], b[column]
            equal = (x == y).astype("boolean").fillna(False).to_numpy(dtype=bool)
            same &= equal | (x.isna() & y.isna()).to_numpy(dtype=bool)
    except (TypeError, ValueError):
        return 0  # types that do not compare: everything is different
    changed = np.flatnonzero(~same)
    return int(changed[0]) if len(changed) else n


def _unchanged_bytes(csv_path: Path, stamp: Path, previous: pd.DataFrame, frame: pd.DataFrame) -> tuple[int, bytes]:
    """(rows, their bytes) at the start of the CSV that stay as they are: none unless the CSV is exactly as
    the last write left it, with `previous` as its rows and the same column types as `frame`."""
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded["file"] != file_identity(csv_path) or recorded["rows"] != len(previous) \
                or recorded["types"] != _types(frame) or _types(previous) != _types(frame):
            return 0, b""
        data = csv_path.read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return 0, b""
    line_ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    if len(line_ends) != len(previous) + 1 or not data.endswith(b"\n"):
        return 0, b""  # a cell with a line break in it: row positions are not line positions
    rows = first_difference(previous[list(EFFECT_COLUMNS)], frame)
    return rows, data[: int(line_ends[rows]) + 1]  # line 0 is the header


def write_effects_csv(frame: pd.DataFrame, path: Path | str, stamp: Path | None = None,
                      previous: pd.DataFrame | None = None) -> None:
    """Write the CSV (atomically). With `stamp` and the table the CSV held (`previous`), the unchanged leading
    rows keep their bytes and only the rest is rendered; the stamp then records the new file."""
    path = Path(path)
    keep_rows, kept = 0, b""
    if stamp is not None and previous is not None and path.exists():
        keep_rows, kept = _unchanged_bytes(path, stamp, previous, frame)
    with atomic_open(path, "wb") as handle:
        handle.write(kept)
        frame.iloc[keep_rows:][list(EFFECT_COLUMNS)].round(6).to_csv(
            handle, index=False, header=not kept, lineterminator="\n", encoding="utf-8")
    if stamp is not None:
        atomic_write_text(stamp, json.dumps({"file": file_identity(path), "rows": len(frame), "types": _types(frame)}))


def read_effects_csv(path: Path | str | IO[bytes]) -> pd.DataFrame:
    """The effects table as downstream areas read it (empty cells are NaN / <NA>, never 0). `path` may also
    be a binary buffer holding the header and some rows."""
    if isinstance(path, str | Path):
        path = Path(path)
        if not path.exists():
            return pd.DataFrame(columns=list(EFFECT_COLUMNS))
    frame = pd.read_csv(path, dtype=CSV_DTYPES, keep_default_na=False, na_values=[""])
    missing = [c for c in EFFECT_COLUMNS if c not in frame.columns]
    if missing:
        name = path if isinstance(path, Path) else "effects table"
        raise ValueError(f"{name}:1: effects table lacks columns {missing} (regenerate it with `lumen run`)")
    return frame


def read_effects_store(store: Path | str) -> pd.DataFrame:
    store = Path(store)
    if not store.exists():
        return pd.DataFrame(columns=list(EFFECT_COLUMNS))
    return pq.read_table(store).to_pandas()


def read_effects_table(store: Path | str, csv_path: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the CSV's rows, the store's rows) for the consistency check. When the CSV is exactly as the last
    upsert wrote it from the store (its stamp: identity, size, mtimes, row count) the store's rows stand for
    the CSV's, so a check on a year's table reads 15 MB of Parquet, not 25 MB of CSV (~1 s)."""
    store, csv_path = Path(store), Path(csv_path)
    stored = read_effects_store(store)
    try:
        recorded = json.loads(_stamp_path(store).read_text(encoding="utf-8"))
        if recorded["file"] == file_identity(csv_path) and recorded["rows"] == len(stored):
            return stored[list(EFFECT_COLUMNS)], stored
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return read_effects_csv(csv_path), stored
