"""A demo workspace with its metrics Parquet and effects table already computed (through the
foundation's pure functions, so these tests exercise only the posteriors/tuning layers)."""

import time
from pathlib import Path

import pytest


def prepare_demo_workspace(root: Path, hours: float = 4.0) -> Path:
    from lumen_assets.config import LumenConfig
    from lumen_assets.demo import write_demo_workspace
    from lumen_assets.effects.table import write_effects_csv
    from lumen_assets.effects.window import WindowSpec, effects_for_events
    from lumen_assets.ingest.metrics import read_metrics_csv
    from lumen_assets.ingest.metrics_store import write_metrics_store
    from lumen_assets.ingest.rules import read_rule_events

    config = LumenConfig()
    write_demo_workspace(root, hours=hours)
    ingest = read_metrics_csv(root / config.paths.metrics_csv)
    write_metrics_store(ingest.frame, root / config.paths.state_dir / "metrics")
    events = read_rule_events(root / config.paths.rules_history).events
    rows = effects_for_events(ingest.frame, events, WindowSpec(**config.effects.model_dump()), time.time_ns())
    write_effects_csv(rows, root / config.paths.effects_csv)
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """Read-only for tests: copy it (shutil.copytree) before writing."""
    return prepare_demo_workspace(tmp_path_factory.mktemp("demo"))
