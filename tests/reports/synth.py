"""Small synthetic inputs for report tests: a day of metrics, effects rows and evidence records."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

KST = ZoneInfo("Asia/Seoul")
DAY = "2025-10-23"


def metrics_frame(day: str = DAY, hz: float = 0.2, seed: int = 7, days: int = 1, start_offset_h: float = 0.0) -> pd.DataFrame:
    """`ts` UTC (ns) sorted + four signals; the shape read_metrics_parquet returns."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(f"{day}T00:00:00", tz=KST) + pd.Timedelta(hours=start_offset_h)
    n = int(86400 * days * hz)
    ts = start + pd.to_timedelta(np.arange(n) / hz, unit="s")
    t = np.arange(n) / (86400 * hz)
    frame = pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(ts).tz_convert("UTC").as_unit("ns"),
            "phase_diff": 0.45 + 0.1 * np.sin(2 * np.pi * t) + rng.normal(0, 0.02, n),
            "entropy_rate": 0.3 + rng.normal(0, 0.02, n),
            "creative_band": 0.26 + 0.03 * np.cos(2 * np.pi * t) + rng.normal(0, 0.01, n),
            "risk_band": 0.3 + rng.normal(0, 0.015, n),
        }
    )
    frame.loc[5, "risk_band"] = np.nan  # a blank cell stays missing
    return frame


def effects_rows(day: str = DAY, n: int = 6, seed: int = 3) -> pd.DataFrame:
    """Effects-table rows at hours 1, 3, 5... of the day, plus one the day before and one the day after."""
    rng = np.random.default_rng(seed)
    start = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=KST)
    times = [start + timedelta(hours=1 + 2 * i, minutes=7) for i in range(n)]
    times += [start - timedelta(hours=2), start + timedelta(days=1, hours=1)]
    rows = []
    for i, ts in enumerate(times):
        d = rng.normal(0, 0.03, 4)
        rows.append(
            {
                "rule_ts": ts.isoformat(),
                "actor": "Lubit" if i % 2 else "Sena",
                "rule": ("creative_min", "risk_max", "loop_rate_hz")[i % 3],
                "old": 0.22,
                "new": 0.24,
                "d_phase": float(d[0]),
                "d_entropy": float(d[1]),
                "d_creative": float(d[2]),
                "d_risk": float(d[3]),
                "status": "pending" if i == n - 1 else "complete",
                "event_id": f"ev{i:03d}",
            }
        )
    rows[0].update(d_phase=0.05, d_entropy=0.04)  # a risk
    return pd.DataFrame(rows)
