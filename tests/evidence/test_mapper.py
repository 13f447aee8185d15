"""The seed's evidence mapper rules (segB §1.4), with its idempotency and timestamp bugs fixed."""

from __future__ import annotations

import json
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumen_assets.atomic import upsert_jsonl
from lumen_assets.evidence.ledger import ledger_problems, read_ledger
from lumen_assets.evidence.mapper import (
    EffectRow,
    map_evidence,
    parse_ts,
    quote_text,
    record_key,
    rows_from_records,
)
from lumen_assets.evidence.settings import EvidenceSettings, RiskThresholds

KST = ZoneInfo("Asia/Seoul")
SETTINGS = EvidenceSettings()


def row(d_phase=None, d_entropy=None, d_creative=None, d_risk=None, status="complete", event_id="e1"):
    return {
        "event_id": event_id,
        "rule_ts": "2025-10-23T13:10:00+0900",
        "actor": "Lubit",
        "rule": "creative_min",
        "old": 0.22,
        "new": 0.24,
        "d_phase": d_phase,
        "d_entropy": d_entropy,
        "d_creative": d_creative,
        "d_risk": d_risk,
        "status": status,
    }


def mapped(*records, settings=SETTINGS):
    rows, rejected = rows_from_records(records, KST)
    assert not rejected
    return map_evidence(rows, settings)


def test_seed_example_gives_confidence_092_and_the_seed_quote():
    ev = mapped(row(-0.018, 0.004, 0.035, -0.022))
    (quote,) = ev.quotes
    assert quote["confidence"] == 0.92
    assert quote["good"] == 3
    assert quote["quote"] == "창의 밴드 +0.035 · 위험 밴드 -0.022 · 위상차 -0.018 · 엔트로피율 +0.004"
    assert ev.risks == []


@pytest.mark.parametrize(
    ("deltas", "confidence"),
    [
        ((0.0, 0.0, 0.0, 0.0), 0.4),
        ((-0.01, 0.0, 0.0, 0.0), 0.65),  # boundary: <= -0.01 is good
        ((-0.0099, 0.0, 0.0099, -0.0099), 0.4),
        ((-0.02, 0.0, 0.01, 0.0), 0.8),
        ((-0.02, 0.5, 0.02, -0.02), 0.92),
    ],
)
def test_confidence_table_follows_good_count(deltas, confidence):
    assert mapped(row(*deltas)).quotes[0]["confidence"] == confidence


def test_zero_prints_plus_and_negative_zero_is_not_plus_minus():
    text = quote_text({"creative": 0.0, "risk": -0.0, "phase": None, "entropy": -0.0004})
    assert text == "창의 밴드 +0.000 · 위험 밴드 -0.000 · 엔트로피율 -0.000"
    assert "+-" not in text


def test_missing_parts_are_skipped_and_all_missing_gives_no_quote_but_is_counted():
    ev = mapped(row(d_entropy=0.01), row(event_id="e2"))
    assert [q["quote"] for q in ev.quotes] == ["엔트로피율 +0.010"]
    assert ev.rejected == [("e2", "no delta to quote (all four are missing)")]


def test_blank_and_nan_cells_are_missing_not_zero():
    ev = mapped(row("", float("nan"), "0.02", None))
    assert ev.quotes[0]["delta"] == {"phase": None, "entropy": None, "creative": 0.02, "risk": None}
    assert ev.quotes[0]["good"] == 1


def test_english_labels_by_config():
    ev = mapped(row(-0.018, 0.004, 0.035, -0.022), settings=EvidenceSettings(language="en"))
    assert ev.quotes[0]["quote"] == "creative band +0.035 · risk band -0.022 · phase diff -0.018 · entropy rate +0.004"


def test_risk_needs_both_phase_and_entropy_up_and_crit_at_larger_thresholds():
    ev = mapped(
        row(0.03, 0.03, event_id="warn"),
        row(0.07, 0.061, event_id="crit"),
        row(0.05, 0.029, event_id="none"),
        row(None, 0.5, event_id="missing"),
    )
    assert [(r["event_id"], r["severity"]) for r in ev.risks] == [("warn", "warn"), ("crit", "crit")]
    assert ev.risks[0]["note"] == "규칙 이후 위상/엔트로피 동반 상승"
    assert ev.risks[0]["signal"] == {"phase": 0.03, "entropy": 0.03}


def test_info_severity_for_a_single_signal_is_opt_in():
    settings = EvidenceSettings(risk=RiskThresholds(info_single_signal=True))
    ev = mapped(row(0.05, 0.0), settings=settings)
    assert [(r["severity"], r["note"]) for r in ev.risks] == [("info", "규칙 이후 위상차 상승")]


def test_pending_and_insufficient_effects_are_counted_not_mapped():
    ev = mapped(row(0.1, 0.1, status="pending"), row(0.1, 0.1, status="insufficient", event_id="e2"))
    assert ev.quotes == [] and ev.risks == []
    assert ev.not_evidence == {"pending": 1, "insufficient": 1}


def test_record_carries_event_timestamp_not_mapping_time():
    ev = mapped(row(-0.02, 0, 0, 0))
    assert ev.quotes[0]["ts"] == "2025-10-23T13:10:00+09:00"
    assert ev.quotes[0]["event_id"] == "e1"


def test_both_seed_offset_styles_parse_to_the_same_instant():
    assert parse_ts("2025-10-23T13:10:00+0900", KST) == parse_ts("2025-10-23T04:10:00+00:00", KST)
    with pytest.raises(ValueError, match="without offset"):
        parse_ts("2025-10-23T13:10:00", KST)


def test_unreadable_rows_are_rejected_with_a_reason():
    rows, rejected = rows_from_records(
        [row("abc"), row(event_id=""), row(float("inf"), event_id="e3"), {**row(event_id="e4"), "rule_ts": "x"}], KST
    )
    assert rows == []
    assert [r[0] for r in rejected] == ["e1", "row 2", "e3", "e4"]
    assert "could not convert" in rejected[0][1]


def test_upsert_twice_adds_nothing_and_ledger_has_no_problems(tmp_path):
    path = tmp_path / "controls" / "quotes_bank.jsonl"
    ev = mapped(row(-0.02, 0, 0, 0), row(0.04, 0.04, event_id="e2"))
    assert upsert_jsonl(path, ev.quotes, record_key) == (2, 2)
    again = mapped(row(-0.02, 0, 0, 0), row(0.04, 0.04, event_id="e2"))
    assert upsert_jsonl(path, again.quotes, record_key) == (0, 2)
    assert ledger_problems(path, "quote") == []
    assert len(read_ledger(path).records) == 2


def test_ledger_problems_find_duplicates_schema_and_bad_lines(tmp_path):
    path = tmp_path / "risk_ledger.jsonl"
    good = {"ts": "2025-10-23T13:10:00+09:00", "event_id": "a", "severity": "warn", "rule": "r", "signal": {}, "note": ""}
    lines = [json.dumps(good), json.dumps(good), "{oops", json.dumps({**good, "event_id": "b", "severity": "bad"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = ledger_problems(path, "risk")
    assert any(":3: not valid JSON" in p for p in problems)
    assert any("severity 'bad'" in p for p in problems)
    assert any("event a appears 2 times" in p for p in problems)


finite = st.one_of(st.none(), st.floats(-1, 1, allow_nan=False))


@given(finite, finite, finite, finite)
def test_confidence_is_the_table_entry_for_the_good_count(p, e, c, r):
    rows = [EffectRow("e", parse_ts("2025-10-23T13:10:00+09:00", KST), "a", "r", 0, 1,
                      {"phase": p, "entropy": e, "creative": c, "risk": r})]
    ev = map_evidence(rows, SETTINGS)
    if all(v is None for v in (p, e, c, r)):
        assert ev.quotes == []
        return
    (quote,) = ev.quotes
    good = (p is not None and p <= -0.01) + (r is not None and r <= -0.01) + (c is not None and c >= 0.01)
    assert quote["confidence"] == SETTINGS.confidence[good]
    assert quote["quote"].count(" · ") == sum(v is not None for v in (p, e, c, r)) - 1
    for name, value in (("phase", p), ("entropy", e), ("creative", c), ("risk", r)):
        got = quote["delta"][name]
        assert got == value or (got is None and value is None) or math.isclose(got, value)
