"""The seed's evidence mapper (segB §1.4): each complete rule effect becomes one quote and maybe one risk.

Kept from the seed: thresholds, the confidence table indexed by the count of good signals, the quote text
(creative, risk, phase, entropy; `"{label} {+/-}{v:.3f}"` joined by " · "), a quote for every parseable
row whatever its good count, and a risk only when phase and entropy rose together.
Fixed (segB §1.8): records carry the rule event's own timestamp and id instead of the mapping time, so a
re-run merges by id instead of appending duplicates; only `complete` effects carry evidence (a pending
window is not evidence yet); `crit`/`info` severities exist; `-0.0` no longer prints as `+-0.000`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import pandas as pd

from lumen_assets.evidence.settings import EvidenceSettings

LABELS = {
    "ko": {"creative": "창의 밴드", "risk": "위험 밴드", "phase": "위상차", "entropy": "엔트로피율"},
    "en": {"creative": "creative band", "risk": "risk band", "phase": "phase diff", "entropy": "entropy rate"},
}
RISK_NOTES = {
    "ko": {
        "both": "규칙 이후 위상/엔트로피 동반 상승",
        "phase": "규칙 이후 위상차 상승",
        "entropy": "규칙 이후 엔트로피율 상승",
    },
    "en": {
        "both": "phase and entropy rose together after the rule change",
        "phase": "phase difference rose after the rule change",
        "entropy": "entropy rate rose after the rule change",
    },
}
QUOTE_ORDER = ("creative", "risk", "phase", "entropy")
DELTA_COLUMNS = {"phase": "d_phase", "entropy": "d_entropy", "creative": "d_creative", "risk": "d_risk"}


@dataclass(frozen=True)
class EffectRow:
    """The part of one `logs/rules_effects.csv` row the evidence mapper reads."""

    event_id: str
    ts: datetime
    actor: str
    rule: str
    old: Any
    new: Any
    delta: dict[str, float | None]
    status: str = "complete"


@dataclass
class Evidence:
    """What one mapping pass produced, plus every row it could not use and why (never silently dropped)."""

    quotes: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)
    not_evidence: dict[str, int] = field(default_factory=dict)  # status -> count (pending, insufficient)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (event_id, reason)


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA (what read_effects_csv gives for a blank cell) are all "missing"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def parse_delta(value: Any) -> float | None:
    """A delta cell: blank/NaN/NA/None is missing; a finite number is kept; anything else is an error."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        if value.strip() == "":
            return None
        value = float(value)  # ValueError names the text
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError(f"non-finite delta {value!r}")
    return number


def parse_ts(value: Any, tz: tzinfo) -> datetime:
    """An event timestamp as a tz-aware datetime in the reporting timezone (both seed offset styles)."""
    if is_missing(value):
        raise ValueError("missing timestamp")
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value.isoformat()}")
    return value.astimezone(tz)


def _plain(value: Any) -> Any:
    """Rule values as JSON-friendly scalars (numpy/pandas scalars unwrapped, NaN -> None)."""
    if is_missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return None if is_missing(value) else value


def rows_from_records(records: Iterable[Mapping[str, Any]], tz: tzinfo,
                      first_index: int = 0) -> tuple[list[EffectRow], list[tuple[str, str]]]:
    """Turn effects-table records into EffectRows; rows that cannot be read are returned with a reason
    (`first_index`: how many table rows come before these, for the "row N" of a row without an id)."""
    rows: list[EffectRow] = []
    rejected: list[tuple[str, str]] = []
    for index, record in enumerate(records, start=first_index):
        raw_id = record.get("event_id")
        event_id = "" if is_missing(raw_id) else str(raw_id).strip()
        label = event_id or f"row {index + 1}"
        try:
            if not event_id:
                raise ValueError("missing event_id")
            delta = {name: parse_delta(record.get(column)) for name, column in DELTA_COLUMNS.items()}
            ts = parse_ts(record.get("rule_ts"), tz)
        except (TypeError, ValueError) as exc:
            rejected.append((label, str(exc)))
            continue
        rows.append(
            EffectRow(
                event_id=event_id,
                ts=ts,
                actor=str(_plain(record.get("actor")) or ""),
                rule=str(_plain(record.get("rule")) or ""),
                old=_plain(record.get("old")),
                new=_plain(record.get("new")),
                delta=delta,
                status="complete" if is_missing(record.get("status")) else str(record.get("status")),
            )
        )
    return rows, rejected


def format_part(name: str, value: float, language: str = "ko") -> str:
    """`"{label} {+/-}{v:.3f}"` as the seed printed it (0 prints `+0.000`)."""
    return f"{LABELS[language][name]} {value:+.3f}"


def quote_text(delta: Mapping[str, float | None], language: str = "ko") -> str:
    """Parts in the seed's order creative, risk, phase, entropy; missing parts skipped; joined by " · "."""
    parts = [format_part(name, delta[name], language) for name in QUOTE_ORDER if delta.get(name) is not None]
    return " · ".join(parts)


def good_count(delta: Mapping[str, float | None], settings: EvidenceSettings) -> int:
    """How many of phase down, risk down, creative up passed their thresholds (seed make_quote)."""
    q = settings.quote
    phase, risk, creative = delta.get("phase"), delta.get("risk"), delta.get("creative")
    return sum(
        (
            phase is not None and phase <= q.phase_good,
            risk is not None and risk <= q.risk_good,
            creative is not None and creative >= q.creative_good,
        )
    )


def make_quote(row: EffectRow, settings: EvidenceSettings) -> dict[str, Any] | None:
    """One quote for a row with at least one delta, whatever its good count (as the seed did)."""
    text = quote_text(row.delta, settings.language)
    if not text:
        return None
    good = good_count(row.delta, settings)
    return {
        "ts": row.ts.isoformat(),
        "event_id": row.event_id,
        "by": "Lumen",
        "actor": row.actor,
        "rule": row.rule,
        "old": row.old,
        "new": row.new,
        "delta": dict(row.delta),
        "good": good,
        "confidence": round(settings.confidence[good], 2),
        "quote": text,
        "lang": settings.language,
    }


def risk_severity(phase: float | None, entropy: float | None, settings: EvidenceSettings) -> tuple[str, str] | None:
    """(severity, which) for a phase/entropy pair, or None when it is not an instability signal."""
    r = settings.risk
    phase_up = phase is not None and phase >= r.phase_bad
    entropy_up = entropy is not None and entropy >= r.entropy_bad
    if phase_up and entropy_up:
        crit = phase >= r.crit_phase and entropy >= r.crit_entropy  # type: ignore[operator]
        return ("crit" if crit else "warn"), "both"
    if r.info_single_signal and (phase_up or entropy_up):
        return "info", "phase" if phase_up else "entropy"
    return None


def make_risk(row: EffectRow, settings: EvidenceSettings) -> dict[str, Any] | None:
    """A risk record when phase and entropy both rose past their bad thresholds (seed make_risk)."""
    phase, entropy = row.delta.get("phase"), row.delta.get("entropy")
    found = risk_severity(phase, entropy, settings)
    if found is None:
        return None
    severity, which = found
    return {
        "ts": row.ts.isoformat(),
        "event_id": row.event_id,
        "severity": severity,
        "actor": row.actor,
        "rule": row.rule,
        "signal": {"phase": phase, "entropy": entropy},
        "note": RISK_NOTES[settings.language][which],
        "lang": settings.language,
    }


def map_evidence(rows: Iterable[EffectRow], settings: EvidenceSettings) -> Evidence:
    """Quotes and risks for every complete row, in input order; other statuses counted, not mapped."""
    evidence = Evidence()
    for row in rows:
        if row.status != "complete":
            evidence.not_evidence[row.status] = evidence.not_evidence.get(row.status, 0) + 1
            continue
        quote = make_quote(row, settings)
        if quote is None:
            evidence.rejected.append((row.event_id, "no delta to quote (all four are missing)"))
        else:
            evidence.quotes.append(quote)
        risk = make_risk(row, settings)
        if risk is not None:
            evidence.risks.append(risk)
    return evidence


def record_key(record: Mapping[str, Any]) -> str:
    """Upsert key: one quote and one risk per rule event."""
    return str(record["event_id"])
