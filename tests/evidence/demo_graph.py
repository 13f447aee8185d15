"""The demo workspace taken as far as logs/rules_effects.csv through the foundation's own functions (the
same calls the ingest and effects assets make), so evidence and report tests start from real effects."""

from __future__ import annotations

import time
from pathlib import Path

from lumen_assets.config import load_config
from lumen_assets.demo import write_demo_workspace
from lumen_assets.effects.table import upsert_effects
from lumen_assets.effects.window import WindowSpec, effects_for_events
from lumen_assets.ingest.metrics import read_metrics_csv
from lumen_assets.ingest.metrics_store import write_metrics_store
from lumen_assets.ingest.rules import read_rule_events


def demo_with_effects(root: Path, hours: float = 4.0) -> Path:
    write_demo_workspace(root, hours=hours)
    config = load_config()
    state = root / config.paths.state_dir
    ingest = read_metrics_csv(root / config.paths.metrics_csv, config.loop.sample_rate_hz, config.metrics.gap_factor)
    write_metrics_store(ingest.frame, state / "metrics")
    events = read_rule_events(root / config.paths.rules_history).events
    rows = effects_for_events(ingest.frame, events, WindowSpec(**config.effects.model_dump()), time.time_ns())
    upsert_effects(state / "effects.parquet", root / config.paths.effects_csv, rows)
    return root
