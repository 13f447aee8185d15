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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumen_assets.digests import prefix_unchanged
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
    return _apply(_parse_lines(lines, first_line_no), policy, lambda line_no: lines[line_no - first_line_no],
                  taken_ids)


# One line as parsed on its own, before the policy, duplicates and ids are settled: (line_no, event, None, None)
# or (line_no, None, reason, text). An event's id here is its readable key without any suffix.
_Line = tuple[int, "RuleEvent | None", "str | None", "str | None"]


def _parse_lines(lines: list[str], first_line_no: int = 1) -> list[_Line]:
    parsed: list[_Line] = []
    for offset, raw in enumerate(lines):
        text = raw.strip()
        if not text:
            continue
        try:
            parsed.append((first_line_no + offset, parse_rule_line(text, first_line_no + offset), None, None))
        except ValueError as exc:
            parsed.append((first_line_no + offset, None, str(exc), text[:500]))
    return parsed


def _apply(lines: list[_Line], policy: RulePolicy | None, text_of: Callable[[int], str],
           taken_ids: set[str] | None = None) -> ParsedRules:
    """Policy, duplicates and ids over parsed lines; `text_of(line_no)` gives a line's text for the
    quarantine (only asked for a refused line)."""
    parsed = ParsedRules()
    now = (policy.now if policy and policy.now else None) or datetime.now(UTC)
    seen: dict[str, int] = {}
    taken = set(taken_ids or ())
    for line_no, event, problem, text in lines:
        if event is None:
            parsed.quarantined.append(QuarantinedLine(line_no, problem or "unreadable", text or ""))
            continue
        reason = policy.violation(event, now) if policy else None
        if reason or event.content_id in seen:
            reason = reason or f"duplicate of line {seen[event.content_id]}"
            parsed.quarantined.append(QuarantinedLine(line_no, reason, text_of(line_no).strip()[:500]))
            continue
        seen[event.content_id] = line_no
        if event.event_id in taken:
            event = replace(event, event_id=f"{event.event_id}_{event.content_id[:6]}")
        taken.add(event.event_id)
        parsed.events.append(event)
    return parsed


_PARSED: dict[Path, tuple[bytes, list[_Line], str]] = {}  # per file: (sha256, its lines parsed, its tail)
_APPLIED: dict[Path, tuple[tuple[object, ...], ParsedRules]] = {}  # per file: the last read's policy and result
CACHE_VERSION = 1


def read_rule_events(path: Path | str, policy: RulePolicy | None = None, cache: Path | None = None) -> ParsedRules:
    """Read the whole rules history. A missing file is an empty history. A last line without its
    newline counts when it is already a whole JSON object; otherwise it is still being written and is
    reported as `incomplete_tail`, not quarantined.

    A year is 100,000 events (~1 s to parse) and every rule event's run reads them in rule_events,
    rule_effects, its checks and at code-location load (issue 16 §1). The history is append-only, so the
    lines are parsed once: kept for the process while the bytes' sha256 is the same (~10 ms for 11 MB), and
    with `cache` (a file in the state folder) across processes too, as the parsed lines with the length and
    sha256 of the bytes they came from; a later read parses only the lines after those bytes, and reads
    everything again when they no longer hash the same (the file was edited, truncated or replaced). The
    policy (known rules, the future bound), duplicates and ids are applied on every read. Callers get
    their own lists."""
    path = Path(path)
    if not path.exists():
        return ParsedRules()
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()
    known = _PARSED.get(path)
    if known is not None and known[0] == digest:
        lines, tail = known[1], known[2]
    else:
        lines, tail = _parse_bytes(data, cache)
        _PARSED[path] = (digest, lines, tail)
    split: list[str] = []

    def text_of(line_no: int) -> str:
        if not split:
            split.extend(data.decode("utf-8", errors="replace").split("\n"))
        return split[line_no - 1]

    policy_key = (digest, policy and policy.known_rules, policy and policy.max_future_s, policy and policy.now)
    applied = _APPLIED.get(path)
    if applied is not None and applied[0] == policy_key:
        return _copy(applied[1])
    parsed = _apply(lines, policy, text_of)
    parsed.incomplete_tail = tail
    if not any("in the future" in q.reason for q in parsed.quarantined):  # time moves on: such a line may
        _APPLIED[path] = (policy_key, _copy(parsed))                        # be valid at the next read
    return parsed


def _copy(parsed: ParsedRules) -> ParsedRules:
    return replace(parsed, events=list(parsed.events), quarantined=list(parsed.quarantined))


def _parse_bytes(data: bytes, cache: Path | None) -> tuple[list[_Line], str]:
    complete = data.rfind(b"\n") + 1
    lines, line_no, length = _load_cache(cache, data[:complete]) if cache is not None else ([], 0, 0)
    fresh = data[length:complete].decode("utf-8", errors="replace").split("\n")[:-1]
    if fresh:
        cached = len(lines)
        lines = lines + _parse_lines(fresh, line_no + 1)
        if cache is not None:
            _save_cache(cache, lines, cached, line_no + len(fresh), data[:complete])
    tail = data[complete:].decode("utf-8", errors="replace")
    if tail.strip():
        try:
            json.loads(tail)
            return lines + _parse_lines([tail], line_no + len(fresh) + 1), ""
        except json.JSONDecodeError:
            pass
    return lines, tail.strip()


def _row_json(line: _Line) -> bytes:
    line_no, event, problem, text = line
    row = None if event is None else [event.event_id, event.ts.isoformat(), event.ts_text, event.actor, event.rule,
                                      event.old, event.new, event.note, event.content_id]
    return json.dumps([line_no, row, problem, text], ensure_ascii=False, separators=(",", ":")).encode() + b",\n"


# The cache file: a header line {version, length, sha256, line_no, rows} (what it covers), then one parsed line
# per text line, each ending ",\n", so a save copies the earlier rows' bytes and adds the new ones, and a load
# parses them all with one json.loads.
def _load_cache(cache: Path, complete: bytes) -> tuple[list[_Line], int, int]:
    """(lines, line count, byte length) of the cached prefix of `complete`, or nothing when it is stale."""
    try:
        raw = cache.read_bytes()
        header_end = raw.index(b"\n") + 1
        saved = json.loads(raw[:header_end])
        length = int(saved["length"])
        if saved["version"] != CACHE_VERSION or not prefix_unchanged(complete, length, saved["sha256"]):
            return [], 0, 0
        rows = json.loads(b"[" + raw[header_end:].rstrip(b",\n") + b"]")
        if len(rows) != saved["rows"]:
            return [], 0, 0
        lines: list[_Line] = []
        for line_no, row, problem, text in rows:
            event = None
            if row is not None:
                event_id, iso, ts_text, actor, rule, old, new, note, content_id = row
                event = RuleEvent(event_id, datetime.fromisoformat(iso), ts_text, actor, rule, old, new, note,
                                  line_no, content_id)
            lines.append((line_no, event, problem, text))
        return lines, int(saved["line_no"]), length
    except (OSError, ValueError, KeyError, TypeError):
        return [], 0, 0  # none yet, or unreadable: parse the whole file


def _save_cache(cache: Path, lines: list[_Line], cached: int, line_no: int, complete: bytes) -> None:
    """Write the cache for `complete` (its first `cached` parsed lines are already in the cache file)."""
    from lumen_assets.atomic import atomic_open

    header = json.dumps({"version": CACHE_VERSION, "length": len(complete), "rows": len(lines),
                         "sha256": hashlib.sha256(complete).hexdigest(), "line_no": line_no}).encode() + b"\n"
    try:
        old = cache.read_bytes() if cached else b""
        kept = old[old.index(b"\n") + 1:] if old else b""
        with atomic_open(cache, "wb") as handle:
            handle.write(header)
            handle.write(kept)
            handle.writelines(_row_json(line) for line in lines[cached:])
    except (OSError, ValueError):
        pass  # a read-only state folder: the next read parses again


event_id_of = content_id_of  # the pre-readable-key name, for callers that hash a record


def legacy_id_map(events: list[RuleEvent]) -> dict[str, str]:
    """Content-hash id (earlier versions) -> readable id, for migrating stored records."""
    return {event.content_id: event.event_id for event in events if event.content_id != event.event_id}


def event_day(event: RuleEvent, tz) -> str:
    """The reporting day (configured timezone) an event belongs to: its `rule_effects` partition."""
    return event.ts.astimezone(tz).date().isoformat()
