"""The seed's IQR filter and EMA (segA C20), vectorised: known vectors from the seed and numpy as oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lumen_assets.effects.filters import ema_filter, iqr_filter, row_quantiles
from tests.effects.seed_reference import seed_apply_iqr, seed_ema

NAN = np.nan


def _as_list(row: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in row]


def test_ema_seed_vector() -> None:
    out = ema_filter(np.array([[1.0, NAN, 3.0]]), np.array([3]), 0.2)
    np.testing.assert_allclose(out[0], [1.0, 1.0, 1.4])


def test_ema_leading_missing_stays_missing_and_padding_stays_nan() -> None:
    windows = np.array([[NAN, 2.0, NAN, 4.0, NAN], [5.0, NAN, NAN, NAN, NAN]])
    out = ema_filter(windows, np.array([4, 3]), 0.5)
    np.testing.assert_array_equal(np.isnan(out[0]), [True, False, False, False, True])
    np.testing.assert_allclose(out[0, 1:4], [2.0, 2.0, 3.0])
    np.testing.assert_allclose(out[1, :3], [5.0, 5.0, 5.0])  # carried forward inside the window only
    assert np.isnan(out[1, 3:]).all()


def test_ema_rows_are_independent() -> None:
    windows = np.array([[1.0, 3.0], [10.0, 30.0]])
    out = ema_filter(windows, np.array([2, 2]), 0.2)
    np.testing.assert_allclose(out, [[1.0, 1.4], [10.0, 14.0]])


def test_iqr_flat_window_removes_every_value_off_the_quartile() -> None:
    """Seed edge case (segA C20): IQR 0 in a flat 3-dp window drops both 0.21 and 0.19."""
    row = np.array([[0.2] * 10 + [0.21, 0.19]])
    out = iqr_filter(row, 1.5)
    assert _as_list(out[0]) == [0.2] * 10 + [None, None]
    assert _as_list(out[0]) == seed_apply_iqr(_as_list(row[0]), 1.5)


def test_iqr_keeps_missing_and_all_missing_rows() -> None:
    out = iqr_filter(np.array([[NAN, NAN, NAN], [1.0, NAN, 100.0]]), 1.5)
    assert np.isnan(out[0]).all()
    np.testing.assert_array_equal(out[1], [1.0, NAN, 100.0])  # two values: fences contain both


def test_iqr_removes_a_spike() -> None:
    row = np.array([[0.30, 0.31, 0.29, 0.30, 0.95, 0.30, 0.31, 0.29]])
    out = iqr_filter(row, 1.5)
    assert np.isnan(out[0, 4]) and np.isnan(out).sum() == 1


def test_row_quantiles_all_missing_row_is_nan() -> None:
    result = row_quantiles(np.array([[NAN, NAN], [1.0, 3.0]]), (0.25, 0.5))
    assert np.isnan(result[0]).all()
    np.testing.assert_allclose(result[1], [1.5, 2.0])


_matrix = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 40)),
    elements=st.one_of(st.just(NAN), st.floats(0, 1, allow_nan=False), st.sampled_from([0.2, 0.21, 0.19])),
)


@settings(max_examples=200, deadline=None)
@given(windows=_matrix, p=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]))
def test_row_quantiles_match_numpy_nanquantile_linear(windows: np.ndarray, p: float) -> None:
    ours = row_quantiles(windows, (p, 0.25, 0.75))
    for i, row in enumerate(windows):
        if np.isnan(row).all():
            assert np.isnan(ours[i]).all()
            continue
        expected = np.nanquantile(row, [p, 0.25, 0.75], method="linear")
        np.testing.assert_allclose(ours[i], expected, rtol=0, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(windows=_matrix, k=st.sampled_from([0.5, 1.5, 3.0]), alpha=st.sampled_from([0.2, 0.25, 1.0]))
def test_filters_match_the_seed_functions_row_by_row(windows: np.ndarray, k: float, alpha: float) -> None:
    lengths = np.full(windows.shape[0], windows.shape[1])
    iqr = iqr_filter(windows, k)
    ema = ema_filter(windows, lengths, alpha)
    both = ema_filter(iqr, lengths, alpha)
    for i, row in enumerate(windows):
        values = _as_list(row)
        assert _as_list(iqr[i]) == seed_apply_iqr(values, k)
        for ours, seed in ((ema[i], seed_ema(values, alpha)), (both[i], seed_ema(seed_apply_iqr(values, k), alpha))):
            assert [v is None for v in _as_list(ours)] == [v is None for v in seed]
            np.testing.assert_allclose([v for v in _as_list(ours) if v is not None],
                                       [v for v in seed if v is not None], rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_ema_alpha_one_is_identity_on_present_values(alpha: float) -> None:
    row = np.array([[0.1, 0.5, 0.9]])
    out = ema_filter(row, np.array([3]), alpha)
    if alpha == 1.0:
        np.testing.assert_allclose(out, row)
    else:
        assert not np.allclose(out, row)
