"""The daily report's rhythm chart can overlay the rhythm blend (reports.rhythm_overlay, off by default)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from lumen_assets.reports.build import build_report
from lumen_assets.reports.chart import OVERLAY_COLOR, rhythm_chart
from lumen_assets.reports.checks import pdf_text
from lumen_assets.reports.content import day_window
from lumen_assets.reports.settings import ReportsSettings
from lumen_assets.rhythm.sync import read_sync_records
from tests.reports.synth import DAY, KST, effects_rows, metrics_frame


def _sync_for(metrics: pd.DataFrame) -> pd.DataFrame:
    start = metrics["ts"].min().floor("min")
    steps = pd.date_range(start, metrics["ts"].max(), freq="60s")
    blend = np.sin(np.arange(len(steps)) / 30.0)
    return read_sync_records([{"ts": t.isoformat(), "step_s": 60, "blend": float(b)} for t, b in zip(steps, blend, strict=True)])


def _build(overlay: bool, sync: pd.DataFrame | None):
    metrics = metrics_frame()
    return build_report(
        window=day_window(DAY, KST), settings=ReportsSettings(language="en", rhythm_overlay=overlay),
        thresholds={"creative_band_min": 0.22, "risk_band_max": 0.35}, quotes=[], risks=[], effects=effects_rows(),
        metrics=metrics, generated_at=datetime(2025, 10, 24, 9, 5, tzinfo=KST), rhythm_sync=sync,
    )


def test_overlay_is_off_by_default_and_drawn_when_asked() -> None:
    sync = _sync_for(metrics_frame())
    assert _build(False, sync).series.overlay is None
    built = _build(True, sync)
    overlay = built.series.overlay
    assert overlay is not None and np.isfinite(overlay).sum() > 0.9 * len(overlay[~np.isnan(built.series.values["phase_diff"])])
    assert "rhythm blend (right axis)" in pdf_text(built.pdf)[1]
    drawing = rhythm_chart(built.series, {"risk_band_max": 0.35}, "Helvetica")
    assert any(getattr(item, "strokeColor", None) == OVERLAY_COLOR for item in drawing.contents)
