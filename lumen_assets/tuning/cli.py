"""`lumen rollback [EVENT_ID] --workspace DIR`: append the event that undoes a rule change.

Seed rules_rollback.py (segB §0.3) reverted the last event and wrote `new: null` for the tuner's
events that had no `old`; here any event can be named by id (or a unique prefix), an event without a
numeric `old` is refused, and rolling back past later changes of the same rule needs --force.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rollback", help="append a compensating rule event (undo a rule change)")
    parser.add_argument("event_id", nargs="?", help="event id or unique prefix (default: the newest event)")
    parser.add_argument("--workspace", default=".", help="the workspace folder (default: .)")
    parser.add_argument("--config", default=None, help="config file (default: WORKSPACE/lumen.yaml, then project's)")
    parser.add_argument("--actor", default="lumen-rollback", help="actor written on the event")
    parser.add_argument("--force", action="store_true", help="roll back even if later changes of the rule exist")
    parser.add_argument("--dry-run", action="store_true", help="print the event, do not append it")
    parser.set_defaults(func=run_rollback)


def run_rollback(args: argparse.Namespace) -> int:
    from lumen_assets.config import ConfigError, load_config, resolve_config_path
    from lumen_assets.ingest.rules import read_rule_events
    from lumen_assets.tuning.changes import RollbackError, append_rule_events, compensating_event

    workspace = Path(args.workspace)
    try:
        config = load_config(resolve_config_path(workspace, args.config))
    except ConfigError as exc:
        print(f"lumen rollback: {exc}", file=sys.stderr)
        return 2
    history = workspace / config.paths.rules_history
    parsed = read_rule_events(history)
    try:
        record = compensating_event(parsed.events, args.event_id, datetime.now(tz=config.tz), args.actor, args.force)
    except RollbackError as exc:
        print(f"lumen rollback: {history}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(record, ensure_ascii=False))
    if not args.dry_run:
        append_rule_events(history, [record])
    return 0
