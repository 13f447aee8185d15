"""The workspace contract in one place: every file Lumen reads or writes, as a path of one workspace.

The seed's files are configurable (`paths:` in config/lumen.yaml); Lumen's own derived state lives under
`paths.state_dir` with fixed names, written here once. The `workspace` resource hands a layout to the assets
and sensors (`workspace.layout.metrics_store`); plain modules and the CLI build one from a root and a config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from lumen_assets.config import LumenConfig, PathsSettings


class _WorkspacePath:
    """A path property of `WorkspaceLayout`, declared in one line: the `paths:` key of the same name
    (`_WorkspacePath()`), a fixed path under the workspace (`_WorkspacePath("logs/x.jsonl")`), or one under
    Lumen's state folder `paths.state_dir` (`_WorkspacePath("metrics", state=True)`)."""

    def __init__(self, relative: str | None = None, doc: str | None = None, *, state: bool = False) -> None:
        self.relative = relative
        self.state = state
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, layout: None, owner: Any = None) -> _WorkspacePath: ...

    @overload
    def __get__(self, layout: WorkspaceLayout, owner: Any = None) -> Path: ...

    def __get__(self, layout: WorkspaceLayout | None, owner: Any = None) -> Path | _WorkspacePath:
        if layout is None:
            return self
        if self.relative is None:
            return layout.path(getattr(layout.paths, self.name))
        return (layout.state_dir if self.state else layout.root) / self.relative


@dataclass(frozen=True)
class WorkspaceLayout:
    root: Path
    paths: PathsSettings

    @classmethod
    def of(cls, root: Path | str, config: LumenConfig) -> WorkspaceLayout:
        return cls(Path(root), config.paths)

    def path(self, relative: str) -> Path:
        """A workspace-relative path from config (e.g. `config.evidence.quotes_bank`)."""
        return self.root / relative

    # the seed's files (config `paths:`)
    metrics_csv = _WorkspacePath()
    environment_csv = _WorkspacePath()
    rules_history = _WorkspacePath()
    effects_csv = _WorkspacePath()
    gateway_yaml = _WorkspacePath()
    quarantine_dir = _WorkspacePath()
    dagster_home = _WorkspacePath()

    # outputs with seed names
    posterior_log = _WorkspacePath("logs/bayes_posterior.jsonl")
    conjugate_posterior_log = _WorkspacePath(
        "logs/bayes_posterior_conjugate.jsonl",
        "The conjugate fast path's history, same seed shape as bayes_posterior.jsonl (which is PyMC's).")
    impact_log = _WorkspacePath("logs/impact_reports.jsonl")
    tuning_decisions = _WorkspacePath("logs/tuning_decisions.jsonl")
    ceremony_artifacts = _WorkspacePath(
        "custody/sim/artifacts",
        "Rehearsal logs and completion certificates of `lumen ceremony` (seed segD §6: custody/sim/artifacts).")

    # Lumen's own derived state (config `paths.state_dir`)
    state_dir = _WorkspacePath()
    metrics_store = _WorkspacePath(
        "metrics", "Typed, validated metrics written by the `metrics` asset: Parquet split by UTC day, with the "
        "ingest cursor (`lumen_assets.ingest.metrics_store`).", state=True)
    legacy_metrics_parquet = _WorkspacePath(
        "metrics.parquet", "The whole-history metrics file of earlier versions; the first incremental ingest "
        "removes it.", state=True)
    environment_store = _WorkspacePath(
        "environment", "Typed, validated rhythm-sensor samples written by the `environment` asset: Parquet split "
        "by UTC day, with the ingest cursor (the metrics store's implementation, `lumen_assets.ingest.environment`).",
        state=True)
    legacy_environment_store = _WorkspacePath(
        "environment.parquet", "The whole-history environment file of earlier versions; the first incremental "
        "ingest rebuilds the store from the CSV and removes it.", state=True)
    rhythm_sync_state = _WorkspacePath(
        "rhythm_sync_state.json", "What `rhythm_sync` computed: per local day the store files it read and where "
        "its records sit in the output, so a run recomputes only the days whose inputs changed.", state=True)
    effects_store = _WorkspacePath("effects.parquet", state=True)
    posterior_cache_dir = _WorkspacePath("posteriors", state=True)
    latest_posteriors = _WorkspacePath(
        "posteriors/latest.json",
        "The posterior set to act on (tuning): the newest converged PyMC fit, else the conjugate one.", state=True)
    pymc_posteriors = _WorkspacePath(
        "posteriors/pymc_latest.json",
        "The newest PyMC fit (converged or not) with its diagnostics and fixed-noise twin.", state=True)
    conjugate_posteriors = _WorkspacePath(
        "posteriors/conjugate_latest.json", "The newest conjugate posterior set (effect_posteriors_conjugate).",
        state=True)
    tuning_latest = _WorkspacePath("tuning/latest.json", state=True)
    bandit_state = _WorkspacePath("tuning/bandit_state.json", state=True)
    rules_cache = _WorkspacePath(
        "rules_history.parsed.json",
        "The rules history's lines as last parsed, for an incremental read (`ingest.rules.read_rule_events`).",
        state=True)
    evidence_state = _WorkspacePath(
        "evidence", "What the evidence assets have mapped and scanned so far (`lumen_assets.evidence.incremental`).",
        state=True)
    alert_rate_limit = _WorkspacePath("alerts/rate_limit.json", state=True)

    def report_facts(self, day: str) -> Path:
        return self.state_dir / "reports" / f"report_{day}.json"
