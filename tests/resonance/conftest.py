"""Fixtures for the resonance area: a workspace with a metrics Parquet written through the ingest API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lumen_assets.ingest.metrics_store import write_metrics_store


def write_metrics(
    root: Path,
    *,
    minutes: float = 30,
    end: datetime | None = None,
    creative: float = 0.3,
    risk: float = 0.2,
    hz: float = 5.0,
) -> pd.DataFrame:
    """A steady 5 Hz stream ending at `end` (default: now) with the given band levels."""
    end = end or datetime.now(UTC)
    n = int(minutes * 60 * hz)
    ts = pd.date_range(end=pd.Timestamp(end), periods=n, freq=pd.Timedelta(seconds=1 / hz)).as_unit("ns")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "phase_diff": np.full(n, 0.05),
            "entropy_rate": np.full(n, 0.4),
            "creative_band": np.full(n, creative),
            "risk_band": np.full(n, risk),
        }
    )
    write_metrics_store(frame, root / ".lumen" / "metrics")
    return frame


def write_report(root: Path, day: datetime | None = None) -> None:
    day = (day or datetime.now(UTC) + timedelta(hours=9)).date()
    path = root / "controls" / "reports" / f"report_{day.isoformat()}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# report\n", encoding="utf-8")


@pytest.fixture
def workspace_root(tmp_path: Path) -> Path:
    (tmp_path / "lumen.yaml").write_text("resonance:\n  schedule_cron: null\n", encoding="utf-8")
    return tmp_path
