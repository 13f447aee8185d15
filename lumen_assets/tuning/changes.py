"""Rule events written by Lumen: applied proposals and rollbacks, always with `old` and `new`.

The seed's tuners wrote events without `old`, so its rollback wrote `new: null`; every event here has
both. Appends go through a lock and a whole-file atomic rewrite, so the history is never half-written.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from lumen_assets.atomic import atomic_write_text, file_lock


def rule_event(ts: datetime, actor: str, rule: str, old: float, new: float, note: str) -> dict[str, Any]:
    return {"ts": ts.isoformat(), "actor": actor, "rule": rule, "old": old, "new": new, "note": note}


def append_rule_events(path: Path, records: list[dict[str, Any]]) -> None:
    """Append to controls/rules_history.jsonl (locked; keeps every existing byte as it was)."""
    with file_lock(path):
        existing = path.read_bytes().decode("utf-8") if path.exists() else ""
        if existing and not existing.endswith("\n"):
            existing += "\n"  # a half-written last line stays quarantined, not glued to ours
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        atomic_write_text(path, existing + lines)


class RollbackError(ValueError):
    """The event cannot be rolled back (unknown id, no numeric `old`, or later changes without force)."""


def compensating_event(events: list[Any], event_id: str | None, now: datetime, actor: str,
                       force: bool = False) -> dict[str, Any]:
    """The event that undoes `event_id` (default: the newest event), seed rules_rollback semantics:
    rule = target.rule, new = target.old; `old` is the rule's current value. Refuses an event without a
    numeric `old` (the seed wrote `new: null`) and, unless forced, one that later changes overrode."""
    if not events:
        raise RollbackError("the rules history has no events")
    ordered = sorted(events, key=lambda e: (e.ts, e.line_no))
    if event_id is None:
        target = ordered[-1]
    else:
        matches = [e for e in ordered if e.event_id == event_id or e.event_id.startswith(event_id)]
        if not matches:
            raise RollbackError(f"no rule event with id {event_id!r}")
        if len(matches) > 1:
            raise RollbackError(f"id prefix {event_id!r} matches {len(matches)} events; give more characters")
        target = matches[0]
    if target.old is None:
        raise RollbackError(f"event {target.event_id[:12]} (line {target.line_no}) has no numeric `old`: "
                            "nothing to restore")
    later = [e for e in ordered if e.rule == target.rule and (e.ts, e.line_no) > (target.ts, target.line_no)]
    current = later[-1].new if later else target.new
    if later and not force:
        raise RollbackError(f"{len(later)} later {target.rule} change(s) since event {target.event_id[:12]}; "
                            f"current value is {current}. Use --force to set it back to {target.old} anyway")
    return rule_event(now, actor, target.rule, current, target.old,
                      f"rollback of event {target.event_id[:12]} at {target.ts_text} by {target.actor}")
