"""Map only the effects rows the evidence has not mapped yet (issue 16 §1: a year is 100,000 rows).

Every rule event's run used to re-read logs/rules_effects.csv whole and re-map all of its rows, only for
`upsert_ledger` to find every record but the new ones already written (~10 s a run for a year). The rows a
run has mapped are the bytes of the CSV it read; the effects table keeps those bytes as they are when it
adds or recomputes later rows (`effects.table`). So each evidence asset keeps, in the state folder, the length
and sha256 of the CSV bytes it mapped, the digest of the ledger it left and of the settings it mapped with,
and its running counts (rows not yet evidence, rows rejected). The next run maps only the rows after those
bytes when all three still match; otherwise (a row recomputed in place, a settings change, a ledger edited
by hand or written by another asset) it maps the whole table again, exactly as before: existing records win,
so a re-map adds only what is missing.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumen_assets.atomic import atomic_write_text
from lumen_assets.digests import prefix_unchanged, sha256_file
from lumen_assets.evidence.ledger import LedgerScan, scan_ledger, upsert_ledger
from lumen_assets.evidence.mapper import Evidence, map_evidence, rows_from_records
from lumen_assets.evidence.settings import EvidenceSettings

STATE_VERSION = 1


@dataclass
class LedgerUpdate:
    """One evidence asset's run: what it added, what the whole table holds that is not evidence (yet)."""

    added: int
    total: int
    rows_mapped: int  # effects rows read and mapped this run
    whole_table: bool  # True when every row was mapped again (first run, or the table/ledger/settings changed)
    evidence: Evidence  # not_evidence and rejected cover the whole table
    scan: LedgerScan  # the ledger after the update (counts, severities)


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> list[Any] | None:
    return [path.stat().st_size, sha256_file(path)] if path.exists() else None


def settings_digest(settings: EvidenceSettings, tz: Any) -> str:
    return _sha256(json.dumps([settings.model_dump(mode="json"), str(tz)], sort_keys=True).encode())


def _effects_rows(data: bytes, start: int) -> list[dict[str, Any]]:
    """The effects rows in data[start:] (the header is data's first line), as read_effects_csv reads them."""
    from lumen_assets.effects.table import read_effects_csv

    header_end = data.find(b"\n") + 1
    body = data[max(start, header_end):]
    if not header_end or not body.strip():
        return []
    return read_effects_csv(io.BytesIO(data[:header_end] + body)).to_dict("records")


def update_ledger(effects_csv: Path, ledger: Path, kind: str, settings: EvidenceSettings, tz: Any,
                  state_dir: Path) -> LedgerUpdate:
    """Map the effects rows `ledger` (kind "quote" or "risk") has not seen and upsert their records."""
    state_path = state_dir / f"{ledger.name}.mapped.json"
    data = effects_csv.read_bytes() if effects_csv.exists() else b""
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        length = int(state["effects"]["length"])
        incremental = (state["version"] == STATE_VERSION and state["settings"] == settings_digest(settings, tz)
                       and prefix_unchanged(data, length, state["effects"]["sha256"])
                       and state["ledger"] == _file_digest(ledger))
    except (OSError, ValueError, KeyError, TypeError):
        incremental = False
    if incremental:
        start, rows_before = length, int(state["effects"]["rows"])
        not_evidence = {str(k): int(v) for k, v in state["not_evidence"].items()}
        rejected = [(str(a), str(b)) for a, b in state["rejected"]]
    else:
        start, rows_before, not_evidence, rejected = 0, 0, {}, []
    records = _effects_rows(data, start)
    rows, unreadable = rows_from_records(records, tz, first_index=rows_before)
    evidence = map_evidence(rows, settings)
    for status, count in evidence.not_evidence.items():
        not_evidence[status] = not_evidence.get(status, 0) + count
    evidence.not_evidence = not_evidence
    evidence.rejected = rejected + unreadable + evidence.rejected
    scan_cache = state_dir / f"{ledger.name}.scan.json"
    added, total = upsert_ledger(ledger, evidence.quotes if kind == "quote" else evidence.risks, kind, scan_cache)
    atomic_write_text(state_path, json.dumps({
        "version": STATE_VERSION,
        "settings": settings_digest(settings, tz),
        "effects": {"length": len(data), "sha256": _sha256(data), "rows": rows_before + len(records)},
        "ledger": _file_digest(ledger),
        "not_evidence": not_evidence,
        "rejected": evidence.rejected,
    }, ensure_ascii=False))
    return LedgerUpdate(added, total, len(records), not incremental, evidence, scan_ledger(ledger, kind, scan_cache))
