"""controls/rules_history.jsonl: the append-only log of rule changes (seed segA C16).

Each good line becomes a RuleEvent with a readable, unique and stable id: its time in UTC and its rule,
`2025-10-23T12:40:00Z_risk_max` (sub-seconds only when present), so an operator finds an event by when and
what. A second event with the same time and rule gets a short hash of its content appended
(`..._risk_max_3fa9c1`); the first keeps the plain key, so ids never change as the history grows. The seed
keyed on the raw ts string; earlier Lumen versions on a content hash, kept as `content_id` (exact duplicate
lines are found by it, and `migrate_event_ids` rewrites stored records from it). A bad line is quarantined with its line number and reason and never stops the others (the
seed's json.loads crashed the whole run).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumen_assets.ingest.timestamps import TimestampError, parse_timestamp

REQUIRED_FIELDS = ("ts", "rule", "new")


@dataclass(frozen=True)
class RulePolicy:
    """What a well-formed event must also satisfy to be used: a rule the config knows, and a timestamp not
    further in the future than the loop's clocks can disagree (config `rules.known`, `rules.max_future_s`).
    `now` defaults to the time of the read."""

    known_rules: frozenset[str] | None = None  # None: any rule name is accepted
    max_future_s: float | None = None  # None: no bound
    now: datetime | None = None

    def violation(self, event: RuleEvent, now: datetime) -> str | None:
        if self.known_rules is not None and event.rule not in self.known_rules:
            known = ", ".join(sorted(self.known_rules)) or "none"
            return f"unknown rule {event.rule!r} (known: {known}; list it under rules.known in the config)"
        if self.max_future_s is not None:
            ahead_s = (event.ts - now).total_seconds()
            if ahead_s > self.max_future_s:
                return (f"timestamp {event.ts_text} is {ahead_s:.0f} s in the future "
                        f"(more than rules.max_future_s = {self.max_future_s:g} s)")
        return None


@dataclass(frozen=True)
class RuleEvent:
    """One rule change as the loop (or tuner, or rollback) recorded it."""

    event_id: str  # readable key: UTC time and rule (see module docstring)
    ts: datetime
    ts_text: str
    actor: str
    rule: str
    old: float | None
    new: float
    note: str
    line_no: int
    content_id: str = ""  # sha256 of the canonical line (the id earlier versions used)

    def as_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "ts": self.ts_text,
            "actor": self.actor,
            "rule": self.rule,
            "old": self.old,
            "new": self.new,
            "note": self.note,
            "line_no": self.line_no,
        }


@dataclass(frozen=True)
class QuarantinedLine:
    line_no: int
    reason: str
    text: str


@dataclass
class ParsedRules:
    events: list[RuleEvent] = field(default_factory=list)
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    incomplete_tail: str = ""  # a last line still being written (no newline, not yet valid JSON)

    def by_id(self) -> dict[str, RuleEvent]:
        return {event.event_id: event for event in self.events}


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def event_key(ts: datetime, rule: str) -> str:
    """`2025-10-23T12:40:00Z_risk_max`: the event's UTC time (sub-seconds only when present) and rule."""
    utc = ts.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return f"{utc:%Y-%m-%dT%H:%M:%S}{fraction}Z_{_UNSAFE.sub('-', rule) or 'rule'}"


def content_id_of(record: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the line's content (key order and spacing ignored)."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _number(record: dict[str, Any], key: str, required: bool) -> float | None:
    value = record.get(key)
    if value is None:
        if required:
            raise ValueError(f"missing '{key}'")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{key}' must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"'{key}' must be finite, got {value!r}")
    return float(value)


def parse_rule_line(text: str, line_no: int) -> RuleEvent:
    """Parse one JSONL line; raise ValueError with the reason when it is not a usable rule event."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_FIELDS if key not in record or record[key] in (None, "")]
    if missing:
        raise ValueError("missing " + ", ".join(f"'{key}'" for key in missing))
    try:
        ts = parse_timestamp(record["ts"])
    except TimestampError as exc:
        raise ValueError(str(exc)) from None
    rule = record["rule"]
    if not isinstance(rule, str):
        raise ValueError(f"'rule' must be a string, got {rule!r}")
    new = _number(record, "new", required=True)
    old = _number(record, "old", required=False)
    actor, note = record.get("actor", ""), record.get("note", "")
    if not isinstance(actor, str) or not isinstance(note, str):
        raise ValueError("'actor' and 'note' must be strings when present")
    assert new is not None
    return RuleEvent(
        event_id=event_key(ts, rule),
        content_id=content_id_of(record),
        ts=ts,
        ts_text=record["ts"],
        actor=actor,
        rule=rule,
        old=old,
        new=new,
        note=note,
        line_no=line_no,
    )


def parse_rule_lines(lines: list[str], first_line_no: int = 1, policy: RulePolicy | None = None,
                     taken_ids: set[str] | None = None) -> ParsedRules:
    """Parse complete lines; blank lines are skipped, an event seen twice is quarantined as a duplicate, and
    an event that breaks `policy` (unknown rule, timestamp too far in the future) is quarantined with why.
    `taken_ids`: ids of events before these lines (a tailing reader), so a same-time same-rule event
    still gets its disambiguating suffix."""
    parsed = ParsedRules()
    now = (policy.now if policy and policy.now else None) or datetime.now(UTC)
    seen: dict[str, int] = {}
    taken = set(taken_ids or ())
    for offset, raw in enumerate(lines):
        line_no = first_line_no + offset
        text = raw.strip()
        if not text:
            continue
        try:
            event = parse_rule_line(text, line_no)
        except ValueError as exc:
            parsed.quarantined.append(QuarantinedLine(line_no, str(exc), text[:500]))
            continue
        reason = policy.violation(event, now) if policy else None
        if reason:
            parsed.quarantined.append(QuarantinedLine(line_no, reason, text[:500]))
            continue
        if event.content_id in seen:
            parsed.quarantined.append(
                QuarantinedLine(line_no, f"duplicate of line {seen[event.content_id]}", text[:500])
            )
            continue
        seen[event.content_id] = line_no
        if event.event_id in taken:
            event = replace(event, event_id=f"{event.event_id}_{event.content_id[:6]}")
        taken.add(event.event_id)
        parsed.events.append(event)
    return parsed


_PARSED: dict[Path, tuple[tuple[object, ...], ParsedRules]] = {}  # one entry per file, see read_rule_events


def read_rule_events(path: Path | str, policy: RulePolicy | None = None) -> ParsedRules:
    """Read the whole rules history. A missing file is an empty history. A last line without its
    newline counts when it is already a whole JSON object; otherwise it is still being written and is
    reported as `incomplete_tail`, not quarantined.

    One `lumen run` reads the history in rule_events, rule_effects and its checks (100,000 events: ~1 s
    each, issue 16 §1), so the last parse of each file is kept for the process and reused while the file's
    identity, size and mtime and the policy are the same, unless a line was refused as too far in the future
    (time moves on; that line may be valid now). The bytes' sha256 is the key (~10 ms for 11 MB, against
    ~1 s to parse them), so a rewrite within the file system's mtime granularity is never missed. Callers
    get their own lists."""
    path = Path(path)
    if not path.exists():
        return ParsedRules()
    data = path.read_bytes()
    key = (hashlib.sha256(data).digest(), policy and policy.known_rules, policy and policy.max_future_s,
           policy and policy.now)
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == key:
        return _copy(cached[1])
    parsed = _parse_history(data, policy)
    if not any("in the future" in q.reason for q in parsed.quarantined):
        _PARSED[path] = (key, _copy(parsed))
    return parsed


def _copy(parsed: ParsedRules) -> ParsedRules:
    return replace(parsed, events=list(parsed.events), quarantined=list(parsed.quarantined))


def _parse_history(data: bytes, policy: RulePolicy | None) -> ParsedRules:
    lines = data.decode("utf-8", errors="replace").split("\n")
    tail = lines.pop() if lines else ""
    if tail.strip():
        try:
            json.loads(tail)
            lines.append(tail)
            tail = ""
        except json.JSONDecodeError:
            pass
    parsed = parse_rule_lines(lines, policy=policy)
    parsed.incomplete_tail = tail.strip()
    return parsed


event_id_of = content_id_of  # the pre-readable-key name, for callers that hash a record


def legacy_id_map(events: list[RuleEvent]) -> dict[str, str]:
    """Content-hash id (earlier versions) -> readable id, for migrating stored records."""
    return {event.content_id: event.event_id for event in events if event.content_id != event.event_id}


def event_day(event: RuleEvent, tz) -> str:
    """The reporting day (configured timezone) an event belongs to: its `rule_effects` partition."""
    return event.ts.astimezone(tz).date().isoformat()
