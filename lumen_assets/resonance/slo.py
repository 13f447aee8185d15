"""SLO verdicts over a resonance document (segD §13.8-13.9, segC C8/C9), as plain data.

Each verdict says passed / severity / the key figures; the Dagster layer turns it into an AssetCheckResult.
Unknown inputs never pass silently as healthy: a coherence or band mean that cannot be computed fails with
WARN and says why; no finished runs in the SLI window is "no data" and passes (no budget was burned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lumen_assets.humanize import duration
from lumen_assets.resonance.settings import ResonanceSettings


@dataclass(frozen=True)
class SloVerdict:
    name: str
    passed: bool
    severity: str  # "WARN" or "ERROR"; meaningful when not passed
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)


def coherence_verdict(document: dict[str, Any], settings: ResonanceSettings) -> SloVerdict:
    """< coherence_page: ERROR (page); < coherence_ok: WARN; else ok. Every channel is judged."""
    window = document["windows"][settings.slo_window]
    t = settings.thresholds
    values = {"all": window["scores"]["coherence"], **window["channels"]}
    figures: dict[str, Any] = {f"coherence[{k}]": v for k, v in values.items()}
    figures.update(window=settings.slo_window, coherence_page=t.coherence_page, coherence_ok=t.coherence_ok)
    if window["unknown"]:
        figures["unknown_components"] = ", ".join(window["unknown"])
    known = {k: v for k, v in values.items() if v is not None}
    if not known:
        return SloVerdict("coherence", False, "WARN", "coherence unknown: no component could be computed (no signals, runs or checks in the window)", figures)
    worst_channel, worst = min(known.items(), key=lambda kv: kv[1])
    figures["worst_channel"] = worst_channel
    if worst < t.coherence_page:
        return SloVerdict("coherence", False, "ERROR", f"coherence {worst:.3f} ({worst_channel}) < {t.coherence_page}", figures)
    if worst < t.coherence_ok:
        return SloVerdict("coherence", False, "WARN", f"coherence {worst:.3f} ({worst_channel}) < {t.coherence_ok}", figures)
    return SloVerdict("coherence", True, "WARN", f"coherence {worst:.3f} >= {t.coherence_ok}", figures)


def phase_verdict(document: dict[str, Any], settings: ResonanceSettings) -> SloVerdict:
    """> phase_crit: ERROR; > phase_warn: WARN; unknown (no finished runs) passes with a note."""
    t = settings.thresholds
    phase = document["windows"][settings.slo_window]["scores"]["phase"]
    figures = {"phase": phase, "phase_warn": t.phase_warn, "phase_crit": t.phase_crit, "window": settings.slo_window}
    if phase is None:
        return SloVerdict("phase", True, "WARN", "Nothing to compare yet: phase unknown, no finished runs in the window", figures)
    if phase > t.phase_crit:
        return SloVerdict("phase", False, "ERROR", f"phase {phase:.3f} > {t.phase_crit}", figures)
    if phase > t.phase_warn:
        return SloVerdict("phase", False, "WARN", f"phase {phase:.3f} > {t.phase_warn}", figures)
    return SloVerdict("phase", True, "WARN", f"phase {phase:.3f} <= {t.phase_warn}", figures)


def band_verdict(
    document: dict[str, Any], settings: ResonanceSettings, signal: str, limit: float, *, at_least: bool
) -> SloVerdict:
    """Window mean of a band against the gateway's threshold (creative_band >= min, risk_band <= max)."""
    window = document["windows"][settings.slo_window]
    signals = window["inputs"]["signals"] or {}
    mean = (signals.get("means") or {}).get(signal)
    op = ">=" if at_least else "<="
    figures = {f"{signal}_mean": mean, "limit": limit, "samples": signals.get("samples", 0), "window": settings.slo_window}
    name = f"{signal}_mean"
    if mean is None:
        return SloVerdict(name, False, "WARN", f"{signal} mean unknown: no samples in the window", figures)
    ok = mean >= limit if at_least else mean <= limit
    verdict = "meets" if ok else "breaks"
    return SloVerdict(name, ok, settings.band_severity, f"{signal} mean {mean:.4f} {verdict} {op} {limit}", figures)


def run_success_verdict(document: dict[str, Any], settings: ResonanceSettings) -> SloVerdict:
    """SLI >= target over the SLI window, and no burn-rate pair firing (the worst firing pair decides)."""
    sli = document["sli"]["run_success"]
    burn = document["sli"]["burn"]
    figures: dict[str, Any] = {
        "sli": sli["ratio"],
        "target": sli["target"],
        "runs": sli["total"],
        "successful_runs": sli["success"],
        "window_s": sli["window_s"],
    }
    for item in burn:
        label = f"{int(item['long_s'])}s/{int(item['short_s'])}s"
        figures[f"burn_long[{label}]"] = item["long_rate"]
        figures[f"burn_short[{label}]"] = item["short_rate"]
    firing = [b for b in burn if b["firing"]]
    if firing:
        severity = "ERROR" if any(b["severity"] == "ERROR" for b in firing) else "WARN"
        worst = max(firing, key=lambda b: b["long_rate"])
        return SloVerdict(
            "run_success",
            False,
            severity,
            f"error budget burning {worst['long_rate']:.1f}x (> {worst['factor']}x) over {duration(worst['long_s'])} "
            f"and {duration(worst['short_s'])}",
            figures,
        )
    if sli["ratio"] is None:
        return SloVerdict("run_success", True, settings.run_success.severity, "no finished runs in the SLI window", figures)
    if sli["ratio"] < sli["target"]:
        return SloVerdict(
            "run_success", False, settings.run_success.severity, f"run success {sli['ratio']:.4f} < {sli['target']}", figures
        )
    return SloVerdict("run_success", True, settings.run_success.severity, f"run success {sli['ratio']:.4f}", figures)


def freshness_verdict(
    *,
    now: datetime,
    metrics_last_ts: datetime | None,
    metrics_max_age_s: float,
    effects_mtime: datetime | None,
    effects_expected: bool,
    effects_max_age_s: float,
    newest_report_day: date | None,
    today: date,
    report_max_age_days: int,
    severity: str,
) -> SloVerdict:
    """Metrics (newest sample), effects (table written recently when rule events exist), the daily report."""
    problems: list[str] = []
    figures: dict[str, Any] = {}
    if metrics_last_ts is None:
        problems.append("no metrics samples")
    else:
        age = (now - metrics_last_ts).total_seconds()
        figures["metrics_age_s"] = round(age, 1)
        if age > metrics_max_age_s:
            problems.append(f"newest metrics sample is {duration(age)} old (limit {duration(metrics_max_age_s)})")
    figures["metrics_max_age_s"] = metrics_max_age_s
    if effects_expected:
        if effects_mtime is None:
            problems.append("rule events exist but logs/rules_effects.csv does not")
        else:
            age = (now - effects_mtime).total_seconds()
            figures["effects_age_s"] = round(age, 1)
            if age > effects_max_age_s:
                problems.append(f"effects table is {duration(age)} old (limit {duration(effects_max_age_s)})")
    if newest_report_day is None:
        problems.append("no daily report yet")
    else:
        lag = (today - newest_report_day).days
        figures["report_lag_days"] = lag
        if lag > report_max_age_days:
            problems.append(f"newest daily report is {lag} days old (> {report_max_age_days})")
    figures["report_max_age_days"] = report_max_age_days
    if problems:
        return SloVerdict("freshness", False, severity, "; ".join(problems), figures)
    return SloVerdict("freshness", True, severity, "metrics, effects and the daily report are fresh", figures)
