"""The seed's IQR outlier filter and EMA smoothing (seed segA C20), vectorised over many windows at once.

Each row of a (windows x samples) array is one window, NaN-padded on the right. Semantics follow the seed:
quartiles by linear interpolation over the non-missing values (numpy's default), outliers outside
[q1 - k*iqr, q3 + k*iqr] become missing; the EMA is seeded with the window's first present value, carries
its last value forward over a missing sample (so IQR-removed samples are replaced, not dropped, when EMA is
on, exactly as the seed did), and a leading missing value stays missing.
"""

from __future__ import annotations

import numpy as np


def row_quantiles(windows: np.ndarray, probabilities: tuple[float, ...]) -> np.ndarray:
    """Per-row linear-interpolation quantiles over non-NaN values; NaN for an all-missing row."""
    ordered = np.sort(windows, axis=1)  # NaN sorts last
    present = np.sum(~np.isnan(windows), axis=1)
    result = np.full((windows.shape[0], len(probabilities)), np.nan)
    rows = np.nonzero(present)[0]
    if not len(rows):
        return result
    n = present[rows]
    for column, p in enumerate(probabilities):
        position = (n - 1) * p
        lower = np.floor(position).astype(np.int64)
        upper = np.minimum(n - 1, lower + 1)
        fraction = position - lower
        low_value = ordered[rows, lower]
        high_value = ordered[rows, upper]
        result[rows, column] = low_value * (1 - fraction) + high_value * fraction
    return result


def iqr_filter(windows: np.ndarray, k: float = 1.5) -> np.ndarray:
    """Copy of `windows` with values outside the per-row Tukey fences set to NaN (seed apply_iqr)."""
    quartiles = row_quantiles(windows, (0.25, 0.75))
    q1, q3 = quartiles[:, :1], quartiles[:, 1:]
    spread = q3 - q1
    with np.errstate(invalid="ignore"):
        outside = (windows < q1 - k * spread) | (windows > q3 + k * spread)
    return np.where(outside, np.nan, windows)


def ema_filter(windows: np.ndarray, lengths: np.ndarray, alpha: float = 0.2) -> np.ndarray:
    """Per-row EMA with the seed's carry-forward; positions at or beyond a row's length stay NaN."""
    out = np.full_like(windows, np.nan)
    state = np.full(windows.shape[0], np.nan)
    for column in range(windows.shape[1]):
        value = windows[:, column]
        has_value = ~np.isnan(value)
        blended = np.where(np.isnan(state), value, alpha * value + (1 - alpha) * state)
        state = np.where(has_value, blended, state)
        out[:, column] = np.where(column < lengths, state, np.nan)
    return out
