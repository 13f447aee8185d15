"""Numbers as an operator reads them in the UI: durations in days/hours/minutes, signed deltas, intervals.

Plain Python (no Dagster): used by the Dagster layer for metadata, check descriptions and skip reasons.
"""

from __future__ import annotations

import math
from datetime import datetime

_UNITS = (("day", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def duration(seconds: float | None) -> str:
    """`906022` -> "10 days 12 h", `95` -> "1 min 35 s", `4.25` -> "4.2 s", `0.3` -> "300 ms".

    The two largest units, rounded to the smaller one; None / NaN -> "unknown", infinity -> "forever",
    negative -> "-" + the magnitude."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "unknown"
    if math.isinf(seconds):
        return "forever"
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = seconds
    for _ in range(2):  # rounding 59.9 s up makes a minute: pick the units again for the rounded value
        index = next(i for i, (_, size) in enumerate(_UNITS) if whole >= size)
        shown = _UNITS[index : index + 2]
        whole = round(seconds / shown[-1][1]) * shown[-1][1]
    parts = []
    for name, size in shown:
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count} {name}" + ("s" if name == "day" and count != 1 else ""))
    return " ".join(parts)


def number(value: float | None, digits: int = 4) -> str:
    """A figure with `digits` significant digits; missing -> "—"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}"


def signed(value: float | None, decimals: int = 4) -> str:
    """A delta with its sign and a real minus: `+0.0312`, `−0.0140`; missing -> "—"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:+.{decimals}f}"
    return text.replace("-", "−")


def interval(low: float | None, high: float | None, decimals: int = 4) -> str:
    """`[−0.0200, −0.0080]`; missing bounds -> "no interval"."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return "no interval"
    return f"[{signed(low, decimals)}, {signed(high, decimals)}]"


def clock(moment: datetime) -> str:
    """`14:05:48` (seconds), with the date in front when it is not today in the moment's timezone."""
    now = datetime.now(moment.tzinfo)
    if moment.date() == now.date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")
