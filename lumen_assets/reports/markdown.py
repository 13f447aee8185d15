"""The daily report as Markdown: the seed's four sections (segB §2.4) plus effect, signal, posterior and
resonance tables. The seed's layout and wording are kept; the figures are the day's, not all history's.
"""

from __future__ import annotations

from typing import Any

from lumen_assets.reports.content import SIGNAL_SHORT, ReportContent

SECTIONS = {
    "ko": ("Quote Highlights", "Risk Overview", "관찰 메모", "참고"),
    "en": ("Quote Highlights", "Risk Overview", "Observation memo", "References"),
}
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
LABELS = {
    "ko": {
        "generated": "생성 시각",
        "covers": "대상 일자",
        "figure": "항목",
        "value": "값",
        "effects": "규칙 효과",
        "signals": "신호 요약",
        "posterior": "사후분포 요약",
        "resonance": "공명 점수 (24h)",
        "time": "시각",
        "rule": "규칙",
        "change": "변경",
        "status": "상태",
        "signal": "신호",
        "mean": "평균",
        "min": "최소",
        "max": "최대",
        "n": "샘플",
        "data": "데이터",
        "generator": "생성기",
        "as_of": "기준",
        "no_effects": "(오늘의 규칙 이벤트 없음)",
        "score": "점수",
        "rejected": "읽을 수 없는 효과 행",
    },
    "en": {
        "generated": "Generated at",
        "covers": "Covers",
        "figure": "Figure",
        "value": "Value",
        "effects": "Rule effects",
        "signals": "Signals",
        "posterior": "Posterior summary",
        "resonance": "Resonance (24h)",
        "time": "Time",
        "rule": "Rule",
        "change": "Change",
        "status": "Status",
        "signal": "Signal",
        "mean": "Mean",
        "min": "Min",
        "max": "Max",
        "n": "Samples",
        "data": "Data",
        "generator": "Generator",
        "as_of": "as of",
        "no_effects": "(no rule events today)",
        "score": "Score",
        "rejected": "unreadable effect rows",
    },
}
GENERATOR = "lumen_assets.reports (daily_report asset)"


def section_heading(content_language: str, index: int, markdown: bool = True) -> str:
    """`## 1️⃣ Quote Highlights` in Markdown; `1. Quote Highlights` in the PDF (no keycap glyph in the font)."""
    title = SECTIONS[content_language][index]
    return f"{KEYCAPS[index]} {title}" if markdown else f"{index + 1}. {title}"


def fmt(value: Any, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return str(value)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def quote_lines(content: ReportContent) -> list[str]:
    """Seed summarize_quotes text: average line, blank line, one line per top quote."""
    text = content.text
    if content.avg_confidence is None:
        return [text["no_records"]]
    lines = [f"{text['avg_conf']}: {content.avg_confidence:.2f}", ""]
    lines += [f"- ({q.get('rule', '')}) [{q.get('confidence')}] {q.get('quote', '')} ({q.get('ts', '')})" for q in content.top_quotes]
    return lines


def risk_lines(content: ReportContent) -> list[str]:
    """Seed summarize_risks text: the severity distribution, then the most recent risks."""
    text = content.text
    if not content.risks:
        return [text["no_records"]]
    dist = ", ".join(f"{k} {v}" for k, v in content.risk_counts.items())
    lines = [f"{text['dist']}: {dist}", ""]
    lines += [f"- [{r.get('severity', 'info')}] ({r.get('rule', '')}) {r.get('note', '')} @ {r.get('ts', '')}" for r in content.recent_risks]
    return lines


def effect_table_rows(content: ReportContent) -> list[list[str]]:
    return [
        [
            e["ts"].strftime("%H:%M:%S"),
            e["rule"],
            f"{fmt(e['old'])} → {fmt(e['new'])}",
            fmt(e["d_phase"], signed=True),
            fmt(e["d_entropy"], signed=True),
            fmt(e["d_creative"], signed=True),
            fmt(e["d_risk"], signed=True),
            e["status"],
        ]
        for e in content.effects
    ]


def effect_table_header(content: ReportContent) -> list[str]:
    label = LABELS[content.language]
    return [label["time"], label["rule"], label["change"], "Δphase", "Δentropy", "Δcreative", "Δrisk", label["status"]]


def signal_table(content: ReportContent) -> tuple[list[str], list[list[str]]]:
    label = LABELS[content.language]
    header = [label["signal"], label["n"], label["mean"], label["min"], label["max"]]
    rows = [[s.name, str(s.n), fmt(s.mean), fmt(s.minimum), fmt(s.maximum)] for s in content.signal_stats]
    return header, rows


def posterior_table(content: ReportContent) -> tuple[list[str], list[list[str]]]:
    label = LABELS[content.language]
    header = [label["rule"], label["signal"], "μ", "σ", "HDI", "P(improve)", "n"]
    rows = [
        [
            p["rule"],
            SIGNAL_SHORT.get(p["signal"], p["signal"]),
            fmt(p["mu"], 4, signed=True),
            fmt(p["sigma"], 4),
            f"[{fmt(p['hdi_lo'], 4, signed=True)}, {fmt(p['hdi_hi'], 4, signed=True)}]",
            fmt(p["p_improve"], 2),
            fmt(p["n"]),
        ]
        for p in content.posterior or []
    ]
    return header, rows


def headline_rows(content: ReportContent) -> list[list[str]]:
    return [[k, v] for k, v in content.headline.items()]


def render_markdown(content: ReportContent) -> str:
    """The report text; deterministic for the same content (generated_at is part of the content)."""
    label = LABELS[content.language]
    lang = content.language
    day = content.window.key
    tz = content.window.tz.key
    out = [
        f"# {content.title} – {day}",
        "",
        f"**{label['generated']}:** {content.generated_at:%Y-%m-%d %H:%M} ({tz})  ",
        f"**{label['covers']}:** {day} 00:00–24:00 ({tz})",
        "",
        *_table([label["figure"], label["value"]], headline_rows(content)),
        "",
        "---",
        "",
        f"## {section_heading(lang, 0)}",
        *quote_lines(content),
        "",
        "---",
        "",
        f"## {section_heading(lang, 1)}",
        *risk_lines(content),
        "",
        "---",
        "",
        f"## {section_heading(lang, 2)}",
        *[f"> {line}" for line in content.memo],
        "",
        f"### {label['effects']}",
    ]
    if content.effects:
        out += _table(effect_table_header(content), effect_table_rows(content))
    else:
        out.append(label["no_effects"])
    out += ["", f"### {label['signals']}", *_table(*signal_table(content))]
    if content.posterior:
        out += ["", "### " + label["posterior"] + (f" ({label['as_of']} {content.posterior_ts})" if content.posterior_ts else "")]
        out += [f"> {note}" for note in content.posterior_notes] + ([""] if content.posterior_notes else [])
        out += _table(*posterior_table(content))
    if content.resonance:
        header = [label["signal"], label["score"]]
        rows = [[k, "–" if v is None else f"{v:.3f}"] for k, v in content.resonance.items()]
        out += ["", "### " + label["resonance"] + (f" ({label['as_of']} {content.resonance_ts})" if content.resonance_ts else ""), *_table(header, rows)]
    out += ["", "---", "", f"## {section_heading(lang, 3)}"]
    if content.sources:
        out += [f"- {label['data']}: `{name}` (sha256 `{digest[:16]}…`)" for name, digest in content.sources.items()]
    else:
        out.append(f"- {label['data']}: `quotes_bank.jsonl`, `risk_ledger.jsonl`")
    if content.rejected:
        out.append(f"- {label['rejected']}: {len(content.rejected)}")
    out.append(f"- {label['generator']}: `{GENERATOR}`")
    return "\n".join(out) + "\n"
