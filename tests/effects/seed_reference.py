"""A faithful, slow re-implementation of the seed's effect tracker (segA C20/C21), with one deliberate
change: a missing value is None (the seed turned blanks into 0.0, a bug Lumen fixes). Used as the oracle."""

from __future__ import annotations

import math
from datetime import datetime


def seed_ema(values: list[float | None], alpha: float = 0.2) -> list[float | None]:
    out: list[float | None] = []
    s = None
    for v in values:
        if v is None:
            out.append(s if s is not None else None)
            continue
        s = v if s is None else alpha * v + (1 - alpha) * s
        out.append(s)
    return out


def _quantile(xs: list[float], p: float) -> float:
    n = len(xs)
    i = (n - 1) * p
    lo = int(i)
    hi = min(n - 1, lo + 1)
    frac = i - lo
    return xs[lo] * (1 - frac) + xs[hi] * frac


def seed_iqr_mask(values: list[float | None], k: float = 1.5) -> list[bool]:
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return [True] * len(values)
    q1, q3 = _quantile(xs, 0.25), _quantile(xs, 0.75)
    iqr = q3 - q1
    lo, hi = q1 - k * iqr, q3 + k * iqr
    return [True if v is None else lo <= v <= hi for v in values]


def seed_apply_iqr(values: list[float | None], k: float = 1.5) -> list[float | None]:
    return [v if keep else None for v, keep in zip(values, seed_iqr_mask(values, k), strict=True)]


def seed_avg(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def seed_mean_window(series: list[tuple[datetime, float | None]], t0: datetime, start_off: float, end_off: float,
                     use_iqr: bool, k: float, use_ema: bool, alpha: float) -> tuple[float | None, int]:
    sel = [v for v in series if start_off <= (v[0] - t0).total_seconds() <= end_off]
    vals = [x for _, x in sel]
    n_present = sum(v is not None for v in vals)
    if use_iqr:
        vals = seed_apply_iqr(vals, k)
    if use_ema:
        vals = seed_ema(vals, alpha)
    return seed_avg(vals), n_present


def none_if_nan(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
