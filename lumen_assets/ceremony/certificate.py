"""The completion certificate of a passed rehearsal (seed segD §6.5 "extension ideas": a completion-certificate
PDF): trainee, scenario, score, date, and the root fingerprint as a QR code, on one A4 page (reportlab).

The QR payload is compact JSON (`{"root_fp", "scenario", "trainee", "score", "rehearsal_sha256"}`) so a scan
ties the paper to the trust root it was rehearsed against and to the rehearsal log. The PDF is written
deterministically (reportlab's invariant mode) and is attested like the other artefacts by the `attestations`
asset (the `custody/sim/artifacts/certificate_*.pdf` glob of `attest.artifacts`), which also enters it into
the transparency log. Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from lumen_assets.atomic import atomic_write_bytes
from lumen_assets.ceremony.engine import RehearsalResult


def qr_payload(result: RehearsalResult, root_fingerprint: str, rehearsal_sha256: str) -> str:
    return json.dumps(
        {"root_fp": root_fingerprint, "scenario": result.scenario, "trainee": result.trainee,
         "score": round(result.score, 4), "rehearsal_sha256": rehearsal_sha256},
        separators=(",", ":"), ensure_ascii=False,
    )


def render_certificate(out_path: Path, result: RehearsalResult, root_fingerprint: str, rehearsal_sha256: str,
                       finished: dt.datetime, font_path: str | None = None) -> Path:
    """Write the certificate PDF; refuses a rehearsal that did not pass."""
    if not result.passed:
        raise ValueError("a certificate is only issued for a passed rehearsal")
    import qrcode
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from lumen_assets.reports.fonts import korean_font  # names may be Korean: embed a font that has them

    font = korean_font(font_path)  # registered (and embedded) by reports.fonts
    png = io.BytesIO()
    qrcode.make(qr_payload(result, root_fingerprint, rehearsal_sha256)).save(png, format="PNG")  # lossless
    png.seek(0)

    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    pdf.setTitle("Lumen Ceremony Rehearsal Certificate")
    pdf.setAuthor("Lumen ceremony simulator")
    pdf.setLineWidth(2)
    pdf.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    pdf.setFont(font.bold, 26)
    pdf.drawCentredString(width / 2, height - 40 * mm, "Certificate of Completion")
    pdf.setFont(font.regular, 13)
    pdf.drawCentredString(width / 2, height - 50 * mm, "Lumen root-custody ceremony rehearsal")
    pdf.setFont(font.bold, 22)
    pdf.drawCentredString(width / 2, height - 72 * mm, result.trainee)
    pdf.setFont(font.regular, 13)
    lines = [
        f"Scenario: {result.title} ({result.scenario})",
        f"Score: {result.points:g} / {result.max_points:g} points ({result.score:.0%})",
        f"Anomalies handled: {sum(a.handled for a in result.anomalies)} of {len(result.anomalies)}",
        f"Date: {finished.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    y = height - 90 * mm
    for line in lines:
        pdf.drawString(30 * mm, y, line)
        y -= 9 * mm
    pdf.setFont("Courier", 9)
    pdf.drawString(30 * mm, 36 * mm, f"Root fingerprint (SHA-256): {root_fingerprint[:32]}")
    pdf.drawString(30 * mm, 31 * mm, f"                            {root_fingerprint[32:]}")
    pdf.drawString(30 * mm, 24 * mm, f"Rehearsal log sha256: {rehearsal_sha256}")
    size = 55 * mm
    pdf.drawImage(ImageReader(png), width - 25 * mm - size, 22 * mm, size, size)
    pdf.save()
    atomic_write_bytes(out_path, buffer.getvalue())
    return Path(out_path)
