"""Benchmark: build one day's Markdown + PDF report for 1,000 rule events and 432,000 metric rows (5 Hz).

Baseline, measured in the same run: the seed's report_pdf.py approach (raw Markdown lines drawn with
canvas.drawString, wrapped at 100 characters), here in the embedded Korean font so it is comparable.
Usage: python bench/reports.py [--small]
Last line: `reports: <events> events, <rows> rows, <seconds> s, <pages> pages`
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lumen_assets.evidence.mapper import map_evidence, rows_from_records  # noqa: E402
from lumen_assets.evidence.settings import EvidenceSettings  # noqa: E402
from lumen_assets.reports.build import build_report  # noqa: E402
from lumen_assets.reports.checks import pdf_text  # noqa: E402
from lumen_assets.reports.content import day_window  # noqa: E402
from lumen_assets.reports.fonts import korean_font  # noqa: E402
from lumen_assets.reports.settings import ReportsSettings  # noqa: E402

KST = ZoneInfo("Asia/Seoul")
DAY = "2025-10-23"


def synthetic_day(events: int, rows: int, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(f"{DAY}T00:00:00", tz=KST)
    step_s = 86400 / rows
    ts = (start + pd.to_timedelta(np.arange(rows) * step_s, unit="s")).tz_convert("UTC").as_unit("ns")
    t = np.arange(rows) / rows
    metrics = pd.DataFrame(
        {
            "ts": ts,
            "phase_diff": 0.45 + 0.1 * np.sin(2 * np.pi * t) + rng.normal(0, 0.01, rows),
            "entropy_rate": 0.25 + rng.normal(0, 0.01, rows),
            "creative_band": 0.23 + 0.02 * np.cos(2 * np.pi * t) + rng.normal(0, 0.01, rows),
            "risk_band": 0.31 + rng.normal(0, 0.01, rows),
        }
    )
    blanks = rng.choice(rows, size=rows // 1000, replace=False)
    metrics.loc[blanks, "risk_band"] = np.nan
    base = datetime.fromisoformat(f"{DAY}T00:00:30+09:00")
    times = sorted(base + timedelta(seconds=float(s)) for s in rng.uniform(0, 86340, events))
    deltas = rng.normal(0, 0.02, (events, 4))
    effects = pd.DataFrame(
        {
            "rule_ts": [t.isoformat() for t in times],
            "actor": rng.choice(["Lubit", "Sena", "Elo"], events),
            "rule": rng.choice(["creative_min", "risk_max", "phase_gain", "loop_rate_hz"], events),
            "old": 0.22,
            "new": 0.23,
            "d_phase": deltas[:, 0],
            "d_entropy": deltas[:, 1],
            "d_creative": deltas[:, 2],
            "d_risk": deltas[:, 3],
            "status": ["complete"] * (events - 1) + ["pending"],
            "event_id": [f"{i:016x}" for i in range(events)],
        }
    )
    return metrics, effects


def seed_style_pdf(markdown: str, font: str) -> tuple[bytes, int]:
    """segB §3.4: canvas, A4, margin 1.6 cm, 0.52 cm lines, textwrap width 100, raw Markdown."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, initialFontName=font)
    width, height = A4
    y = height - 1.6 * cm
    page.setFont(font, 10)
    pages = 1
    for raw in markdown.splitlines():
        for line in textwrap.wrap(raw, width=100) or [""]:
            if y < 1.6 * cm + 4 * cm:
                page.showPage()
                page.setFont(font, 10)
                y = height - 1.6 * cm
                pages += 1
            page.drawString(1.6 * cm, y, line)
            y -= 0.52 * cm
    page.save()
    return buffer.getvalue(), pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="100 events, 43,200 rows")
    args = parser.parse_args()
    events, rows = (100, 43_200) if args.small else (1_000, 432_000)
    metrics, effects = synthetic_day(events, rows)
    font = korean_font()  # registration is a one-off per process; not part of a report build

    started = time.perf_counter()
    parsed, _ = rows_from_records(effects.to_dict("records"), KST)
    evidence = map_evidence(parsed, EvidenceSettings())
    mapped_s = time.perf_counter() - started
    built = build_report(
        window=day_window(DAY, KST),
        settings=ReportsSettings(),
        thresholds={"creative_band_min": 0.22, "risk_band_max": 0.35},
        quotes=evidence.quotes,
        risks=evidence.risks,
        effects=effects,
        metrics=metrics,
        generated_at=datetime(2025, 10, 24, 9, 5, tzinfo=KST),
    )
    seconds = time.perf_counter() - started
    pages, _ = pdf_text(built.pdf)

    base_started = time.perf_counter()
    _, base_pages = seed_style_pdf(built.markdown, font.regular)
    baseline_s = time.perf_counter() - base_started

    print(f"evidence mapping: {mapped_s:.3f} s ({len(evidence.quotes)} quotes, {len(evidence.risks)} risks)")
    print(f"report build (MD + PDF with chart and tables): {seconds:.3f} s, {len(built.pdf) / 1e6:.2f} MB, {pages} pages")
    print(f"baseline, seed-style canvas dump of the same Markdown: {baseline_s:.3f} s, {base_pages} pages")
    print(f"ratio report/baseline: {seconds / baseline_s:.2f}x; target <= 10 s: {'met' if seconds <= 10 else 'MISSED'}")
    print(f"reports: {events} events, {rows} rows, {seconds:.2f} s, {pages} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
