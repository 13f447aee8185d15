"""The foundation graph materialised with an ephemeral instance on the demo workspace."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from lumen_assets.effects.defs import effects_rows_consistent, rule_effects
from lumen_assets.effects.table import read_effects_csv
from lumen_assets.gateway.defs import gateway_state
from lumen_assets.ingest.defs import metrics, rule_events
from lumen_assets.partitions import RULE_EVENT_PARTITIONS_NAME
from tests.effects.graph_support import DemoGraph, check_evaluations, demo_graph

FOUNDATION = [rule_events, metrics, gateway_state, rule_effects, effects_rows_consistent]


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoGraph, list[dg.ExecuteInProcessResult]]:
    demo = demo_graph(tmp_path_factory.mktemp("graph"))
    results = [
        dg.materialize(FOUNDATION, partition_key=key, resources=demo.resources, instance=demo.instance,
                       raise_on_error=False)
        for key in (demo.event_ids[0], demo.event_ids[-1])
    ]
    return demo, results


def test_foundation_materialises_every_asset(graph) -> None:
    _, results = graph
    for result in results:
        assert result.success
        keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert keys == {"rule_events", "metrics", "gateway_state", "rule_effects"}


def test_checks_pass_on_good_data(graph) -> None:
    _, results = graph
    checks = check_evaluations(results[0])
    for name in ("metrics_schema_range_order", "metrics_quarantine_rate", "gateway_signature_hash",
                 "effects_rows_consistent"):
        assert checks[name].passed, name
    assert checks["metrics_schema_range_order"].severity == dg.AssetCheckSeverity.ERROR
    assert checks["metrics_quarantine_rate"].severity == dg.AssetCheckSeverity.WARN
    assert checks["metrics_freshness"].severity == dg.AssetCheckSeverity.WARN
    assert not checks["metrics_freshness"].passed  # the demo is dated 2025-10-23: stale against now


def test_effects_csv_holds_exactly_the_materialised_partitions(graph) -> None:
    demo, _ = graph
    table = read_effects_csv(demo.root / "logs" / "rules_effects.csv")
    assert table["event_id"].tolist() == [demo.event_ids[0], demo.event_ids[-1]]
    assert table["status"].tolist() == ["complete", "pending"]
    assert (demo.root / ".lumen" / "effects.parquet").exists()
    assert (demo.root / ".lumen" / "metrics" / "_ingest_state.json").exists()


def test_rule_events_registers_every_event_as_a_partition(graph) -> None:
    demo, results = graph
    assert sorted(demo.instance.get_dynamic_partitions(RULE_EVENT_PARTITIONS_NAME)) == sorted(demo.event_ids)
    [event] = [e for e in results[0].get_asset_materialization_events() if e.asset_key.to_user_string() == "rule_events"]
    metadata = event.materialization.metadata
    assert metadata["events"].value == len(demo.event_ids)
    assert metadata["quarantined_lines"].value == 0


def test_metrics_metadata_reports_rows_gaps_and_missing(graph) -> None:
    _, results = graph
    [event] = [e for e in results[0].get_asset_materialization_events() if e.asset_key.to_user_string() == "metrics"]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == metadata["rows_read"].value > 17_000
    assert metadata["gaps"].value == 1 and metadata["gap_longest_s"].value == pytest.approx(50.0)
    assert metadata["missing_cells"].value > 0


def test_effects_rows_consistent_reports_events_not_yet_computed(graph) -> None:
    demo, _ = graph
    result = effects_rows_consistent(workspace=demo.workspace)
    assert result.passed
    assert result.metadata["rows"].value == 2
    assert result.metadata["events_not_yet_computed"].value == len(demo.event_ids) - 2


def test_effects_rows_consistent_fails_on_a_duplicate_row(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    dg.materialize(FOUNDATION[:-1], partition_key=demo.event_ids[0], resources=demo.resources, instance=demo.instance)
    csv = demo.root / "logs" / "rules_effects.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[1]]) + "\n")  # the seed appended: a second row for one event
    result = effects_rows_consistent(workspace=demo.workspace)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["duplicate_rows"].value == 1


def test_a_partition_not_in_the_history_fails_with_a_reason(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    demo.instance.add_dynamic_partitions(RULE_EVENT_PARTITIONS_NAME, ["deadbeefdeadbeef"])
    dg.materialize([metrics], resources=demo.resources, instance=demo.instance)
    result = dg.materialize([rule_effects], partition_key="deadbeefdeadbeef", resources=demo.resources,
                            instance=demo.instance, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "not in controls/rules_history.jsonl" in failures[0].step_failure_data.error.message


def test_rule_effects_without_metrics_store_fails_naming_it(tmp_path: Path) -> None:
    demo = demo_graph(tmp_path)
    result = dg.materialize([rule_effects], partition_key=demo.event_ids[0], resources=demo.resources,
                            instance=demo.instance, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "metrics not found" in failures[0].step_failure_data.error.message


def test_each_partition_of_a_single_run_backfill_shows_its_own_event(tmp_path: Path) -> None:
    """Issue 15 §1: a single-run backfill over three events writes three materialisations, each with its
    own event's time, actor, rule, old → new, Δ with an interval, n and status (not one shared table)."""
    from lumen_assets.ingest.rules import read_rule_events

    demo = demo_graph(tmp_path)
    dg.materialize([metrics], resources=demo.resources, instance=demo.instance)
    keys = demo.event_ids[:3]
    result = dg.materialize([rule_effects], resources=demo.resources, instance=demo.instance,
                            tags={"dagster/asset_partition_range_start": keys[0],
                                  "dagster/asset_partition_range_end": keys[-1]})
    events = {e.event_id: e for e in read_rule_events(demo.root / "controls" / "rules_history.jsonl").events}
    by_partition = {e.partition: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert set(by_partition) == set(keys)
    for key, metadata in by_partition.items():
        event = events[key]
        assert metadata["event_time"].value == event.ts_text
        assert metadata["actor"].value == event.actor and metadata["rule"].value == event.rule
        assert metadata["change"].value.endswith(f"→ {event.new:.4g}")
        assert metadata["status"].value == "complete"
        assert metadata["n_pre"].value >= 50 and metadata["n_post"].value >= 50
        assert re.match(r"^[\d.]+ → [\d.]+, Δ [+−][\d.]+ \[[+−][\d.]+, [+−][\d.]+\]$", metadata["risk_band"].value)
        assert "effects" not in metadata  # no run-wide table stamped on every partition
    assert len({m["event_time"].value for m in by_partition.values()}) == 3
