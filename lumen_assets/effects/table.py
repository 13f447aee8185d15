"""logs/rules_effects.csv: one row per rule event, seed columns first, rewritten atomically.

The per-event results live in a Parquet store under the workspace's state folder, upserted by event id
under a file lock (sensor-launched runs for different events may overlap); the CSV is regenerated from it
in event-time order, so it never holds a duplicate row or a half-written line (the seed appended rows and
mixed 14- and 19-column schemas under one header, segA C21).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lumen_assets.atomic import atomic_open, file_lock
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
    history (`keep_ids`), then rewrite the CSV. Returns the whole table."""
    with file_lock(store):
        current = pq.read_table(store).to_pandas() if store.exists() else pd.DataFrame(columns=list(EFFECT_COLUMNS))
        if len(current):
            current = current[~current["event_id"].isin(set(rows["event_id"]))]
        merged = pd.concat([df for df in (current, rows) if len(df)], ignore_index=True) if len(rows) or len(current) else rows
        if keep_ids is not None and len(merged):
            merged = merged[merged["event_id"].isin(keep_ids)]
        merged = _sort_by_event_time(merged[list(EFFECT_COLUMNS)]) if len(merged) else merged
        merged = merged.reset_index(drop=True)
        _write_parquet(merged, store)
        write_effects_csv(merged, csv_path)
        return merged


def write_effects_csv(frame: pd.DataFrame, path: Path | str) -> None:
    with atomic_open(path, "w") as handle:
        frame[list(EFFECT_COLUMNS)].round(6).to_csv(handle, index=False, lineterminator="\n")


def read_effects_csv(path: Path | str) -> pd.DataFrame:
    """The effects table as downstream areas read it (empty cells are NaN / <NA>, never 0)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(EFFECT_COLUMNS))
    frame = pd.read_csv(path, dtype=CSV_DTYPES, keep_default_na=False, na_values=[""])
    missing = [c for c in EFFECT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}:1: effects table lacks columns {missing} (regenerate it with `lumen run`)")
    return frame


def read_effects_store(store: Path | str) -> pd.DataFrame:
    store = Path(store)
    if not store.exists():
        return pd.DataFrame(columns=list(EFFECT_COLUMNS))
    return pq.read_table(store).to_pandas()
