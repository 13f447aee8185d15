"""The Korean TrueType font the PDF embeds (seed segB §3.7: Helvetica printed boxes for Hangul).

reportlab's built-in Korean CID fonts (HYSMyeongJo, HYGothic) are *not* embedded: a viewer without a Korean
font renders them blank. A TTFont is subset and embedded, so the glyphs travel inside the PDF. The default
is the NanumGothic shipped inside the koreanize-matplotlib wheel (located without importing it, since
importing it loads matplotlib and changes its global rcParams), then Debian's fonts-nanum.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SYSTEM_CANDIDATES = (
    Path("/usr/share/fonts/truetype/nanum"),
    Path("/usr/share/fonts/nanum"),
)
REGULAR = "NanumGothic.ttf"
BOLD = "NanumGothicBold.ttf"


class FontNotFound(RuntimeError):
    """No Korean TrueType font could be found; the message says where Lumen looked."""


@dataclass(frozen=True)
class KoreanFont:
    regular: str  # reportlab font names, registered
    bold: str
    regular_path: Path
    bold_path: Path


def _package_font_dir() -> Path | None:
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "fonts"


def find_font_files(font_path: str | None = None) -> tuple[Path, Path]:
    """(regular, bold) TTF paths: the configured file (used for both), else the packaged NanumGothic."""
    if font_path:
        path = Path(font_path).expanduser()
        if not path.is_file():
            raise FontNotFound(f"reports.font_path: {path} is not a file")
        return path, path
    looked = []
    for folder in (_package_font_dir(), *SYSTEM_CANDIDATES):
        if folder is None:
            continue
        looked.append(str(folder))
        regular = folder / REGULAR
        if regular.is_file():
            bold = folder / BOLD
            return regular, bold if bold.is_file() else regular
    raise FontNotFound(
        "no Korean TrueType font: install koreanize-matplotlib (ships NanumGothic) or fonts-nanum, "
        f"or set reports.font_path; looked in {', '.join(looked)}"
    )


@lru_cache(maxsize=4)
def korean_font(font_path: str | None = None) -> KoreanFont:
    """Register the font with reportlab once per process and return its names."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular_path, bold_path = find_font_files(font_path)
    suffix = "" if font_path is None else "-" + hashlib.sha256(font_path.encode()).hexdigest()[:8]
    regular, bold = f"LumenKR{suffix}", f"LumenKR-Bold{suffix}"
    pdfmetrics.registerFont(TTFont(regular, str(regular_path)))
    pdfmetrics.registerFont(TTFont(bold, str(bold_path)))
    addMapping(regular, 0, 0, regular)
    addMapping(regular, 1, 0, bold)
    addMapping(regular, 0, 1, regular)
    addMapping(regular, 1, 1, bold)
    return KoreanFont(regular, bold, regular_path, bold_path)
