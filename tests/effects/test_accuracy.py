"""Issue 2 §7: on the demo workspace every complete event's Δ is within 0.005 of the injected effect."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lumen_assets.config import LumenConfig
from lumen_assets.demo import INJECTED_EFFECTS, write_demo_workspace
from lumen_assets.effects.window import SHORT, SIGNALS, WindowSpec, effects_for_events
from lumen_assets.ingest.metrics import read_metrics_csv
from lumen_assets.ingest.rules import read_rule_events

TOLERANCE = 0.005


@pytest.fixture(scope="module")
def demo_effects(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo")
    demo = write_demo_workspace(root)
    config = LumenConfig()
    ingest = read_metrics_csv(root / config.paths.metrics_csv, config.loop.sample_rate_hz, config.metrics.gap_factor)
    events = read_rule_events(root / config.paths.rules_history)
    rows = effects_for_events(ingest.frame, events.events, WindowSpec(**config.effects.model_dump()), time.time_ns())
    return demo, events, rows


def test_demo_has_exactly_one_pending_and_one_insufficient_event(demo_effects) -> None:
    demo, events, rows = demo_effects
    assert len(rows) == demo.events == len(events.events) and not events.quarantined
    counts = rows["status"].value_counts().to_dict()
    assert counts.get("pending") == 1
    assert counts.get("insufficient") == 1
    assert counts.get("complete") == demo.events - 2


@pytest.mark.parametrize("signal", SIGNALS)
def test_every_complete_delta_is_within_tolerance_of_the_injected_effect(demo_effects, signal: str) -> None:
    _, _, rows = demo_effects
    complete = rows[rows["status"] == "complete"]
    assert len(complete) >= 10
    errors = {
        (row.rule_ts, row.rule): abs(getattr(row, f"d_{SHORT[signal]}") - INJECTED_EFFECTS[row.rule][signal])
        for row in complete.itertuples()
    }
    worst = max(errors.values())
    assert worst <= TOLERANCE, f"{signal}: worst |Δ - injected| = {worst:.4f} at {max(errors, key=errors.get)}"


def test_raw_deltas_are_also_close_on_the_demo(demo_effects) -> None:
    """The raw Δ is kept alongside; on the demo (few spikes) it should agree too, a guard against a filter
    that happens to hide a broken window."""
    _, _, rows = demo_effects
    for row in rows[rows["status"] == "complete"].itertuples():
        for signal in SIGNALS:
            assert abs(getattr(row, f"raw_d_{SHORT[signal]}") - INJECTED_EFFECTS[row.rule][signal]) <= 0.01


def test_demo_is_deterministic(tmp_path: Path) -> None:
    write_demo_workspace(tmp_path / "a")
    write_demo_workspace(tmp_path / "b")
    for rel in ("logs/metrics.csv", "controls/rules_history.jsonl", "gateway_activation.yaml"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
