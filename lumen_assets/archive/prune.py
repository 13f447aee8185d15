"""Apply (or preview) GFS retention to the local archive and the remote store (seed segC C2, which deleted nothing).

The plan covers the union of local and remote days, so "never remove the newest bundle" holds across both.
Dry-run unless `apply`. Pure module (the store is duck-typed): no dagster import.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from lumen_assets.archive.index import remove_from_index
from lumen_assets.archive.remote import day_of_key
from lumen_assets.archive.retention import RetentionPlan, plan_retention

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ListingStore(Protocol):
    def list_keys(self, prefix: str) -> Iterable[str]: ...

    def delete(self, key: str) -> None: ...


@dataclass
class PruneOutcome:
    plan: RetentionPlan
    local_remove: list[str] = field(default_factory=list)
    remote_remove: dict[str, list[str]] = field(default_factory=dict)  # day -> object keys
    applied: bool = False

    @property
    def all_remove(self) -> list[str]:
        return sorted(set(self.local_remove) | set(self.remote_remove))


def local_days(archive_root: Path) -> list[str]:
    if not archive_root.exists():
        return []
    return sorted(p.name for p in archive_root.iterdir() if p.is_dir() and _DAY.match(p.name))


def remote_days(store: ListingStore | None, prefix: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if store is None:
        return found
    for key in store.list_keys(prefix):
        day = day_of_key(prefix, key)
        if day:
            found.setdefault(day, []).append(key)
    return found


def prune(root: Path, config: Any, store: ListingStore | None, *, today: date, apply: bool) -> PruneOutcome:
    """Plan retention over local + remote days; delete the removal candidates only when `apply`."""
    settings = config.archive
    archive_root = root / settings.archive_dir
    local = local_days(archive_root)
    remote = remote_days(store, settings.store.prefix)
    every_day = {date.fromisoformat(d) for d in [*local, *remote]}
    retention = settings.retention
    plan = plan_retention(every_day, today, retention.keep_days, retention.keep_weekly, retention.keep_monthly)
    doomed = {d.isoformat() for d in plan.remove}
    outcome = PruneOutcome(
        plan=plan,
        local_remove=[d for d in local if d in doomed],
        remote_remove={d: keys for d, keys in sorted(remote.items()) if d in doomed},
    )
    if apply:
        for day in outcome.local_remove:
            shutil.rmtree(archive_root / day)
        if outcome.local_remove:
            remove_from_index(archive_root / "index.jsonl", set(outcome.local_remove))
        if store is not None:
            for keys in outcome.remote_remove.values():
                for key in keys:
                    store.delete(key)
        outcome.applied = True
    return outcome
