"""Lumen's declarative config: one typed model per section of config/lumen.yaml, validated once at load.

Resolution order (CLI contract): `--config FILE` > `WORKSPACE/lumen.yaml` > the project's `config/lumen.yaml`.
Errors name the file, the key path, its line and what was expected; unknown keys are errors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from lumen_assets.alerts.settings import AlertsSettings
from lumen_assets.archive.settings import ArchiveSettings
from lumen_assets.attest.settings import AttestSettings
from lumen_assets.evidence.settings import EvidenceSettings
from lumen_assets.ingest.rules import RulePolicy
from lumen_assets.posteriors.settings import PosteriorsSettings
from lumen_assets.reports.settings import ReportsSettings
from lumen_assets.resonance.settings import ResonanceSettings
from lumen_assets.rhythm.settings import RhythmSettings
from lumen_assets.section import Section, WorkspacePath
from lumen_assets.tlog.settings import TlogSettings
from lumen_assets.tuning.settings import TuningSettings

PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "lumen.yaml"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file, key path and line."""


class PathsSettings(Section):
    """Where the seed layout keeps each file, relative to the workspace root."""

    metrics_csv: WorkspacePath = "logs/metrics.csv"
    environment_csv: WorkspacePath = "logs/environment.csv"
    rules_history: WorkspacePath = "controls/rules_history.jsonl"
    effects_csv: WorkspacePath = "logs/rules_effects.csv"
    gateway_yaml: WorkspacePath = "gateway_activation.yaml"
    quarantine_dir: WorkspacePath = "logs/quarantine"
    state_dir: WorkspacePath = ".lumen"
    dagster_home: WorkspacePath = ".dagster"


class LoopSettings(Section):
    """The control loop's cadence and the reporting day's timezone."""

    sample_rate_hz: float = Field(5.0, gt=0, le=1000)
    timezone: str = "Asia/Seoul"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value


class MetricsSettings(Section):
    """Ingest of logs/metrics.csv and its checks."""

    quarantine_max_fraction: float = Field(0.01, ge=0, le=1)
    freshness_max_age_s: float = Field(3600.0, gt=0)
    gap_factor: float = Field(
        2.5, gt=1, description="a gap is a step longer than gap_factor sample periods"
    )


class EffectsSettings(Section):
    """Pre/post windows around each rule event (seed segA C17/C21)."""

    pre_s: float = Field(30.0, gt=0)
    post_s: float = Field(30.0, gt=0)
    guard_s: float = Field(1.0, ge=0)
    use_iqr: bool = True
    iqr_k: float = Field(1.5, gt=0)
    use_ema: bool = True
    ema_alpha: float = Field(0.2, gt=0, le=1)
    min_samples: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _guard_inside_windows(self) -> EffectsSettings:
        if self.guard_s >= min(self.pre_s, self.post_s):
            raise ValueError("guard_s must be smaller than both pre_s and post_s")
        return self


class ThresholdsSettings(Section):
    """The gateway's signal thresholds (seed gateway_activation.yaml resonance.thresholds)."""

    creative_band_min: float = Field(0.22, ge=0, le=1)
    risk_band_max: float = Field(0.35, ge=0, le=1)


ThresholdName = Literal.__getitem__(tuple(ThresholdsSettings.model_fields))  # a key of `thresholds`


DEFAULT_KNOWN_RULES = ("creative_min", "risk_max", "phase_gain")  # the seed's two rules and the demo's third


class RulesSettings(Section):
    """Maps the seed's rule names onto the thresholds they set (seed: nothing mapped them)."""

    thresholds: dict[str, ThresholdName] = Field(
        default_factory=lambda: {"creative_min": "creative_band_min", "risk_max": "risk_band_max"}
    )
    known: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KNOWN_RULES),
        description="the loop's rule names; a rule event naming another rule is quarantined (a rule named "
        "in rules.thresholds, posteriors.priors or tuning is known too)",
    )
    max_future_s: float = Field(
        300.0, ge=0, description="a rule event stamped more than this far ahead of now is quarantined (clock error)"
    )


class SensorSettings(Section):
    """The rule-event sensor: how often it ticks and how much it takes per tick. A tick reads only the new
    bytes of the history and the metrics file's last line, so 5 s keeps an event's effects within ~15 s of
    its post window closing (bench/latency.py) at negligible cost."""

    interval_s: int = Field(5, ge=1)
    max_events_per_tick: int = Field(500, ge=1)
    max_bytes_per_tick: int = Field(8 * 1024 * 1024, ge=1024)


class GatewaySettings(Section):
    """The gateway activation state (seed segA C1-C8)."""

    expected_signer: str = "Binoche"


class LocationSettings(Section):
    """How this workspace is served on a Dagster deployment: its code location's name and, when several
    workspaces share one deployment and database, the asset key prefix that keeps their histories apart."""

    name: str = Field("lumen", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*$",
                      description="the Dagster code location serving this workspace")
    asset_prefix: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_]+$",
        description="prefix of every asset key (e.g. loop_a -> loop_a/rule_effects); null: bare names",
    )


class LumenConfig(Section):
    """The whole of config/lumen.yaml."""

    paths: PathsSettings = PathsSettings()
    loop: LoopSettings = LoopSettings()
    metrics: MetricsSettings = MetricsSettings()
    effects: EffectsSettings = EffectsSettings()
    rules: RulesSettings = RulesSettings()
    thresholds: ThresholdsSettings = ThresholdsSettings()
    sensor: SensorSettings = SensorSettings()
    gateway: GatewaySettings = GatewaySettings()
    posteriors: PosteriorsSettings = PosteriorsSettings()
    tuning: TuningSettings = TuningSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    reports: ReportsSettings = ReportsSettings()
    archive: ArchiveSettings = ArchiveSettings()
    attest: AttestSettings = AttestSettings()
    tlog: TlogSettings = TlogSettings()
    resonance: ResonanceSettings = ResonanceSettings()
    rhythm: RhythmSettings = RhythmSettings()
    alerts: AlertsSettings = AlertsSettings()
    location: LocationSettings = LocationSettings()

    @model_validator(mode="after")
    def _custody_age_reads_where_records_are_written(self) -> LumenConfig:
        """`lumen custody record` and a passed `lumen ceremony` write under attest.custody.records_dir; the
        resonance custody age reads resonance.custody_records (recursively). Apart, no ceremony would count."""
        import posixpath

        written = posixpath.normpath(self.attest.custody.records_dir)
        read = posixpath.normpath(self.resonance.custody_records)
        if read != "." and written != read and not written.startswith(read.rstrip("/") + "/"):
            raise ValueError(
                f"resonance.custody_records ({self.resonance.custody_records}) must be attest.custody.records_dir "
                f"({self.attest.custody.records_dir}) or a folder holding it: custody ceremonies and rehearsals are "
                "written there, and the resonance custody age would never see them"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.loop.timezone)

    def known_rules(self) -> frozenset[str]:
        """Every rule name the config knows: `rules.known` plus the rules other sections configure."""
        tuning = self.tuning
        return frozenset(
            [*self.rules.known, *self.rules.thresholds, *self.posteriors.priors, *tuning.rules,
             tuning.ab_bracket.rule, tuning.bandit.rule]
        )

    def rule_policy(self) -> RulePolicy:
        """What a rule event must satisfy beyond its syntax (known rule, not in the future)."""
        return RulePolicy(known_rules=self.known_rules(), max_future_s=self.rules.max_future_s)

    def digest(self) -> str:
        """sha256 of the validated config, for provenance (changes when any value changes)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at key path `loc`, or of the nearest existing parent."""
    node, line = root, None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == str(part)]
            node = match[0] if match else None
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _key_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line of the key itself for an unknown key (its value node may not exist in the model)."""
    parent = root
    for part in loc[:-1]:
        if not isinstance(parent, yaml.MappingNode):
            return None
        match = [v for k, v in parent.value if getattr(k, "value", None) == str(part)]
        parent = match[0] if match else None
    if isinstance(parent, yaml.MappingNode):
        for key, _ in parent.value:
            if getattr(key, "value", None) == str(loc[-1]):
                return key.start_mark.line + 1
    return None


def yaml_tree(text: str, source: str, error: type[ValueError]) -> tuple[yaml.Node | None, Any]:
    """The YAML's node tree (for line numbers) and its data; text that is not YAML raises `error` naming
    the file and line."""
    try:
        return yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise error(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc


def validation_problems(exc: ValidationError, root: yaml.Node | None, source: str) -> list[str]:
    """One line per validation error: file:line, the key path, what was expected and what was found."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key_path = ".".join(str(p) for p in loc) or "(top level)"
        line = _key_line(root, loc) if error["type"] == "extra_forbidden" else _line_of(root, loc)
        where = f"{source}:{line}" if line else source
        if error["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key '{key_path}'")
        else:
            hint = " - true or false, unquoted" if error["type"] in ("bool_type", "bool_parsing") else ""
            message = error["msg"].removeprefix("Value error, ")
            got = "" if error["type"] == "credential_in_config" else f" (got {error.get('input')!r})"  # no secret echoed
            problems.append(f"{where}: key '{key_path}': {message}{hint}{got}")
    return problems


def parse_config(text: str, source: str) -> LumenConfig:
    """Validate YAML text as a LumenConfig; `source` names the file in error messages."""
    root, data = yaml_tree(text, source, ConfigError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level, got {type(data).__name__}")
    try:
        return LumenConfig.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, root, source)
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems)) from None


def load_config(path: Path | str | None = None) -> LumenConfig:
    """Read and validate one config file (default: the project's config/lumen.yaml, else built-in defaults)."""
    if path is None:
        if not PROJECT_CONFIG.exists():
            return LumenConfig()
        path = PROJECT_CONFIG
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    return parse_config(text, str(path))


def resolve_config_path(workspace: Path | str, explicit: Path | str | None = None) -> Path | None:
    """`--config` > `WORKSPACE/lumen.yaml` > the project's config/lumen.yaml (None: built-in defaults)."""
    if explicit:
        return Path(explicit)
    local = Path(workspace) / "lumen.yaml"
    if local.exists():
        return local
    return PROJECT_CONFIG if PROJECT_CONFIG.exists() else None
