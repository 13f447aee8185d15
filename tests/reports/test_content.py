"""The report's figures: the day only (not all history, seed segB §2.6), seed summaries, computed memo."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lumen_assets.evidence.mapper import map_evidence, rows_from_records
from lumen_assets.evidence.settings import EvidenceSettings
from lumen_assets.reports.checks import coverage_problems, missing_sections
from lumen_assets.reports.content import (
    build_content,
    day_window,
    metrics_of_day,
    posterior_rows,
    resonance_scores,
    rhythm_series,
    summarize_quotes,
    summarize_risks,
)
from lumen_assets.reports.markdown import render_markdown
from tests.reports.synth import DAY, KST, effects_rows, metrics_frame


def content_for(day=DAY, language="ko", metrics=None):
    effects = effects_rows()
    rows, _ = rows_from_records(effects.to_dict("records"), KST)
    evidence = map_evidence(rows, EvidenceSettings(language=language))
    window = day_window(day, KST)
    frame = metrics_frame() if metrics is None else metrics
    return build_content(
        window=window,
        quotes=evidence.quotes,
        risks=evidence.risks,
        effects=effects,
        metrics_day=metrics_of_day(frame, window),
        generated_at=datetime(2025, 10, 24, 9, 5, tzinfo=KST),
        language=language,
    ), evidence


def test_day_window_is_local_midnight_to_midnight_and_dst_days_have_their_length():
    window = day_window("2025-10-23", KST)
    assert window.start.isoformat() == "2025-10-23T00:00:00+09:00"
    assert window.seconds == 86400
    assert day_window("2025-03-30", "Europe/Berlin").seconds == 23 * 3600


def test_only_the_days_records_are_reported():
    content, evidence = content_for()
    assert len(evidence.quotes) == 7  # 5 complete on the day + 1 each side; the pending one is not quoted
    assert [q["event_id"] for q in content.quotes] == ["ev000", "ev001", "ev002", "ev003", "ev004"]
    assert len(content.effects) == 6 and content.effects[-1]["status"] == "pending"
    assert content.headline["규칙 이벤트"] == "6" and content.headline["인용"] == "5"
    assert coverage_problems(render_markdown(content), content.window, [e["ts"] for e in content.effects]) == []


def test_seed_quote_summary_is_mean_confidence_and_top_three_ties_in_file_order():
    quotes = [{"confidence": c, "n": i} for i, c in enumerate([0.4, 0.92, 0.65, 0.92, 0.8])]
    avg, top = summarize_quotes(quotes, 3)
    assert avg == round(np.mean([0.4, 0.92, 0.65, 0.92, 0.8]), 2)
    assert [q["n"] for q in top] == [1, 3, 4]
    assert summarize_quotes([], 3) == (None, [])


def test_risk_summary_counts_severities_and_keeps_the_last_three_by_time():
    risks = [{"severity": s, "ts": f"2025-10-23T0{i}:00:00+09:00"} for i, s in enumerate(["warn", "crit", "warn", "info", "warn"])]
    counts, last = summarize_risks(list(reversed(risks)), 3)
    assert counts == {"crit": 1, "warn": 3, "info": 1}
    assert [r["ts"][11:13] for r in last] == ["02", "03", "04"]


def test_memo_is_computed_from_the_day_not_the_seed_static_text():
    content, _ = content_for()
    complete = [e for e in content.effects if e["status"] == "complete"]
    mean_phase = np.mean([abs(e["d_phase"]) for e in complete])
    assert f"|Δphase| {mean_phase:.3f}" in content.memo[0]
    assert "창의 밴드 평균 0.260" in content.memo[1]
    assert any("1건" in line for line in content.memo[2:])  # one pending event


def test_markdown_has_the_four_seed_sections_in_both_languages():
    for language in ("ko", "en"):
        content, _ = content_for(language=language)
        md = render_markdown(content)
        assert missing_sections(md, language) == []
        assert md.startswith(f"# Lumen Resonance Report – {DAY}")
    assert missing_sections("# nothing", "ko") == [
        "## 1️⃣ Quote Highlights", "## 2️⃣ Risk Overview", "## 3️⃣ 관찰 메모", "## 4️⃣ 참고"]


def test_blank_metric_cells_stay_missing_in_the_stats():
    frame = metrics_frame()
    content, _ = content_for(metrics=frame)
    risk = next(s for s in content.signal_stats if s.name == "risk_band")
    assert risk.n == len(frame) - 1


def test_posterior_line_flattens_and_bad_shapes_are_absent():
    rows, ts = posterior_rows({"ts": "t", "rules": {"r": {"risk_band": {"posterior": {"mu": -0.01, "sigma": 0.002},
                                                                          "hdi": [-0.014, -0.006], "p_improve": 0.99, "n": 5}}}})
    assert ts == "t" and rows[0]["mu"] == -0.01 and rows[0]["hdi_hi"] == -0.006
    assert posterior_rows(None) == (None, None)
    assert posterior_rows({"rules": "nope"}) == (None, None)


def test_resonance_shapes_are_tolerated():
    assert resonance_scores({"windows": {"24h": {"coherence": 0.7, "x": "y"}}})[0] == {"coherence": 0.7}
    nested = {"coherence": 0.1, "data_end": "d", "windows": {"24h": {"scores": {"coherence": 0.996, "safety": None}}}}
    assert resonance_scores(nested) == ({"coherence": 0.996, "safety": None}, "d")
    assert resonance_scores({"24h": {"safety": 1}})[0] == {"safety": 1.0}
    assert resonance_scores({"coherence": 0.5, "ts": "t"}) == ({"coherence": 0.5}, "t")
    assert resonance_scores({"nothing": True}) == (None, None)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 86399.9), st.floats(0, 1)), min_size=1, max_size=200), st.integers(10, 300))
def test_rhythm_bins_average_exactly_the_samples_in_them(samples, points):
    window = day_window(DAY, KST)
    samples.sort()
    ts = pd.DatetimeIndex([pd.Timestamp(window.start) + pd.Timedelta(seconds=s) for s, _ in samples]).tz_convert("UTC")
    values = np.array([v for _, v in samples])
    frame = pd.DataFrame({"ts": ts, **{name: values for name in ("phase_diff", "entropy_rate", "creative_band", "risk_band")}})
    series = rhythm_series(frame, window, points, [])
    offsets = np.array([s for s, _ in samples])
    assert series.start_h <= offsets.min() / 3600 and offsets.max() / 3600 <= series.end_h
    span_s = (series.end_h - series.start_h) * 3600
    bins = np.clip(((offsets - series.start_h * 3600) / span_s * points).astype(int), 0, points - 1)
    for b in np.unique(bins):
        assert np.isclose(series.values["risk_band"][b], values[bins == b].mean())
    assert np.isnan(series.values["risk_band"]).sum() == points - len(np.unique(bins))


def test_chart_range_is_whole_hours_around_the_data_or_the_whole_empty_day():
    window = day_window(DAY, KST)
    frame = metrics_frame()
    part = frame[(frame["ts"] >= pd.Timestamp(f"{DAY}T09:10:00+09:00")) & (frame["ts"] < pd.Timestamp(f"{DAY}T12:50:00+09:00"))]
    series = rhythm_series(part, window, 100, [datetime(2025, 10, 23, 13, 5, tzinfo=KST)])
    assert (series.start_h, series.end_h) == (9.0, 14.0)
    empty = rhythm_series(frame.iloc[:0], window, 100, [])
    assert (empty.start_h, empty.end_h) == (0.0, 24.0) and np.isnan(empty.values["phase_diff"]).all()


def test_metrics_of_day_is_a_half_open_local_day():
    frame = metrics_frame(days=3, start_offset_h=-24)
    window = day_window(DAY, ZoneInfo("Asia/Seoul"))
    day = metrics_of_day(frame, window)
    assert day["ts"].min() >= pd.Timestamp(window.start) and day["ts"].max() < pd.Timestamp(window.end)
    assert len(day) == 86400 * 0.2


def _posterior_record(ts: str, converged: bool | None, fit: str = "pymc", mu: float = -0.01) -> dict:
    record = {"ts": ts, "fit": fit, "method": "pymc-pooled-student-t-v2" if fit == "pymc" else "conjugate-normal-fixed-noise",
              "divergences": 0 if converged else 17, "max_r_hat": 1.002 if converged else 1.08, "min_ess": 900.0,
              "attempts": [{"attempt": 1}] if converged else [{"attempt": 1}, {"attempt": 2}, {"attempt": 3}],
              "rules": {"risk_max": {"risk_band": {"posterior": {"mu": mu, "sigma": 0.001}, "hdi": [mu - 0.002, mu + 0.002],
                                                   "p_improve": 0.99, "n": 12, "method": "x"}}}}
    if converged is not None:
        record["converged"] = converged
    return record


def _jsonl(path, records):
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_report_shows_the_last_converged_fit_and_warns_when_the_newest_did_not_converge(tmp_path):
    from lumen_assets.reports.build import choose_posterior
    from lumen_assets.reports.content import posterior_notes

    pymc = _jsonl(tmp_path / "p.jsonl", [_posterior_record("T1", True, mu=-0.011), _posterior_record("T2", False, mu=0.5)])
    conjugate = _jsonl(tmp_path / "c.jsonl", [_posterior_record("T3", True, fit="conjugate")])
    shown, newest, problem = choose_posterior(pymc, conjugate)
    assert shown["ts"] == "T1" and newest["ts"] == "T2" and problem is None
    notes = posterior_notes(shown, newest)
    assert "did NOT converge" in notes[0] and "17 divergences" in notes[0] and "not to be relied on" in notes[0]
    assert "3 sampling attempt(s)" in notes[0]
    assert notes[1].startswith("Shown instead: the last converged PyMC pooled fit") and "T1" in notes[1]


def test_report_falls_back_to_the_conjugate_posterior_labelled_as_such(tmp_path):
    from lumen_assets.reports.build import choose_posterior
    from lumen_assets.reports.content import posterior_notes

    pymc = _jsonl(tmp_path / "p.jsonl", [_posterior_record("T2", False)])
    conjugate = _jsonl(tmp_path / "c.jsonl", [_posterior_record("T3", True, fit="conjugate")])
    shown, newest, _ = choose_posterior(pymc, conjugate)
    assert shown["fit"] == "conjugate" and newest["ts"] == "T2"
    assert "conjugate (closed-form, fixed-noise) posterior of T3" in posterior_notes(shown, newest)[1]
    # only an unconverged fit exists: it is shown, with the warning
    shown, newest, _ = choose_posterior(pymc, tmp_path / "missing.jsonl")
    assert shown["ts"] == "T2" and newest is None
    assert "did NOT converge" in posterior_notes(shown, newest)[0]
    # a converged newest fit: shown, with its diagnostics; old records without `converged` count as converged
    shown, newest, _ = choose_posterior(_jsonl(tmp_path / "o.jsonl", [_posterior_record("T0", None)]), conjugate)
    assert shown["ts"] == "T0" and newest is None
    assert posterior_notes(shown, None)[0].startswith("Shown: the PyMC pooled fit")
