"""The PDF: Korean is real text in an embedded TrueType font, renders as glyphs, and carries the chart.

pdftotext/pdftoppm come from poppler-utils (apt-get install poppler-utils); those tests skip without it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import datetime

import numpy as np
import pytest
from pypdf import PdfReader

from lumen_assets.evidence.mapper import map_evidence, rows_from_records
from lumen_assets.evidence.settings import EvidenceSettings
from lumen_assets.reports.build import build_report
from lumen_assets.reports.checks import pdf_problems, pdf_text
from lumen_assets.reports.content import day_window
from lumen_assets.reports.fonts import FontNotFound, find_font_files, korean_font
from lumen_assets.reports.settings import ReportsSettings
from tests.reports.synth import DAY, KST, effects_rows, metrics_frame

THRESHOLDS = {"creative_band_min": 0.22, "risk_band_max": 0.35}
poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")


@pytest.fixture(scope="module")
def built():
    effects = effects_rows()
    rows, _ = rows_from_records(effects.to_dict("records"), KST)
    evidence = map_evidence(rows, EvidenceSettings())
    return build_report(
        window=day_window(DAY, KST),
        settings=ReportsSettings(),
        thresholds=THRESHOLDS,
        quotes=evidence.quotes,
        risks=evidence.risks,
        effects=effects,
        metrics=metrics_frame(),
        generated_at=datetime(2025, 10, 24, 9, 5, tzinfo=KST),
    )


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """BaseFont -> whether its descriptor carries an embedded font program."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            fonts[str(font["/BaseFont"])] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return fonts


def test_every_font_in_the_pdf_is_embedded_and_it_is_nanum(built):
    fonts = embedded_fonts(built.pdf)
    assert fonts and all(fonts.values()), fonts
    assert any("NanumGothic" in name for name in fonts)


def test_text_layer_holds_korean_words_and_headline_figures(built):
    pages, text = pdf_text(built.pdf)
    assert pages >= 2
    for word in ("관찰 메모", "창의 밴드", "위험 수준 분포", "리듬 차트"):
        assert word.replace(" ", "") in text.replace(" ", "")
    assert pdf_problems(built.pdf, built.content.headline, built.content.title) == []


def test_pdf_check_fails_on_missing_figures_and_on_a_broken_file(built):
    assert pdf_problems(built.pdf, {"규칙 이벤트": "999"}, built.content.title) == ["text layer lacks '규칙 이벤트: 999'"]
    assert pdf_problems(b"not a pdf", {}, "x")[0].startswith("PDF does not open")


def test_same_content_gives_the_same_bytes(built):
    again = build_report(
        window=built.content.window, settings=ReportsSettings(), thresholds=THRESHOLDS,
        quotes=built.content.quotes, risks=built.content.risks, effects=effects_rows(), metrics=metrics_frame(),
        generated_at=built.content.generated_at,
    )
    assert again.pdf == built.pdf and again.markdown == built.markdown


def test_missing_font_is_a_clear_error(tmp_path):
    with pytest.raises(FontNotFound, match="font_path"):
        find_font_files(str(tmp_path / "nope.ttf"))


@poppler
def test_pdftotext_reads_the_korean(built, tmp_path):
    path = tmp_path / "r.pdf"
    path.write_bytes(built.pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout.decode()
    assert "관찰 메모" in text and "평균 신뢰도" in text


def render_gray(pdf: bytes, tmp_path, page: int = 1, dpi: int = 60) -> np.ndarray:
    path = tmp_path / "p.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", str(page), "-l", str(page), str(path), str(tmp_path / "p")], check=True)
    data = next(tmp_path.glob("p-*.pgm")).read_bytes()
    header, rest = data.split(b"\n", 3)[:3], data.split(b"\n", 3)[3]
    width, height = map(int, header[1].split())
    return np.frombuffer(rest, dtype=np.uint8)[: width * height].reshape(height, width)


@poppler
def test_korean_renders_as_ink_with_only_the_embedded_font(tmp_path):
    """A page of Hangul only, rendered by poppler: glyphs leave ink (a non-embedded CID font leaves none
    on a machine without Korean fonts, and missing glyphs would be empty boxes of very little ink)."""
    from reportlab.lib.pagesizes import A6
    from reportlab.pdfgen import canvas

    font = korean_font()
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A6)
    page.setFont(font.regular, 28)
    page.drawString(20, 200, "관찰 메모 위험")
    page.save()
    gray = render_gray(buffer.getvalue(), tmp_path, dpi=100)
    ink = (gray < 128).sum()
    assert ink > 1500, ink


@poppler
def test_first_page_renders_title_and_chart(built, tmp_path):
    gray = render_gray(built.pdf, tmp_path)
    height = gray.shape[0]
    chart_band = gray[int(height * 0.3): int(height * 0.7)]
    assert (gray < 200).mean() > 0.01
    assert (chart_band < 200).mean() > 0.02  # the plotted lines and grid
