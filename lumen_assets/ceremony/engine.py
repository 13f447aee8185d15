"""A rehearsal: a scenario walked step by step, every anomaly answered with actions, the quiz answered, all
of it scored (seed segD §6.4-§6.6, with its bugs fixed).

The seed honoured only `anomalies[0]`, never scored the chosen actions, scored short answers with two
hard-coded substrings against a hard-coded maximum of 2, and wrote rehearsal files that named no scenario.
Here: every anomaly is raised at its step; each earns `points × max(0, (right − wrong) / expected)` where
right is how many expected actions were chosen and wrong how many wrong ones; a multiple-choice answer
earns its weight; a short answer earns the points of each pattern it matches, up to its weight. A rehearsal
passes at `passing.min_score` of all points, and not at all when a critical anomaly was mishandled (an
expected action missing or a wrong one chosen). Interactive (the TUI) and scripted (`--answers FILE`)
rehearsals produce the same `Responses` and go through the same scoring. Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lumen_assets.atomic import atomic_write_text
from lumen_assets.ceremony.settings import CeremonyConfig, Scenario


class AnswersError(ValueError):
    """An answers file that cannot be used; names the file and the key."""


@dataclass
class Responses:
    """What the trainee answered: actions per anomaly id, and quiz answers per question id."""

    trainee: str
    scenario: str
    actions: dict[str, list[str]] = field(default_factory=dict)
    quiz: dict[str, Any] = field(default_factory=dict)
    witnesses: list[str] = field(default_factory=list)


def read_answers(path: Path, config: CeremonyConfig) -> Responses:
    """An answers file (YAML or JSON): trainee, scenario, actions {anomaly: [action, ...]}, quiz {id: answer}."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnswersError(f"{path}: cannot read answers: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise AnswersError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AnswersError(f"{path}: expected a mapping with trainee, scenario, actions, quiz")
    unknown = set(data) - {"trainee", "scenario", "actions", "quiz", "witnesses"}
    if unknown:
        raise AnswersError(f"{path}: unknown keys {sorted(unknown)}")
    for key in ("trainee", "scenario"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise AnswersError(f"{path}: key '{key}' must be a non-empty string")
    scenario = config.scenario(data["scenario"])
    actions = data.get("actions") or {}
    if not isinstance(actions, dict):
        raise AnswersError(f"{path}: key 'actions' must map anomaly ids to lists of actions")
    anomaly_ids = {a.id for a in scenario.anomalies}
    for anomaly_id, chosen in actions.items():
        if anomaly_id not in anomaly_ids:
            raise AnswersError(f"{path}: key 'actions.{anomaly_id}': scenario {scenario.id} has no such anomaly "
                               f"(it has {sorted(anomaly_ids) or 'none'})")
        chosen = [chosen] if isinstance(chosen, str) else chosen
        if not isinstance(chosen, list) or any(a not in config.actions for a in chosen):
            raise AnswersError(f"{path}: key 'actions.{anomaly_id}': expected a list of {sorted(config.actions)}")
        actions[anomaly_id] = chosen
    quiz = data.get("quiz") or {}
    if not isinstance(quiz, dict):
        raise AnswersError(f"{path}: key 'quiz' must map question ids to answers")
    known = {q.id for q in [*config.quiz.multiple_choice, *config.quiz.short_answer]}
    for question in quiz:
        if question not in known:
            raise AnswersError(f"{path}: key 'quiz.{question}': no such question (known: {sorted(known)})")
    witnesses = data.get("witnesses") or []
    if not isinstance(witnesses, list) or not all(isinstance(w, str) for w in witnesses):
        raise AnswersError(f"{path}: key 'witnesses' must be a list of names")
    return Responses(data["trainee"].strip(), scenario.id, actions, quiz, witnesses)


@dataclass(frozen=True)
class StepEvent:
    step: str
    text: str
    anomaly: str | None = None  # the anomaly raised at this step, if any


def walk(scenario: Scenario, config: CeremonyConfig) -> list[StepEvent]:
    """The scenario's steps in order; each anomaly raised at its own step (all of them, not only the first)."""
    events = []
    for step in scenario.steps:
        events.append(StepEvent(step, config.steps[step]))
        for anomaly in scenario.anomalies:
            if anomaly.at_step == step:
                events.append(StepEvent(step, anomaly.message, anomaly.id))
    return events


@dataclass(frozen=True)
class AnomalyScore:
    anomaly: str
    type: str
    chosen: list[str]
    expected: list[str]
    right: list[str]
    missing: list[str]
    wrong: list[str]
    points: float
    max_points: float
    critical: bool

    @property
    def handled(self) -> bool:
        return not self.missing and not self.wrong


@dataclass(frozen=True)
class QuestionScore:
    question: str
    kind: str
    answer: Any
    points: float
    max_points: float
    matched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RehearsalResult:
    scenario: str
    title: str
    trainee: str
    anomalies: list[AnomalyScore]
    questions: list[QuestionScore]
    points: float
    max_points: float
    passed: bool
    reasons: list[str]

    @property
    def score(self) -> float:
        return self.points / self.max_points if self.max_points else 1.0


def score_anomaly(anomaly: Any, chosen: list[str]) -> AnomalyScore:
    chosen = list(dict.fromkeys(chosen))
    right = [a for a in anomaly.expected_actions if a in chosen]
    missing = [a for a in anomaly.expected_actions if a not in chosen]
    wrong = [a for a in chosen if a in anomaly.wrong_actions]
    share = max(0.0, (len(right) - len(wrong)) / len(anomaly.expected_actions))
    return AnomalyScore(anomaly.id, anomaly.type, chosen, list(anomaly.expected_actions), right, missing, wrong,
                        round(anomaly.points * share, 4), anomaly.points, anomaly.critical)


def score_quiz(config: CeremonyConfig, answers: dict[str, Any]) -> list[QuestionScore]:
    scores = []
    for question in config.quiz.multiple_choice:
        given = answers.get(question.id)
        index = given if isinstance(given, int) else (question.choices.index(given) if given in question.choices else None)
        if isinstance(given, str) and given.strip().isdigit():
            index = int(given.strip())
        points = question.weight if index == question.answer else 0.0
        scores.append(QuestionScore(question.id, "multiple_choice", given, points, question.weight))
    for question in config.quiz.short_answer:
        text = str(answers.get(question.id) or "")
        matched = [p.pattern for p in question.patterns if re.search(p.pattern, text, re.IGNORECASE)]
        earned = sum(p.points for p in question.patterns if p.pattern in matched)
        scores.append(QuestionScore(question.id, "short_answer", text, min(earned, question.weight), question.weight, matched))
    return scores


def score_rehearsal(config: CeremonyConfig, responses: Responses) -> RehearsalResult:
    scenario = config.scenario(responses.scenario)
    anomalies = [score_anomaly(a, responses.actions.get(a.id, [])) for a in scenario.anomalies]
    questions = score_quiz(config, responses.quiz)
    points = sum(a.points for a in anomalies) + sum(q.points for q in questions)
    max_points = sum(a.max_points for a in anomalies) + sum(q.max_points for q in questions)
    share = points / max_points if max_points else 1.0
    reasons = []
    if share < config.passing.min_score:
        reasons.append(f"score {share:.0%} is below the pass mark {config.passing.min_score:.0%}")
    for anomaly in anomalies:
        if anomaly.critical and not anomaly.handled:
            detail = ", ".join([*(f"missing {a}" for a in anomaly.missing), *(f"wrong {a}" for a in anomaly.wrong)])
            reasons.append(f"critical anomaly {anomaly.anomaly} mishandled ({detail})")
    return RehearsalResult(scenario.id, scenario.title, responses.trainee, anomalies, questions,
                           round(points, 4), round(max_points, 4), not reasons, reasons)


def config_digest(config: CeremonyConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


def write_rehearsal_log(artifacts_dir: Path, config: CeremonyConfig, responses: Responses, result: RehearsalResult,
                        started: dt.datetime, finished: dt.datetime, mode: str) -> Path:
    """custody/sim/artifacts/rehearsal_<scenario>_<UTC stamp>.json: linked to its scenario by name and content
    (the seed's files named no scenario, segD §6.6 #4). Never overwrites."""
    scenario = config.scenario(responses.scenario)
    stamp = finished.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(artifacts_dir) / f"rehearsal_{scenario.id}_{stamp}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(artifacts_dir) / f"rehearsal_{scenario.id}_{stamp}_{suffix}.json"
    document = {
        "kind": "lumen.ceremony.rehearsal/v1",
        "scenario": {"id": scenario.id, "title": scenario.title, "steps": scenario.steps,
                     "anomalies": [a.id for a in scenario.anomalies]},
        "trainee": responses.trainee,
        "witnesses": responses.witnesses,
        "mode": mode,
        "started_utc": started.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "finished_utc": finished.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "events": [asdict(e) for e in walk(scenario, config)],
        "anomalies": [{**asdict(a), "handled": a.handled} for a in result.anomalies],
        "quiz": [asdict(q) for q in result.questions],
        "points": result.points,
        "max_points": result.max_points,
        "score": round(result.score, 4),
        "passed": result.passed,
        "reasons": result.reasons,
        "ceremony_config_sha256": config_digest(config),
    }
    atomic_write_text(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    return path
