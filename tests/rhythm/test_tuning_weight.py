"""The rhythm blend's bounded weight on the phase_diff target (seed segC §C1), off by default."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from lumen_assets.rhythm.sync import blend_over, read_sync_records
from lumen_assets.tuning.self_tuning import LevelWindow, propose_self_tuning, rhythm_targets
from lumen_assets.tuning.settings import TuningSettings

NOW = datetime(2025, 10, 23, 12, 0, tzinfo=UTC)
# phase_diff at 0.055 misses the default max 0.05; risk and creative are on target
LEVELS = LevelWindow({"phase_diff": 0.055, "risk_band": 0.2, "creative_band": 0.3, "entropy_rate": 0.2}, 1000)


def _propose(settings: TuningSettings, blend: float | None):
    return propose_self_tuning(settings, [], None, LEVELS, {}, set(), NOW, blend)[0]


def test_weight_off_by_default_changes_nothing() -> None:
    settings = TuningSettings()
    assert settings.rhythm_weight == 0.0
    assert rhythm_targets(settings, 1.0) == settings.targets
    assert _propose(settings, 1.0).rule == "creative_min"  # phase misses its target: raise creative_min


def test_a_positive_blend_relaxes_the_phase_target_within_the_bound() -> None:
    settings = TuningSettings(rhythm_weight=0.2)
    assert rhythm_targets(settings, 0.5)["phase_diff"].max == pytest.approx(0.05 * 1.1)
    assert rhythm_targets(settings, 7.0)["phase_diff"].max == pytest.approx(0.05 * 1.2)  # blend clipped to 1
    assert rhythm_targets(settings, -7.0)["phase_diff"].max == pytest.approx(0.05 * 0.8)
    relaxed = _propose(settings, 0.6)  # target 0.056: phase 0.055 is on target now
    assert relaxed.rule == "-" and "no change" in relaxed.reason
    tightened = _propose(settings, -0.6)
    assert tightened.rule == "creative_min" and tightened.extra["rhythm"]["phase_diff_target"] == pytest.approx(0.044)


def test_weight_is_bounded() -> None:
    with pytest.raises(ValidationError):
        TuningSettings(rhythm_weight=0.8)


def test_blend_over_the_observation_window() -> None:
    records = [{"ts": f"2025-10-23T12:0{i}:00+00:00", "step_s": 60, "blend": b}
               for i, b in enumerate([0.1, None, 0.3, 0.5])]
    sync = read_sync_records(records)
    end = int(pd.Timestamp("2025-10-23T12:03:30+00:00").value)
    assert blend_over(sync, end, 90) == pytest.approx((0.3 + 0.5) / 2)
    assert blend_over(sync, end, 1) == pytest.approx(0.5)
    assert blend_over(sync, int(pd.Timestamp("2025-10-23T13:00:00+00:00").value), 60) is None
    assert np.isnan(read_sync_records(records)["blend"][1])
