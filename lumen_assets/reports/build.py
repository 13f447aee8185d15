"""One call from plain inputs to the day's Markdown and PDF (what the daily_report asset runs)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lumen_assets.jsonl import iter_jsonl
from lumen_assets.reports.content import (
    DayWindow,
    ReportContent,
    RhythmSeries,
    build_content,
    metrics_of_day,
    rhythm_series,
)
from lumen_assets.reports.fonts import korean_font
from lumen_assets.reports.markdown import render_markdown
from lumen_assets.reports.pdf import render_pdf
from lumen_assets.reports.settings import ReportsSettings


@dataclass
class BuiltReport:
    content: ReportContent
    series: RhythmSeries
    markdown: str
    pdf: bytes
    samples: int


def read_last_jsonl(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The last parseable JSON object of a JSONL file: (record, problem). Missing file is no problem."""
    last, problem = None, None
    for line in iter_jsonl(path):
        if line.record is None:
            problem = f"{path}:{line.line_no}: {line.problem}"
        else:
            last, problem = line.record, None
    return last, problem


def choose_posterior(pymc_log: Path, conjugate_log: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """The posterior set the report shows: (shown, newest PyMC record when it is not shown, problem).

    The newest PyMC fit when it converged; else the last converged PyMC fit; else the newest conjugate set;
    else the unconverged fit itself (the report then says it is not to be relied on). Records written
    before `converged` existed count as converged (they passed the then-blocking check to be written).
    """
    newest, last_converged, problem = None, None, None
    for line in iter_jsonl(pymc_log):
        if line.record is None:
            problem = f"{pymc_log}:{line.line_no}: {line.problem}"
            continue
        newest = line.record
        if line.record.get("converged", True):
            last_converged = line.record
    if newest is None or newest.get("converged", True):
        if newest is not None:
            return newest, None, problem
    elif last_converged is not None:
        return last_converged, newest, problem
    conjugate, conjugate_problem = read_last_jsonl(conjugate_log)
    if conjugate is not None:
        return conjugate, newest, problem or conjugate_problem
    return newest, None, problem or conjugate_problem


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON object file (logs/resonance.json): (data, problem); a missing file is simply absent."""
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return None, f"{path}: not JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"{path}: expected a JSON object"
    return data, None


def read_metrics_day(path: Path, window: DayWindow) -> pd.DataFrame:
    """Only the day's rows of the metrics store (its day folders and a ts filter, never the whole history)."""
    from lumen_assets.ingest.metrics_store import read_metrics

    start, end = pd.Timestamp(window.start).tz_convert("UTC"), pd.Timestamp(window.end).tz_convert("UTC")
    return read_metrics(path, start, end)


def build_report(
    *,
    window: DayWindow,
    settings: ReportsSettings,
    thresholds: Mapping[str, float],
    quotes: Iterable[Mapping[str, Any]],
    risks: Iterable[Mapping[str, Any]],
    effects: pd.DataFrame,
    metrics: pd.DataFrame,
    generated_at: datetime,
    posterior_line: Mapping[str, Any] | None = None,
    resonance: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
    posterior_newest: Mapping[str, Any] | None = None,
    rhythm_sync: pd.DataFrame | None = None,
) -> BuiltReport:
    """Select the day, compute the figures, render both documents. `thresholds`: label -> line value."""
    day_frame = metrics_of_day(metrics, window)
    creative_min = next((v for k, v in thresholds.items() if "creative" in k), 0.22)
    risk_max = next((v for k, v in thresholds.items() if "risk" in k), 0.35)
    content = build_content(
        window=window,
        quotes=quotes,
        risks=risks,
        effects=effects,
        metrics_day=day_frame,
        generated_at=generated_at,
        title=settings.title,
        language=settings.language,
        top_quotes=settings.top_quotes,
        recent_risks=settings.recent_risks,
        memo_band=settings.memo_delta_band,
        creative_min=creative_min,
        risk_max=risk_max,
        posterior_line=posterior_line,
        posterior_newest=posterior_newest,
        resonance=resonance,
        sources=sources,
    )
    series = rhythm_series(day_frame, window, settings.chart_points, (e["ts"] for e in content.effects))
    if settings.rhythm_overlay and rhythm_sync is not None and len(rhythm_sync):
        import dataclasses

        from lumen_assets.rhythm.sync import blend_at

        centres = pd.Series(pd.Timestamp(window.start) + pd.to_timedelta(series.hours * 3600.0, unit="s"))
        series = dataclasses.replace(series, overlay=blend_at(centres, rhythm_sync))
    markdown = render_markdown(content)
    pdf = render_pdf(content, series, korean_font(settings.font_path), dict(thresholds))
    return BuiltReport(content, series, markdown, pdf, len(day_frame))
