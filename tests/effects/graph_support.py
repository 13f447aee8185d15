"""A demo workspace with its own lumen.yaml (built-in defaults) and an ephemeral instance, for the Dagster
layer tests of the foundation assets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.demo import write_demo_workspace
from lumen_assets.ingest.rules import read_rule_events


@dataclass
class DemoGraph:
    root: Path
    instance: dg.DagsterInstance
    event_ids: list[str]
    event_days: list[str]

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
    events = read_rule_events(root / "controls" / "rules_history.jsonl").events
    ids = [e.event_id for e in events]
    days = [e.ts.astimezone(LumenWorkspace(root=str(root)).config.tz).date().isoformat() for e in events]
    del add_partitions  # rule effects are partitioned by day now: nothing to register
    return DemoGraph(root, instance, ids, days)


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
