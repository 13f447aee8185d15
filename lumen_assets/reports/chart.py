"""The rhythm chart (seed segB §1.6 RhythmMap overlay and §3 Grafana snapshot, drawn without Grafana).

The four signals over the day as binned means, a dashed marker per rule event placed by time (the seed
matched exact timestamp strings, so markers almost never showed, segB §1.8), and the gateway's threshold
lines (creative_band ≥ 0.22, risk_band ≤ 0.35). Vector graphics from reportlab, so it stays sharp and
its labels are real text.
"""

from __future__ import annotations

import math

import numpy as np
from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

from lumen_assets.reports.content import SIGNALS, RhythmSeries

SIGNAL_COLORS = {
    "phase_diff": colors.HexColor("#1f77b4"),
    "entropy_rate": colors.HexColor("#9467bd"),
    "creative_band": colors.HexColor("#2ca02c"),
    "risk_band": colors.HexColor("#d62728"),
}
MARKER_COLOR = colors.HexColor("#7f7f7f")
OVERLAY_COLOR = colors.HexColor("#ff7f0e")  # the rhythm blend (seed segC §C1 panel: orange)


def _segments(xs: np.ndarray, ys: np.ndarray) -> list[list[float]]:
    """Runs of consecutive finite points as flat [x0, y0, x1, y1, ...] lists (a gap breaks the line)."""
    segments: list[list[float]] = []
    current: list[float] = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        if math.isnan(y):
            if len(current) >= 4:
                segments.append(current)
            current = []
        else:
            current += [x, y]
    if len(current) >= 4:
        segments.append(current)
    elif len(current) == 2:  # a lone point: draw a short tick so it is visible
        segments.append([current[0] - 0.5, current[1], current[0] + 0.5, current[1]])
    return segments


def y_range(series: RhythmSeries, thresholds: dict[str, float]) -> tuple[float, float]:
    """0 to a round 0.1 above the data and the thresholds (signals live in [0, 1]; phase may exceed 1)."""
    finite = [v[~np.isnan(v)] for v in series.values.values()]
    data_max = max((float(v.max()) for v in finite if v.size), default=0.0)
    data_min = min((float(v.min()) for v in finite if v.size), default=0.0)
    top = max([0.5, data_max, *thresholds.values()])
    bottom = min(0.0, data_min)
    return math.floor(bottom * 10) / 10, math.ceil(top * 10 + 1e-9) / 10


def rhythm_chart(
    series: RhythmSeries,
    thresholds: dict[str, float],
    font: str,
    width: float = 480,
    height: float = 260,
    title: str = "Rhythm",
) -> Drawing:
    """A Drawing with the four signals, event markers and labelled threshold lines."""
    drawing = Drawing(width, height, initialFontName=font, initialFontSize=7)  # no stray Helvetica resource
    left, right, bottom, top = 36.0, 18.0 if series.overlay is not None else 10.0, 28.0, 34.0
    plot_w, plot_h = width - left - right, height - bottom - top
    y_lo, y_hi = y_range(series, thresholds)
    x_lo, x_hi = series.start_h, series.end_h

    def px(hours: float) -> float:
        return left + plot_w * (hours - x_lo) / (x_hi - x_lo)

    def py(value: float) -> float:
        return bottom + plot_h * (value - y_lo) / (y_hi - y_lo)

    drawing.add(Rect(left, bottom, plot_w, plot_h, strokeColor=colors.black, fillColor=None, strokeWidth=0.6))
    drawing.add(String(left, height - 12, title, fontName=font, fontSize=10))

    step = 0.1 if y_hi - y_lo <= 1.0 else 0.2
    tick = y_lo
    while tick <= y_hi + 1e-9:
        y = py(tick)
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=colors.HexColor("#e5e5e5"), strokeWidth=0.3))
        drawing.add(String(left - 4, y - 3, f"{tick:.1f}", fontName=font, fontSize=6.5, textAnchor="end"))
        tick = round(tick + step, 10)
    span_h = x_hi - x_lo
    step_min = next(m for m in (15, 30, 60, 120, 180, 360) if span_h * 60 / m <= 10)
    minute = math.ceil(x_lo * 60 / step_min) * step_min
    while minute <= x_hi * 60 + 1e-6:
        x = px(minute / 60)
        drawing.add(Line(x, bottom, x, bottom - 3, strokeColor=colors.black, strokeWidth=0.5))
        label = f"{minute // 60:02d}:{minute % 60:02d}"
        drawing.add(String(x, bottom - 11, label, fontName=font, fontSize=6.5, textAnchor="middle"))
        minute += step_min

    for hours in series.event_hours:
        x = px(hours)
        drawing.add(Line(x, bottom, x, bottom + plot_h, strokeColor=MARKER_COLOR, strokeWidth=0.4, strokeDashArray=[2, 4]))

    xs = np.array([px(h) for h in series.hours])
    for name in SIGNALS:
        ys = series.values[name]
        mapped = np.where(np.isnan(ys), np.nan, bottom + plot_h * (ys - y_lo) / (y_hi - y_lo))
        for segment in _segments(xs, mapped):
            drawing.add(PolyLine(segment, strokeColor=SIGNAL_COLORS[name], strokeWidth=0.7))

    if series.overlay is not None:  # the rhythm blend on its own right-hand axis, [-1, 1]
        for tick_value in (-1.0, 0.0, 1.0):
            y = bottom + plot_h * (tick_value + 1.0) / 2.0
            drawing.add(String(left + plot_w + 2, y - 3, f"{tick_value:+.0f}", fontName=font, fontSize=6, fillColor=OVERLAY_COLOR))
        mapped = bottom + plot_h * (np.clip(series.overlay, -1.0, 1.0) + 1.0) / 2.0
        for segment in _segments(xs, mapped):
            drawing.add(PolyLine(segment, strokeColor=OVERLAY_COLOR, strokeWidth=0.9, strokeDashArray=[3, 1.5]))

    for label, value in thresholds.items():
        y = py(value)
        color = SIGNAL_COLORS["creative_band" if "creative" in label else "risk_band"]
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=color, strokeWidth=0.8, strokeDashArray=[5, 3]))
        drawing.add(String(left + plot_w - 2, y + 2, f"{label} {value:g}", fontName=font, fontSize=6.5, textAnchor="end", fillColor=color))

    x = left
    for name in SIGNALS:
        drawing.add(Line(x, height - 24, x + 12, height - 24, strokeColor=SIGNAL_COLORS[name], strokeWidth=1.5))
        drawing.add(String(x + 15, height - 26.5, name, fontName=font, fontSize=7))
        x += 22 + 4.2 * len(name)
    drawing.add(Line(x, height - 28, x, height - 20, strokeColor=MARKER_COLOR, strokeWidth=0.8, strokeDashArray=[2, 2]))
    drawing.add(String(x + 4, height - 26.5, f"rule events ({len(series.event_hours)})", fontName=font, fontSize=7))
    if series.overlay is not None:
        x += 70
        drawing.add(Line(x, height - 24, x + 12, height - 24, strokeColor=OVERLAY_COLOR, strokeWidth=1.5, strokeDashArray=[3, 1.5]))
        drawing.add(String(x + 15, height - 26.5, "rhythm blend (right axis)", fontName=font, fontSize=7))
    return drawing
