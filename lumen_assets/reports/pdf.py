"""The daily report as PDF (reportlab platypus): title page with the headline figures and the rhythm chart,
then the seed's four sections and the tables (seed segB §3.4 drew raw Markdown in Helvetica on a canvas,
so Hangul came out as boxes and `#`/`**` printed literally).

Korean renders on any machine because the text is set in an embedded TrueType font (fonts.py). The build
is deterministic for the same content (reportlab `invariant`: fixed document id and dates).
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import (
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lumen_assets.reports.chart import rhythm_chart
from lumen_assets.reports.content import ReportContent, RhythmSeries
from lumen_assets.reports.fonts import KoreanFont
from lumen_assets.reports.markdown import (
    LABELS,
    effect_table_header,
    effect_table_rows,
    headline_rows,
    posterior_table,
    quote_lines,
    risk_lines,
    section_heading,
    signal_table,
)

MARGIN = 1.6 * cm  # seed report_pdf.py


def _styles(font: KoreanFont) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font.regular, fontSize=9.5, leading=13.5, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontName=font.bold, fontSize=22, leading=28, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, leading=15, textColor=colors.HexColor("#444444")),
        "h1": ParagraphStyle("h1", parent=base, fontName=font.bold, fontSize=14, leading=19, spaceBefore=10, spaceAfter=5),
        "h2": ParagraphStyle("h2", parent=base, fontName=font.bold, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4),
        "memo": ParagraphStyle("memo", parent=base, leftIndent=10, borderPadding=4, textColor=colors.HexColor("#333333")),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
    }


def _table(header: list[str], rows: list[list[str]], font: KoreanFont, widths: list[float] | None = None, size: float = 8) -> LongTable:
    table = LongTable([header, *rows], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font.regular),
                ("FONTNAME", (0, 0), (-1, 0), font.bold),
                ("FONTSIZE", (0, 0), (-1, -1), size),
                ("LEADING", (0, 0), (-1, -1), size + 2),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#7a8aa6")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f6f6")]),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _lines(lines: list[str], style: ParagraphStyle) -> list[Paragraph]:
    return [Paragraph(escape(line) if line else "&nbsp;", style) for line in lines]


def render_pdf(
    content: ReportContent,
    series: RhythmSeries,
    font: KoreanFont,
    thresholds: dict[str, float],
) -> bytes:
    """The PDF bytes for one day's report."""
    styles = _styles(font)
    label = LABELS[content.language]
    lang = content.language
    tz = content.window.tz.key
    day = content.window.key
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{content.title} – {day}",
        author="Lumen",
        subject=f"{day} ({tz})",
        invariant=1,
        # Start each page in the Korean font: the canvas default (Helvetica) would otherwise be listed as
        # a non-embedded font in every page's resources.
        initialFontName=font.regular,
        initialFontSize=9.5,
    )
    width = A4[0] - 2 * MARGIN

    def footer(canvas, doc_) -> None:  # noqa: ANN001 - reportlab callback signature
        canvas.saveState()
        canvas.setFont(font.regular, 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(MARGIN, MARGIN / 2, f"Lumen · {day} ({tz})")
        canvas.drawRightString(A4[0] - MARGIN, MARGIN / 2, f"{doc_.page}")
        canvas.restoreState()

    story: list = [
        Paragraph(escape(content.title), styles["title"]),
        Paragraph(escape(f"{day} · {label['covers']} {day} 00:00–24:00 ({tz})"), styles["subtitle"]),
        Paragraph(escape(f"{label['generated']}: {content.generated_at:%Y-%m-%d %H:%M} ({tz})"), styles["subtitle"]),
        Spacer(1, 0.5 * cm),
    ]
    figures = Table([[k, v] for k, v in headline_rows(content)], colWidths=[5.5 * cm, 4 * cm], hAlign="LEFT")
    figures.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), font.regular),
                ("FONTNAME", (1, 0), (1, -1), font.bold),
                ("FONTSIZE", (0, 0), (-1, -1), 10.5),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ]
        )
    )
    chart_title = "리듬 차트: 신호와 규칙 이벤트" if lang == "ko" else "Rhythm: signals and rule events"
    story += [
        figures,
        Spacer(1, 0.6 * cm),
        rhythm_chart(series, thresholds, font.regular, width=width, height=0.62 * width, title=f"{chart_title} ({day})"),
        Spacer(1, 0.4 * cm),
        Paragraph(escape(content.memo[0]) if content.memo else "", styles["memo"]),
        PageBreak(),
    ]

    story.append(Paragraph(escape(section_heading(lang, 0, markdown=False)), styles["h1"]))
    story += _lines(quote_lines(content), styles["body"])
    story.append(Paragraph(escape(section_heading(lang, 1, markdown=False)), styles["h1"]))
    story += _lines(risk_lines(content), styles["body"])
    story.append(Paragraph(escape(section_heading(lang, 2, markdown=False)), styles["h1"]))
    story += _lines(content.memo, styles["memo"])

    story.append(Paragraph(escape(label["effects"]), styles["h2"]))
    if content.effects:
        col = [1.6, 3.0, 2.7, 1.6, 1.6, 1.6, 1.6, 1.8]
        scale = width / (sum(col) * cm)
        story.append(_table(effect_table_header(content), effect_table_rows(content), font, [c * cm * scale for c in col], size=7))
    else:
        story.append(Paragraph(escape(label["no_effects"]), styles["body"]))
    header, rows = signal_table(content)
    story.append(KeepTogether([Paragraph(escape(label["signals"]), styles["h2"]), _table(header, rows, font)]))
    if content.posterior:
        header, rows = posterior_table(content)
        heading = label["posterior"] + (f" ({label['as_of']} {content.posterior_ts})" if content.posterior_ts else "")
        story += [Paragraph(escape(heading), styles["h2"]),
                  *(Paragraph(escape(note), styles["body"]) for note in content.posterior_notes),
                  _table(header, rows, font, size=7)]
    if content.resonance:
        heading = label["resonance"] + (f" ({label['as_of']} {content.resonance_ts})" if content.resonance_ts else "")
        rows = [[k, "–" if v is None else f"{v:.3f}"] for k, v in content.resonance.items()]
        story.append(KeepTogether([Paragraph(escape(heading), styles["h2"]), _table([label["signal"], label["score"]], rows, font)]))

    story.append(Paragraph(escape(section_heading(lang, 3, markdown=False)), styles["h1"]))
    refs = [f"{label['data']}: {name} (sha256 {digest[:16]}…)" for name, digest in content.sources.items()]
    if content.rejected:
        refs.append(f"{label['rejected']}: {len(content.rejected)}")
    refs.append(f"{label['generator']}: lumen_assets.reports (daily_report)")
    story += _lines([f"• {r}" for r in refs], styles["small"])

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
