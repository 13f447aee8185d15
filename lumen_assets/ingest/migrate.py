"""Move a workspace's stored records from content-hash event ids (earlier versions) to readable ids.

Rule events used to be keyed by a 16-hex hash of their line (`597161a22f361f6e`); they are now keyed by UTC
time and rule (`2025-10-23T12:40:00Z_risk_max`). Every stored record that names an event by its old id is
rewritten in place (atomically, under the file's lock), so nothing is recomputed, duplicated or lost: the
quote bank and risk ledger (whose records are never rewritten otherwise), the effects table and its store,
and the bandit's record of rewarded events. Running it again changes nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lumen_assets.atomic import atomic_write_jsonl, atomic_write_text, file_lock
from lumen_assets.jsonl import iter_jsonl

_HASH_ID = re.compile(rb'"event_id"\s*:\s*"([0-9a-f]{16})"')  # what an old content-hash id looks like


def migrate_jsonl(path: Path, id_map: dict[str, str]) -> int:
    """Rewrite `event_id` fields found in `id_map`; returns how many records changed (0: file untouched).
    Every rule event's run calls it: a file naming no old id (a byte search, ~50 ms for a year's 40 MB) is
    not parsed."""
    if not path.exists() or not id_map:
        return 0
    if not any(match.group(1).decode() in id_map for match in _HASH_ID.finditer(path.read_bytes())):
        return 0
    with file_lock(path):
        records, changed = [], 0
        for line in iter_jsonl(path):
            if line.record is None:
                return 0  # a bad line: leave the file as it is (its reader names the line)
            new_id = id_map.get(str(line.record.get("event_id")))
            if new_id is not None:
                line.record["event_id"] = new_id
                changed += 1
            records.append(line.record)
        if changed:
            atomic_write_jsonl(path, records)
        return changed


def migrate_effects(store: Path, csv_path: Path, id_map: dict[str, str]) -> int:
    """Rename event ids in the effects store (Parquet) and rewrite logs/rules_effects.csv from it."""
    import pyarrow.parquet as pq

    from lumen_assets.effects.table import _write_parquet, ids_in, write_effects_csv

    if not store.exists() or not id_map:
        return 0
    stored_ids = pq.read_table(store, columns=["event_id"]).column("event_id").to_pylist()
    if not any(event_id in id_map for event_id in stored_ids):
        return 0  # nothing to rename (every run asks): only the id column was read
    with file_lock(store):
        frame = pq.read_table(store).to_pandas()
        hit = ids_in(frame["event_id"], set(id_map))
        if not hit.any():
            return 0
        frame.loc[hit, "event_id"] = frame.loc[hit, "event_id"].map(id_map)
        _write_parquet(frame, store)
        write_effects_csv(frame, csv_path)
        return int(hit.sum())


def migrate_json_keys(path: Path, field: str, id_map: dict[str, str]) -> int:
    """Rename the keys of the mapping `document[field]` (e.g. the bandit's `rewarded` event ids)."""
    if not path.exists() or not id_map:
        return 0
    with file_lock(path):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return 0
        mapping = document.get(field) if isinstance(document, dict) else None
        if not isinstance(mapping, dict) or not set(mapping) & set(id_map):
            return 0
        document[field] = {id_map.get(key, key): value for key, value in mapping.items()}
        atomic_write_text(path, json.dumps(document))
        return sum(key in id_map for key in mapping)
