"""Evidence extraction from the effects table: complete rows only, blanks missing, junk quarantined."""

import numpy as np
import pandas as pd
import pytest

from lumen_assets.posteriors.observations import observations_from_effects


def _table(rows):
    base = {"rule_ts": "t", "actor": "a", "old": 0.2, "new": 0.3, "status": "complete"}
    return pd.DataFrame([dict(base, **row) for row in rows])


def test_only_complete_rows_and_blank_is_missing_not_zero():
    effects = _table([
        {"event_id": "e1", "rule": "r", "d_phase": -0.01, "d_entropy": np.nan, "d_creative": "", "d_risk": "0.002"},
        {"event_id": "e2", "rule": "r", "d_phase": 5.0, "d_entropy": 5.0, "d_creative": 5.0, "d_risk": 5.0,
         "status": "pending"},
        {"event_id": "e3", "rule": "q", "d_phase": np.nan, "d_entropy": np.nan, "d_creative": np.nan,
         "d_risk": np.nan},
    ])
    obs = observations_from_effects(effects)
    assert sorted(zip(obs.signal, obs.delta, strict=True)) == [("phase_diff", -0.01), ("risk_band", 0.002)]
    assert obs.counts["complete"] == 2 and obs.counts["not_complete"] == 1
    assert obs.counts["missing_cells"] == 6
    assert obs.rules_without_evidence == ("q",)


def test_non_numeric_delta_is_quarantined_with_row_and_column():
    effects = _table([{"event_id": "e1", "rule": "r", "d_phase": "abc", "d_entropy": 0.1, "d_creative": 0.1,
                       "d_risk": 0.1}])
    obs = observations_from_effects(effects)
    assert obs.quarantined == ({"row": 2, "event_id": "e1", "column": "d_phase", "value": "abc",
                                "reason": "not a finite number"},)
    assert len(obs) == 3


def test_missing_column_names_the_file():
    with pytest.raises(ValueError, match=r"effects\.csv: missing column\(s\) d_risk"):
        observations_from_effects(pd.DataFrame({"rule": [], "status": [], "d_phase": [], "d_entropy": [],
                                                "d_creative": []}), source="x/effects.csv")


def test_version_changes_with_the_evidence_and_not_with_row_order():
    rows = [{"event_id": f"e{i}", "rule": "r", "d_phase": 0.01 * i, "d_entropy": 0.0, "d_creative": 0.0,
             "d_risk": 0.0} for i in range(3)]
    a = observations_from_effects(_table(rows))
    b = observations_from_effects(_table(rows[::-1]))
    assert a.version() == b.version()
    rows[0]["d_phase"] = 0.5
    assert observations_from_effects(_table(rows)).version() != a.version()
