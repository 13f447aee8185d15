"""The quote bank's "today's rhythm message" (seed segC §C1, cycle step 5): one quote per day of rhythm data.

A rhythm quote is keyed `rhythm:<YYYY-MM-DD>` and, unlike a rule event's quote (written once), is replaced as
the day fills in, so the message always describes the whole day seen so far. It carries the quote bank's
schema (ts, event_id, by, rule, delta, confidence, quote) so the ledger checks and the report read it like any
other quote; `confidence` is the share of the blend's weight that had data. Pure module: no dagster import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from lumen_assets.atomic import atomic_write_jsonl, file_lock
from lumen_assets.jsonl import iter_jsonl
from lumen_assets.rhythm.sync import day_summary, rhythm_message

RHYTHM_KIND = "rhythm"


def rhythm_quotes(records: list[dict[str, Any]], tz: ZoneInfo, language: str) -> list[dict[str, Any]]:
    """One quote record per local day present in the synchronizer's records."""
    if not records:
        return []
    days = sorted({pd.Timestamp(r["ts"]).tz_convert(tz).date() for r in records})
    quotes = []
    for day in days:
        summary = day_summary(records, day, tz)
        if summary is None:
            continue
        of_day = [r for r in records if pd.Timestamp(r["ts"]).tz_convert(tz).date() == day]
        weight = sum(r.get("blend_weight_present", 0.0) for r in of_day) / len(of_day)
        quotes.append({
            "ts": pd.Timestamp(of_day[-1]["ts"]).tz_convert(tz).isoformat(),
            "event_id": f"{RHYTHM_KIND}:{day.isoformat()}",
            "kind": RHYTHM_KIND,
            "by": "Lumen",
            "rule": RHYTHM_KIND,
            "delta": {"blend_mean": summary["blend_mean"], "blend_max": summary["blend_max"]},
            "confidence": round(weight, 2),
            "quote": rhythm_message(summary, language),
            "lang": language,
            "summary": summary,
        })
    return quotes


def upsert_rhythm_quotes(path: Path, records: list[dict[str, Any]], tz: ZoneInfo, language: str) -> int:
    """Replace (or add) each day's rhythm quote in the quote bank; other quotes are left exactly as they are.
    Returns how many day messages the bank now holds from these records."""
    return upsert_quotes(path, rhythm_quotes(records, tz, language))


def upsert_quotes(path: Path, quotes: list[dict[str, Any]]) -> int:
    """Replace (or add) these day quotes in the quote bank, leaving every other quote as it is."""
    if not quotes:
        return 0
    by_id = {q["event_id"]: q for q in quotes}
    with file_lock(path):
        existing = []
        for line in iter_jsonl(path):
            if line.record is None:
                raise ValueError(f"{path}:{line.line_no}: {line.problem}; fix or remove it, then run again")
            existing.append(line.record)
        merged = [by_id.pop(r.get("event_id"), r) for r in existing]
        atomic_write_jsonl(path, merged + list(by_id.values()))
    return len(quotes)
