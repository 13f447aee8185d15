"""config/ceremony.yaml: the simulator's steps, actions, scenarios, quiz and pass mark, validated once at load.

The seed (segD §6.2-§6.3) kept scenarios in YAML and the quiz in JSON with nothing checking either: a typo in
a step id printed "undefined step" mid-rehearsal, only `anomalies[0]` was ever used, short answers had one
hard-coded question worth a hard-coded 2 points. Here everything is one validated file: every step and action
named in a scenario must exist, each anomaly sits at a step of its scenario, every regex compiles, every
answer index is inside its choices; errors name the file, key path and line, as for lumen.yaml.
Pure module: no dagster import.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from lumen_assets.config import validation_problems, yaml_tree
from lumen_assets.section import Section

PROJECT_CEREMONY = Path(__file__).resolve().parents[2] / "config" / "ceremony.yaml"
_ID = r"^[A-Za-z][A-Za-z0-9_]*$"


class CeremonyConfigError(ValueError):
    """A ceremony file that cannot be used; the message names file, key path and line."""


class Anomaly(Section):
    """An injected problem at one step, with the actions that handle it (seed: type + message only)."""

    id: str = Field("", description="unique in its scenario; default: the type")
    type: str = Field(pattern=_ID)
    at_step: str
    message: str = Field(min_length=1)
    expected_actions: list[str] = Field(min_length=1)
    wrong_actions: list[str] = Field(default_factory=list)
    points: float = Field(1.0, gt=0)
    critical: bool = False

    @model_validator(mode="after")
    def _default_id(self) -> Anomaly:
        if not self.id:
            object.__setattr__(self, "id", self.type)
        overlap = set(self.expected_actions) & set(self.wrong_actions)
        if overlap:
            raise ValueError(f"actions both expected and wrong: {sorted(overlap)}")
        return self


class Scenario(Section):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    steps: list[str] = Field(min_length=1)
    anomalies: list[Anomaly] = Field(default_factory=list)

    @model_validator(mode="after")
    def _anomalies_at_own_steps(self) -> Scenario:
        ids = [a.id for a in self.anomalies]
        if len(set(ids)) != len(ids):
            raise ValueError(f"anomaly ids must be unique in a scenario, got {ids}")
        for anomaly in self.anomalies:
            if anomaly.at_step not in self.steps:
                raise ValueError(f"anomaly {anomaly.id!r} is at step {anomaly.at_step!r}, which this scenario does not have")
        return self


class MultipleChoice(Section):
    id: str = Field(pattern=_ID)
    q: str = Field(min_length=1)
    choices: list[str] = Field(min_length=2)
    answer: int = Field(ge=0, description="0-based index into choices (seed)")
    weight: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _answer_in_range(self) -> MultipleChoice:
        if self.answer >= len(self.choices):
            raise ValueError(f"answer {self.answer} is outside choices 0..{len(self.choices) - 1}")
        return self


class Pattern(Section):
    pattern: str = Field(min_length=1)
    points: float = Field(1.0, gt=0)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class ShortAnswer(Section):
    id: str = Field(pattern=_ID)
    q: str = Field(min_length=1)
    patterns: list[Pattern] = Field(min_length=1)
    weight: float = Field(gt=0, description="the most this question earns (seed: a hard-coded 2)")


class Quiz(Section):
    multiple_choice: list[MultipleChoice] = Field(default_factory=list)
    short_answer: list[ShortAnswer] = Field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(q.weight for q in self.multiple_choice) + sum(q.weight for q in self.short_answer)


class Passing(Section):
    min_score: float = Field(0.8, gt=0, le=1, description="share of all points (actions and quiz)")


class CeremonyConfig(Section):
    version: int = Field(1, ge=1, le=1)
    steps: dict[str, str] = Field(min_length=1)
    actions: dict[str, str] = Field(min_length=1)
    scenarios: list[Scenario] = Field(min_length=1)
    quiz: Quiz = Quiz()
    passing: Passing = Passing()

    @model_validator(mode="after")
    def _known_names(self) -> CeremonyConfig:
        problems = []
        seen: set[str] = set()
        for index, scenario in enumerate(self.scenarios):
            if scenario.id in seen:
                problems.append(f"scenarios[{index}]: duplicate scenario id {scenario.id!r}")
            seen.add(scenario.id)
            unknown = [s for s in scenario.steps if s not in self.steps]
            if unknown:
                problems.append(f"scenarios[{index}] ({scenario.id}): unknown steps {unknown}")
            for anomaly in scenario.anomalies:
                bad = [a for a in [*anomaly.expected_actions, *anomaly.wrong_actions] if a not in self.actions]
                if bad:
                    problems.append(f"scenarios[{index}] ({scenario.id}) anomaly {anomaly.id}: unknown actions {bad}")
        quiz_ids = [q.id for q in [*self.quiz.multiple_choice, *self.quiz.short_answer]]
        if len(set(quiz_ids)) != len(quiz_ids):
            problems.append(f"quiz: question ids must be unique, got {quiz_ids}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def scenario(self, scenario_id: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise CeremonyConfigError(
            f"unknown scenario {scenario_id!r}; known: {', '.join(s.id for s in self.scenarios)}"
        )


def parse_ceremony(text: str, source: str) -> CeremonyConfig:
    """Validate YAML text as a CeremonyConfig; `source` names the file in error messages."""
    root, data = yaml_tree(text, source, CeremonyConfigError)
    if not isinstance(data, dict):
        raise CeremonyConfigError(f"{source}: expected a mapping (version, steps, actions, scenarios, quiz, passing)")
    try:
        return CeremonyConfig.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, root, source)
        raise CeremonyConfigError("invalid ceremony config:\n  " + "\n  ".join(problems)) from None


def load_ceremony(path: Path | str | None = None) -> CeremonyConfig:
    path = Path(path) if path else PROJECT_CEREMONY
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CeremonyConfigError(f"{path}: cannot read ceremony config: {exc.strerror}") from exc
    return parse_ceremony(text, str(path))


def resolve_ceremony_path(workspace: Path | None, explicit: str | None) -> Path:
    """`--ceremony FILE` > WORKSPACE/ceremony.yaml > the project's config/ceremony.yaml."""
    if explicit:
        return Path(explicit)
    if workspace is not None and (workspace / "ceremony.yaml").exists():
        return workspace / "ceremony.yaml"
    return PROJECT_CEREMONY
