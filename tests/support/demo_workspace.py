"""The demo workspace with its metrics Parquet and effects already computed (through the foundation's pure
functions, so area tests exercise only their own layer): `prepare_demo_workspace` and the session fixture
`demo_root`."""

import time
from pathlib import Path

import pytest


def prepare_demo_workspace(root: Path, hours: float = 4.0) -> Path:
    """The demo workspace taken as far as logs/rules_effects.csv (and the effects store) through the same
    calls the ingest and effects assets make; the one demo-workspace helper of the test suite."""
    from lumen_assets.config import load_config
    from lumen_assets.demo import write_demo_workspace
    from lumen_assets.effects.table import upsert_effects
    from lumen_assets.effects.window import WindowSpec, effects_for_events
    from lumen_assets.ingest.metrics import read_metrics_csv
    from lumen_assets.ingest.metrics_store import write_metrics_store
    from lumen_assets.ingest.rules import read_rule_events
    from lumen_assets.layout import WorkspaceLayout

    write_demo_workspace(root, hours=hours)
    config = load_config()
    layout = WorkspaceLayout.of(root, config)
    ingest = read_metrics_csv(layout.metrics_csv, config.loop.sample_rate_hz, config.metrics.gap_factor)
    write_metrics_store(ingest.frame, layout.metrics_store)
    events = read_rule_events(layout.rules_history).events
    rows = effects_for_events(ingest.frame, events, WindowSpec(**config.effects.model_dump()), time.time_ns())
    upsert_effects(layout.effects_store, layout.effects_csv, rows)
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """Read-only for tests: copy it (shutil.copytree) before writing."""
    return prepare_demo_workspace(tmp_path_factory.mktemp("demo"))
