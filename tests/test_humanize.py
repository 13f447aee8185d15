"""Durations and figures as the UI shows them (issue 15 §4)."""

from __future__ import annotations

import math

import pytest

from lumen_assets.humanize import duration, interval, signed


@pytest.mark.parametrize(("seconds", "words"), [
    (906022, "10 days 12 h"), (95, "1 min 35 s"), (59.9, "1 min"), (3599.9, "1 h"), (86400, "1 day"),
    (7261, "2 h 1 min"), (4.25, "4.2 s"), (0.3, "300 ms"), (12, "12 s"), (-95, "-1 min 35 s"),
    (math.inf, "forever"), (None, "unknown"), (math.nan, "unknown"),
])
def test_durations_read_in_two_units(seconds, words) -> None:
    assert duration(seconds) == words


def test_signed_deltas_and_intervals() -> None:
    assert signed(-0.014) == "−0.0140" and signed(0.0312) == "+0.0312" and signed(math.nan) == "—"
    assert interval(-0.02, -0.008) == "[−0.0200, −0.0080]"
    assert interval(math.nan, 0.1) == "no interval"
