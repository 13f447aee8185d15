"""The workspace contract in one place: every file Lumen reads or writes, as a path of one workspace.

The seed's files are configurable (`paths:` in config/lumen.yaml); Lumen's own derived state lives under
`paths.state_dir` with fixed names, written here once. The `workspace` resource hands a layout to the assets
and sensors (`workspace.layout.metrics_store`); plain modules and the CLI build one from a root and a config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lumen_assets.config import LumenConfig, PathsSettings


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
    @property
    def metrics_csv(self) -> Path:
        return self.path(self.paths.metrics_csv)

    @property
    def environment_csv(self) -> Path:
        return self.path(self.paths.environment_csv)

    @property
    def rules_history(self) -> Path:
        return self.path(self.paths.rules_history)

    @property
    def effects_csv(self) -> Path:
        return self.path(self.paths.effects_csv)

    @property
    def gateway_yaml(self) -> Path:
        return self.path(self.paths.gateway_yaml)

    @property
    def quarantine_dir(self) -> Path:
        return self.path(self.paths.quarantine_dir)

    @property
    def dagster_home(self) -> Path:
        return self.path(self.paths.dagster_home)

    # outputs with seed names
    @property
    def posterior_log(self) -> Path:
        return self.path("logs/bayes_posterior.jsonl")

    @property
    def conjugate_posterior_log(self) -> Path:
        """The conjugate fast path's history, same seed shape as bayes_posterior.jsonl (which is PyMC's)."""
        return self.path("logs/bayes_posterior_conjugate.jsonl")

    @property
    def impact_log(self) -> Path:
        return self.path("logs/impact_reports.jsonl")

    @property
    def tuning_decisions(self) -> Path:
        return self.path("logs/tuning_decisions.jsonl")

    @property
    def ceremony_artifacts(self) -> Path:
        """Rehearsal logs and completion certificates of `lumen ceremony` (seed segD §6: custody/sim/artifacts)."""
        return self.path("custody/sim/artifacts")

    # Lumen's own derived state
    @property
    def state_dir(self) -> Path:
        return self.path(self.paths.state_dir)

    @property
    def metrics_store(self) -> Path:
        """Typed, validated metrics written by the `metrics` asset: Parquet split by UTC day, with the
        ingest cursor (`lumen_assets.ingest.metrics_store`)."""
        return self.state_dir / "metrics"

    @property
    def legacy_metrics_parquet(self) -> Path:
        """The whole-history metrics file of earlier versions; the first incremental ingest removes it."""
        return self.state_dir / "metrics.parquet"

    @property
    def environment_store(self) -> Path:
        return self.state_dir / "environment.parquet"

    @property
    def effects_store(self) -> Path:
        return self.state_dir / "effects.parquet"

    @property
    def posterior_cache_dir(self) -> Path:
        return self.state_dir / "posteriors"

    @property
    def latest_posteriors(self) -> Path:
        """The posterior set to act on (tuning): the newest converged PyMC fit, else the conjugate one."""
        return self.posterior_cache_dir / "latest.json"

    @property
    def pymc_posteriors(self) -> Path:
        """The newest PyMC fit (converged or not) with its diagnostics and fixed-noise twin."""
        return self.posterior_cache_dir / "pymc_latest.json"

    @property
    def conjugate_posteriors(self) -> Path:
        """The newest conjugate posterior set (effect_posteriors_conjugate)."""
        return self.posterior_cache_dir / "conjugate_latest.json"

    @property
    def tuning_latest(self) -> Path:
        return self.state_dir / "tuning" / "latest.json"

    @property
    def bandit_state(self) -> Path:
        return self.state_dir / "tuning" / "bandit_state.json"

    @property
    def rules_cache(self) -> Path:
        """The rules history's lines as last parsed, for an incremental read (`ingest.rules.read_rule_events`)."""
        return self.state_dir / "rules_history.parsed.json"

    @property
    def evidence_state(self) -> Path:
        """What the evidence assets have mapped and scanned so far (`lumen_assets.evidence.incremental`)."""
        return self.state_dir / "evidence"

    @property
    def alert_rate_limit(self) -> Path:
        return self.state_dir / "alerts" / "rate_limit.json"

    def report_facts(self, day: str) -> Path:
        return self.state_dir / "reports" / f"report_{day}.json"
