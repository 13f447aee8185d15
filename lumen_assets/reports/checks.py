"""What the daily report's checks verify, as plain functions (issue 4 §2): the four seed sections are
present, the PDF opens with at least one page and its text layer carries the headline figures (so the
Korean is real text in an embedded font, not boxes or an image), and the report covers its own day.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from lumen_assets.reports.content import DayWindow
from lumen_assets.reports.markdown import section_heading

_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Text without whitespace: PDF text extraction splits and joins runs differently per viewer."""
    return _SPACE.sub("", text)


def missing_sections(markdown: str, language: str) -> list[str]:
    """Headings of the seed's four sections that the Markdown lacks."""
    return [h for h in (f"## {section_heading(language, i)}" for i in range(4)) if h not in markdown]


def pdf_text(pdf: bytes) -> tuple[int, str]:
    """(page count, text layer) of a PDF; raises ValueError when it does not open."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(pdf), strict=True)
        return len(reader.pages), "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, OSError, ValueError) as exc:  # pypdf raises several kinds on a broken file
        raise ValueError(f"PDF does not open: {exc}") from exc


def pdf_problems(pdf: bytes, headline: Mapping[str, str], title: str) -> list[str]:
    """Why the PDF fails its check: does not open, no page, or a headline figure missing from its text."""
    try:
        pages, text = pdf_text(pdf)
    except ValueError as exc:
        return [str(exc)]
    if pages < 1:
        return ["PDF has no page"]
    flat = squash(text)
    problems = [f"text layer lacks '{label}: {value}'" for label, value in headline.items() if squash(f"{label}{value}") not in flat]
    if squash(title) not in flat:
        problems.append(f"text layer lacks the title {title!r}")
    return problems


def coverage_problems(markdown: str, window: DayWindow, timestamps: Iterable[datetime]) -> list[str]:
    """The report is for its partition's day: the title names the day and every record printed is of that day."""
    problems = []
    first = markdown.splitlines()[0] if markdown else ""
    if window.key not in first:
        problems.append(f"title line {first!r} does not name {window.key}")
    outside = [ts for ts in timestamps if not window.contains(ts)]
    if outside:
        problems.append(f"{len(outside)} records outside {window.key}, first {min(outside).isoformat()}")
    return problems
