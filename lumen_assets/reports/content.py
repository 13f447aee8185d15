"""What a daily report says, computed from plain data (seed segB §2.3), before any Markdown or PDF.

The seed's "daily" report summarised the whole history (segB §2.6); here every figure covers the
partition's day only, in the reporting timezone: quotes and risks by their rule event's timestamp,
effects by `rule_ts`, metrics by `ts`. The seed's static observation memo becomes one computed from the
day's effects and signals, keeping its own criterion (mean |Δphase|, |Δrisk| within ±0.02).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lumen_assets.evidence.mapper import parse_ts, rows_from_records
from lumen_assets.signals import SIGNALS

SIGNAL_SHORT = {"phase_diff": "phase", "entropy_rate": "entropy", "creative_band": "creative", "risk_band": "risk"}
RESONANCE_KEYS = ("coherence", "symmetry", "continuity", "entropy", "safety", "phase")

TEXT = {
    "ko": {
        "events": "규칙 이벤트",
        "complete": "완료된 효과",
        "quotes": "인용",
        "avg_conf": "평균 신뢰도",
        "risks": "위험 기록",
        "samples": "메트릭 샘플",
        "no_records": "(기록 없음)",
        "dist": "위험 수준 분포",
        "memo_none": "오늘은 완료된 규칙 변화가 없습니다.",
        "memo_delta": "완료된 규칙 변화 {n}건의 평균 감응폭은 |Δphase| {phase:.3f}, |Δrisk| {risk:.3f}로 ±{band:g} {where}입니다: {verdict}.",
        "inside": "이내",
        "outside": "밖",
        "lock": "안정 잠금 유지",
        "check": "안정 잠금 점검 필요",
        "memo_bands": "창의 밴드 평균 {creative:.3f} (기준 ≥ {cmin:g}: {cok}), 위험 밴드 평균 {risk:.3f} (기준 ≤ {rmax:g}: {rok}).",
        "met": "충족",
        "missed": "미달",
        "memo_no_metrics": "오늘의 메트릭 샘플이 없습니다.",
        "memo_pending": "관찰 창이 아직 끝나지 않은 이벤트 {n}건은 다음 보고에 반영됩니다.",
        "memo_risks": "위험 기록 {n}건: {dist}.",
    },
    "en": {
        "events": "Rule events",
        "complete": "Complete effects",
        "quotes": "Quotes",
        "avg_conf": "Average confidence",
        "risks": "Risk records",
        "samples": "Metric samples",
        "no_records": "(no records)",
        "dist": "Risk level distribution",
        "memo_none": "No rule change completed today.",
        "memo_delta": "The {n} completed rule changes moved |Δphase| {phase:.3f} and |Δrisk| {risk:.3f} on average, {where} ±{band:g}: {verdict}.",
        "inside": "within",
        "outside": "outside",
        "lock": "the stable lock holds",
        "check": "the stable lock needs a look",
        "memo_bands": "Creative band mean {creative:.3f} (target ≥ {cmin:g}: {cok}), risk band mean {risk:.3f} (target ≤ {rmax:g}: {rok}).",
        "met": "met",
        "missed": "missed",
        "memo_no_metrics": "No metric samples today.",
        "memo_pending": "{n} events whose post window has not ended yet will be in the next report.",
        "memo_risks": "{n} risk records: {dist}.",
    },
}


@dataclass(frozen=True)
class DayWindow:
    """The reporting day [start, end) in the reporting timezone."""

    day: date
    tz: ZoneInfo
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return self.day.isoformat()

    @property
    def seconds(self) -> float:
        """Real elapsed seconds (23 h or 25 h on a DST change; same-zone datetime subtraction is wall time)."""
        return self.end.timestamp() - self.start.timestamp()

    def offset_s(self, ts: datetime) -> float:
        return ts.timestamp() - self.start.timestamp()

    def contains(self, ts: datetime) -> bool:
        return self.start.timestamp() <= ts.timestamp() < self.end.timestamp()


def day_window(partition_key: str, tz: ZoneInfo | str) -> DayWindow:
    """`YYYY-MM-DD` (a daily partition key) as an aware [start, end) window; DST-length days are honoured."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    try:
        day = date.fromisoformat(partition_key)
    except ValueError as exc:
        raise ValueError(f"report partition key {partition_key!r} is not YYYY-MM-DD") from exc
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return DayWindow(day, zone, start, end)


@dataclass(frozen=True)
class SignalStats:
    name: str
    n: int
    mean: float | None
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class RhythmSeries:
    """Binned signal means for the chart; x in hours since the day's start, shown over [start_h, end_h]."""

    hours: np.ndarray
    values: dict[str, np.ndarray]  # signal -> bin means (NaN where a bin had no sample)
    event_hours: list[float]
    day_hours: float
    start_h: float = 0.0
    end_h: float = 24.0
    overlay: np.ndarray | None = None  # the rhythm blend per bin (reports.rhythm_overlay), NaN = none


@dataclass
class ReportContent:
    """Everything the Markdown and the PDF print, for one day."""

    window: DayWindow
    title: str
    language: str
    generated_at: datetime
    quotes: list[dict[str, Any]]
    risks: list[dict[str, Any]]
    effects: list[dict[str, Any]]
    signal_stats: list[SignalStats]
    avg_confidence: float | None
    top_quotes: list[dict[str, Any]]
    risk_counts: dict[str, int]
    recent_risks: list[dict[str, Any]]
    memo: list[str]
    headline: dict[str, str]
    posterior: list[dict[str, Any]] | None = None
    posterior_ts: str | None = None
    posterior_notes: list[str] = field(default_factory=list)
    resonance: dict[str, float | None] | None = None
    resonance_ts: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # file -> sha256
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> dict[str, str]:
        return TEXT[self.language]


def records_of_day(records: Iterable[Mapping[str, Any]], window: DayWindow) -> list[dict[str, Any]]:
    """Records whose own `ts` falls in the day (file order kept); unreadable ts are left out by the caller's check."""
    day = []
    for record in records:
        try:
            ts = parse_ts(record.get("ts"), window.tz)
        except (TypeError, ValueError):
            continue
        if window.contains(ts):
            day.append(dict(record))
    return day


def summarize_quotes(quotes: list[dict[str, Any]], top_n: int) -> tuple[float | None, list[dict[str, Any]]]:
    """Seed summarize_quotes: mean confidence (2 dp) and the top N by confidence, ties in file order."""
    if not quotes:
        return None, []
    avg = round(float(np.mean([float(q.get("confidence", 0)) for q in quotes])), 2)
    top = sorted(quotes, key=lambda q: -float(q.get("confidence", 0)))[:top_n]
    return avg, top


def summarize_risks(risks: list[dict[str, Any]], last_n: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Seed summarize_risks: severity counts (missing -> info) and the last N, here in time order."""
    counts = Counter(str(r.get("severity", "info")) for r in risks)
    ordered = sorted(risks, key=lambda r: str(r.get("ts", "")))
    return {k: counts[k] for k in ("crit", "warn", "info") if counts[k]} | {
        k: v for k, v in counts.items() if k not in ("crit", "warn", "info")
    }, ordered[-last_n:]


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def effects_of_day(effects: pd.DataFrame | Iterable[Mapping[str, Any]], window: DayWindow) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The day's effect rows (any status), time-ordered, as flat dicts for the tables."""
    records = effects.to_dict("records") if isinstance(effects, pd.DataFrame) else list(effects)
    rows, rejected = rows_from_records(records, window.tz)
    day = [r for r in rows if window.contains(r.ts)]
    day.sort(key=lambda r: r.ts)
    return [
        {
            "event_id": r.event_id,
            "ts": r.ts,
            "rule": r.rule,
            "actor": r.actor,
            "old": r.old,
            "new": r.new,
            "status": r.status,
            **{f"d_{k}": v for k, v in r.delta.items()},
        }
        for r in day
    ], rejected


def metrics_of_day(frame: pd.DataFrame, window: DayWindow) -> pd.DataFrame:
    """Rows of a metrics frame (`ts` tz-aware, sorted) inside the day; a binary search, not a scan."""
    if frame.empty:
        return frame
    ts = frame["ts"]
    lo = ts.searchsorted(pd.Timestamp(window.start))
    hi = ts.searchsorted(pd.Timestamp(window.end))
    return frame.iloc[lo:hi]


def signal_stats(day_frame: pd.DataFrame) -> list[SignalStats]:
    stats = []
    for name in SIGNALS:
        values = day_frame[name].to_numpy(dtype="float64") if name in day_frame else np.array([])
        values = values[~np.isnan(values)]
        if values.size == 0:
            stats.append(SignalStats(name, 0, None, None, None))
        else:
            stats.append(SignalStats(name, int(values.size), float(values.mean()), float(values.min()), float(values.max())))
    return stats


def rhythm_series(day_frame: pd.DataFrame, window: DayWindow, points: int, event_times: Iterable[datetime]) -> RhythmSeries:
    """Bin means of each signal (NaN-aware; blank cells stay missing) over the part of the day that has data.

    The x-range is the day clipped to whole hours around the samples and events, so a few hours of data
    are not squeezed into a sliver of a 24-hour axis; an empty day shows the whole day.
    """
    day_s = window.seconds
    ts_ns = pd.DatetimeIndex(day_frame["ts"]).as_unit("ns").asi8 if not day_frame.empty else np.array([], dtype=np.int64)
    start_ns = pd.Timestamp(window.start).as_unit("ns").value
    offset_s = (ts_ns - start_ns) / 1e9
    event_hours = [window.offset_s(t) / 3600.0 for t in event_times if window.contains(t)]
    known = [*(offset_s[[0, -1]] / 3600.0 if offset_s.size else []), *event_hours]
    lo_h = max(0.0, math.floor(min(known))) if known else 0.0
    hi_h = min(day_s / 3600.0, math.ceil(max(known) + 1e-9)) if known else day_s / 3600.0
    if hi_h - lo_h < 1.0:
        hi_h = min(day_s / 3600.0, lo_h + 1.0)
        lo_h = max(0.0, hi_h - 1.0)
    span_s = (hi_h - lo_h) * 3600.0
    centres_h = lo_h + (np.arange(points) + 0.5) * (span_s / points) / 3600.0
    values: dict[str, np.ndarray] = {}
    bins = np.clip(((offset_s - lo_h * 3600.0) / span_s * points).astype(np.int64), 0, points - 1)
    for name in SIGNALS:
        column = day_frame[name].to_numpy(dtype="float64") if not day_frame.empty else np.array([])
        ok = ~np.isnan(column)
        sums = np.bincount(bins[ok], weights=column[ok], minlength=points)
        counts = np.bincount(bins[ok], minlength=points)
        values[name] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return RhythmSeries(centres_h, values, event_hours, day_s / 3600.0, lo_h, hi_h)


def _fit_diagnostics(line: Mapping[str, Any]) -> str:
    attempts = line.get("attempts") or []
    parts = [f"{line.get('divergences', 0)} divergences"]
    if line.get("max_r_hat") is not None:
        parts.append(f"max r̂ {float(line['max_r_hat']):.4f}")
    if line.get("min_ess") is not None:
        parts.append(f"min ESS {float(line['min_ess']):.0f}")
    if attempts:
        parts.append(f"{len(attempts)} sampling attempt(s)")
    return ", ".join(parts)


def _fit_name(line: Mapping[str, Any]) -> str:
    cells = [e for signals in (line.get("rules") or {}).values() if isinstance(signals, Mapping)
             for e in signals.values() if isinstance(e, Mapping)]
    method = str(line.get("method") or (cells[0].get("method", "") if cells else ""))
    if line.get("fit") == "conjugate" or method.startswith("conjugate"):
        return "the conjugate (closed-form, fixed-noise) posterior"
    return f"the PyMC pooled fit ({method})" if method else "the PyMC pooled fit"


def posterior_notes(shown: Mapping[str, Any] | None, newest: Mapping[str, Any] | None) -> list[str]:
    """Which fit the posterior table shows, its diagnostics, and a warning when the newest fit failed."""
    if not shown:
        return []
    notes = []
    if newest is not None:
        notes.append(f"WARNING: the newest PyMC fit ({newest.get('ts', '?')}) did NOT converge "
                     f"({_fit_diagnostics(newest)}); it is not to be relied on and is not shown.")
        name = _fit_name(shown)
        if name.startswith("the PyMC"):
            name = "the last converged PyMC pooled fit" + name[len("the PyMC pooled fit"):]
        notes.append(f"Shown instead: {name} of {shown.get('ts', '?')}.")
    elif shown.get("converged") is False:
        notes.append(f"WARNING: this PyMC fit ({shown.get('ts', '?')}) did NOT converge ({_fit_diagnostics(shown)}); "
                     "it is not to be relied on (no converged or conjugate posterior exists yet).")
    else:
        notes.append(f"Shown: {_fit_name(shown)} of {shown.get('ts', '?')} ({_fit_diagnostics(shown)}).")
    return notes


def posterior_rows(line: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Flatten the posteriors issue's JSONL line ({ts, rules: {rule: {signal: {...}}}}) into table rows."""
    if not line or not isinstance(line.get("rules"), Mapping):
        return None, None
    rows = []
    for rule, signals in sorted(line["rules"].items()):
        if not isinstance(signals, Mapping):
            continue
        for signal in SIGNALS:
            entry = signals.get(signal)
            if not isinstance(entry, Mapping):
                continue
            post = entry.get("posterior") or {}
            hdi = entry.get("hdi") or [None, None]
            rows.append(
                {
                    "rule": rule,
                    "signal": signal,
                    "mu": _num(post.get("mu")),
                    "sigma": _num(post.get("sigma")),
                    "hdi_lo": _num(hdi[0]) if len(hdi) > 0 else None,
                    "hdi_hi": _num(hdi[1]) if len(hdi) > 1 else None,
                    "p_improve": _num(entry.get("p_improve")),
                    "n": entry.get("n"),
                    "method": entry.get("method", ""),
                }
            )
    return rows, str(line.get("ts", "")) or None


def resonance_scores(data: Mapping[str, Any] | None, window_name: str = "24h") -> tuple[dict[str, float | None] | None, str | None]:
    """The 24h scores from logs/resonance.json ({windows: {24h: {scores: {...}}}}, or flatter shapes).

    A score the resonance area could not compute is null there and stays None (printed as "–").
    """
    if not isinstance(data, Mapping):
        return None, None
    candidates: list[Any] = []
    windows = data.get("windows")
    if isinstance(windows, Mapping) and isinstance(windows.get(window_name), Mapping):
        candidates += [windows[window_name].get("scores"), windows[window_name]]
    if isinstance(data.get(window_name), Mapping):
        candidates += [data[window_name].get("scores"), data[window_name]]
    candidates += [data.get("scores"), data]
    for candidate in candidates:
        if not isinstance(candidate, Mapping):
            continue
        scores: dict[str, float | None] = {}
        for key in RESONANCE_KEYS:
            value = candidate.get(key, "absent")
            if value is None:
                scores[key] = None
            elif isinstance(value, int | float) and not isinstance(value, bool):
                scores[key] = float(value)
        if any(v is not None for v in scores.values()):
            stamp = data.get("data_end") or data.get("ts") or data.get("generated_at") or ""
            return scores, str(stamp) or None
    return None, None


def observation_memo(
    effects: list[dict[str, Any]],
    stats: list[SignalStats],
    risk_counts: Mapping[str, int],
    language: str,
    band: float,
    creative_min: float,
    risk_max: float,
) -> list[str]:
    """The seed's memo, computed: the ±band criterion on the day's effects, the band targets, risks."""
    text = TEXT[language]
    lines = []
    complete = [e for e in effects if e["status"] == "complete"]
    phases = [abs(e["d_phase"]) for e in complete if e["d_phase"] is not None]
    risks = [abs(e["d_risk"]) for e in complete if e["d_risk"] is not None]
    if phases or risks:
        mean_phase = float(np.mean(phases)) if phases else 0.0
        mean_risk = float(np.mean(risks)) if risks else 0.0
        inside = mean_phase <= band and mean_risk <= band
        lines.append(
            text["memo_delta"].format(
                n=len(complete),
                phase=mean_phase,
                risk=mean_risk,
                band=band,
                where=text["inside" if inside else "outside"],
                verdict=text["lock" if inside else "check"],
            )
        )
    else:
        lines.append(text["memo_none"])
    by_name = {s.name: s for s in stats}
    creative, risk = by_name["creative_band"].mean, by_name["risk_band"].mean
    if creative is None or risk is None:
        lines.append(text["memo_no_metrics"])
    else:
        lines.append(
            text["memo_bands"].format(
                creative=creative,
                cmin=creative_min,
                cok=text["met" if creative >= creative_min else "missed"],
                risk=risk,
                rmax=risk_max,
                rok=text["met" if risk <= risk_max else "missed"],
            )
        )
    pending = sum(1 for e in effects if e["status"] == "pending")
    if pending:
        lines.append(text["memo_pending"].format(n=pending))
    if risk_counts:
        dist = ", ".join(f"{k} {v}" for k, v in risk_counts.items())
        lines.append(text["memo_risks"].format(n=sum(risk_counts.values()), dist=dist))
    return lines


def headline_figures(content_counts: Mapping[str, Any], language: str) -> dict[str, str]:
    """The figures a reader checks first; the PDF check requires each to be in the text layer."""
    text = TEXT[language]
    avg = content_counts["avg_confidence"]
    return {
        text["events"]: str(content_counts["events"]),
        text["complete"]: str(content_counts["complete"]),
        text["quotes"]: str(content_counts["quotes"]),
        text["avg_conf"]: "-" if avg is None else f"{avg:.2f}",
        text["risks"]: str(content_counts["risks"]),
        text["samples"]: str(content_counts["samples"]),
    }


def build_content(
    *,
    window: DayWindow,
    quotes: Iterable[Mapping[str, Any]],
    risks: Iterable[Mapping[str, Any]],
    effects: pd.DataFrame | Iterable[Mapping[str, Any]],
    metrics_day: pd.DataFrame,
    generated_at: datetime,
    title: str = "Lumen Resonance Report",
    language: str = "ko",
    top_quotes: int = 3,
    recent_risks: int = 3,
    memo_band: float = 0.02,
    creative_min: float = 0.22,
    risk_max: float = 0.35,
    posterior_line: Mapping[str, Any] | None = None,
    resonance: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
    posterior_newest: Mapping[str, Any] | None = None,
) -> ReportContent:
    """Select the day's evidence and compute every figure the report prints."""
    day_quotes = records_of_day(quotes, window)
    day_risks = records_of_day(risks, window)
    day_effects, rejected = effects_of_day(effects, window)
    stats = signal_stats(metrics_day)
    avg, top = summarize_quotes(day_quotes, top_quotes)
    counts, recent = summarize_risks(day_risks, recent_risks)
    memo = observation_memo(day_effects, stats, counts, language, memo_band, creative_min, risk_max)
    posterior, posterior_ts = posterior_rows(posterior_line)
    scores, resonance_ts = resonance_scores(resonance)
    headline = headline_figures(
        {
            "events": len(day_effects),
            "complete": sum(1 for e in day_effects if e["status"] == "complete"),
            "quotes": len(day_quotes),
            "avg_confidence": avg,
            "risks": len(day_risks),
            "samples": len(metrics_day),
        },
        language,
    )
    return ReportContent(
        window=window,
        title=title,
        language=language,
        generated_at=generated_at.astimezone(window.tz),
        quotes=day_quotes,
        risks=day_risks,
        effects=day_effects,
        signal_stats=stats,
        avg_confidence=avg,
        top_quotes=top,
        risk_counts=counts,
        recent_risks=recent,
        memo=memo,
        headline=headline,
        posterior=posterior,
        posterior_ts=posterior_ts,
        posterior_notes=posterior_notes(posterior_line, posterior_newest) if posterior else [],
        resonance=scores,
        resonance_ts=resonance_ts,
        sources=dict(sources or {}),
        rejected=rejected,
    )
