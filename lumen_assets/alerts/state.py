"""The alert state machine: one alert when a check starts failing, one "resolved" when it passes again.

Only failing keys (asset, check, partition) are stored, so the state stays as small as the set of open
problems and fits in a sensor cursor. A repeated failure or a severity change while failing sends nothing
(seed C8 asked Alertmanager for >= 10 min de-duplication; here it is exact). The rate limiter is a sliding
window over delivery times shared by both alert sensors; a firing alert it suppresses is remembered as
unsent, and its resolution is then suppressed too (nothing was announced, nothing to resolve).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

SEVERITY_RANK = {"WARN": 1, "ERROR": 2}


@dataclass(frozen=True)
class CheckOutcome:
    """One asset-check evaluation, reduced to what an alert may show."""

    asset_key: str
    check_name: str
    partition: str | None
    passed: bool
    severity: str
    run_id: str | None
    storage_id: int
    timestamp: float
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.asset_key}:{self.check_name}:{self.partition or ''}"


@dataclass(frozen=True)
class Transition:
    """A change worth telling someone about."""

    kind: Literal["firing", "resolved"]
    outcome: CheckOutcome
    since: float | None = None  # when the failure began (for "resolved")


@dataclass
class AlertState:
    """Open failures by key: {"since": ts, "severity": ..., "sent": bool}."""

    failing: dict[str, dict[str, Any]] = field(default_factory=dict)

    def observe(self, outcome: CheckOutcome, min_severity: str = "WARN") -> Transition | None:
        key = outcome.key
        if not outcome.passed:
            if key in self.failing:
                return None
            if SEVERITY_RANK.get(outcome.severity, 2) < SEVERITY_RANK[min_severity]:
                return None
            self.failing[key] = {"since": outcome.timestamp, "severity": outcome.severity, "sent": False}
            return Transition("firing", outcome)
        entry = self.failing.pop(key, None)
        if entry is None:
            return None
        if not entry.get("sent"):
            return None  # its firing alert was never delivered (rate limit): stay silent
        return Transition("resolved", outcome, since=entry["since"])

    def mark_sent(self, key: str) -> None:
        if key in self.failing:
            self.failing[key]["sent"] = True

    def to_json(self) -> dict[str, Any]:
        return {"failing": self.failing}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AlertState:
        return cls(failing=dict((data or {}).get("failing", {})))


@dataclass
class RateLimiter:
    """Sliding window: at most `max_alerts` deliveries in any `window_s` seconds."""

    max_alerts: int
    window_s: float
    sent: list[float] = field(default_factory=list)
    suppressed: int = 0

    def allow(self, now: float) -> bool:
        self.sent = [t for t in self.sent if now - t < self.window_s]
        if len(self.sent) >= self.max_alerts:
            self.suppressed += 1
            return False
        self.sent.append(now)
        return True

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "suppressed": self.suppressed}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, max_alerts: int, window_s: float) -> RateLimiter:
        data = data or {}
        return cls(max_alerts, window_s, [float(t) for t in data.get("sent", [])], int(data.get("suppressed", 0)))


def replay(outcomes: Iterable[CheckOutcome], state: AlertState | None = None) -> list[Transition]:
    """Feed outcomes in storage order; returns the transitions (everything assumed delivered)."""
    state = state or AlertState()
    transitions = []
    for outcome in outcomes:
        transition = state.observe(outcome)
        if transition is not None:
            transitions.append(transition)
            state.mark_sent(outcome.key)
    return transitions
