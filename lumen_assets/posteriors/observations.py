"""The evidence the posteriors use: one Δ per (complete rule event, signal), taken from the effects table.

Only rows with status == "complete" carry evidence (a pending row's post window has not elapsed; an
insufficient row has too few samples). A blank Δ is missing, never 0.0; a cell that is present but not a
number is quarantined with its row and column, never coerced.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lumen_assets.signals import DELTA_COLUMNS, SIGNALS


@dataclass(frozen=True)
class Observations:
    """Long-form evidence: parallel arrays, one entry per (event, signal) with a numeric Δ."""

    event_id: np.ndarray  # str
    rule: np.ndarray  # str
    signal: np.ndarray  # str
    delta: np.ndarray  # float64
    rules_without_evidence: tuple[str, ...] = ()
    quarantined: tuple[dict[str, Any], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.delta)

    @property
    def rules(self) -> list[str]:
        return sorted(set(self.rule.tolist()))

    def values(self, rule: str, signal: str) -> np.ndarray:
        return self.delta[(self.rule == rule) & (self.signal == signal)]

    def version(self, extra: str = "") -> str:
        """sha256 of the evidence in canonical order (plus `extra`, e.g. the settings): the cache key."""
        order = np.lexsort((self.signal, self.event_id))
        digest = hashlib.sha256()
        digest.update(extra.encode())
        for i in order:
            digest.update(f"{self.event_id[i]}\x1f{self.rule[i]}\x1f{self.signal[i]}\x1f{self.delta[i]!r}\n".encode())
        return digest.hexdigest()


def _cell_number(value: Any) -> float | None | str:
    """A float, None for a missing cell, or the string "bad" for a present non-number."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        if math.isnan(number):
            return None
        return number if math.isfinite(number) else "bad"
    text = str(value).strip()
    if text == "" or text.lower() == "nan":
        return None
    try:
        number = float(text)
    except ValueError:
        return "bad"
    return number if math.isfinite(number) else "bad"


def observations_from_effects(effects: pd.DataFrame, source: str = "logs/rules_effects.csv") -> Observations:
    """Turn the effects table into evidence; counts every row by fate so nothing disappears unexplained."""
    required = {"rule", "status", *DELTA_COLUMNS.values()}
    missing = sorted(required - set(effects.columns))
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)}")
    ids, rules, signals, deltas = [], [], [], []
    quarantined: list[dict[str, Any]] = []
    counts = {"rows": len(effects), "complete": 0, "not_complete": 0, "missing_cells": 0, "bad_cells": 0}
    complete_rules: set[str] = set()
    seen_rules: set[str] = set()
    has_id = "event_id" in effects.columns
    for position, row in enumerate(effects.itertuples(index=False)):
        record = row._asdict()
        rule = str(record["rule"] or "").strip() or "unknown"
        seen_rules.add(rule)
        if str(record["status"]).strip() != "complete":
            counts["not_complete"] += 1
            continue
        counts["complete"] += 1
        event_id = str(record["event_id"]) if has_id else str(record.get("rule_ts", position))
        added = False
        for signal in SIGNALS:
            column = DELTA_COLUMNS[signal]
            value = _cell_number(record[column])
            if value is None:
                counts["missing_cells"] += 1
            elif value == "bad":
                counts["bad_cells"] += 1
                quarantined.append(
                    {"row": position + 2, "event_id": event_id, "column": column, "value": str(record[column]),
                     "reason": "not a finite number"}
                )
            else:
                ids.append(event_id)
                rules.append(rule)
                signals.append(signal)
                deltas.append(value)
                added = True
        if added:
            complete_rules.add(rule)
    return Observations(
        event_id=np.asarray(ids, dtype=object),
        rule=np.asarray(rules, dtype=object),
        signal=np.asarray(signals, dtype=object),
        delta=np.asarray(deltas, dtype=np.float64),
        rules_without_evidence=tuple(sorted(seen_rules - complete_rules)),
        quarantined=tuple(quarantined),
        counts=counts,
    )


def observations_from_records(records: list[dict[str, Any]]) -> Observations:
    """Build evidence from `{"event_id", "rule", "signal", "delta"}` dicts (tests, bench)."""
    return Observations(
        event_id=np.asarray([str(r["event_id"]) for r in records], dtype=object),
        rule=np.asarray([r["rule"] for r in records], dtype=object),
        signal=np.asarray([r["signal"] for r in records], dtype=object),
        delta=np.asarray([float(r["delta"]) for r in records], dtype=np.float64),
        counts={"rows": len(records)},
    )
