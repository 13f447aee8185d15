"""A demo workspace with its own lumen.yaml (built-in defaults) and an ephemeral instance, for the Dagster
layer tests of the foundation assets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.demo import write_demo_workspace
from lumen_assets.ingest.rules import read_rule_events
from lumen_assets.partitions import RULE_EVENT_PARTITIONS_NAME


@dataclass
class DemoGraph:
    root: Path
    instance: dg.DagsterInstance
    event_ids: list[str]

    @property
    def resources(self) -> dict[str, object]:
        return {"workspace": LumenWorkspace(root=str(self.root))}

    @property
    def workspace(self) -> LumenWorkspace:
        return LumenWorkspace(root=str(self.root))


def demo_graph(root: Path, add_partitions: bool = True, hours: float = 1.0) -> DemoGraph:
    write_demo_workspace(root, hours=hours)
    (root / "lumen.yaml").write_text("{}\n", encoding="utf-8")  # independent of other areas' config edits
    instance = dg.DagsterInstance.ephemeral()
    ids = [e.event_id for e in read_rule_events(root / "controls" / "rules_history.jsonl").events]
    if add_partitions:
        instance.add_dynamic_partitions(RULE_EVENT_PARTITIONS_NAME, ids)
    return DemoGraph(root, instance, ids)


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
