"""Reading JSONL files line by line, with the line number and the reason for every line that is not a
JSON object, so each caller can quarantine, report or refuse it - never silently skip it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JsonLine:
    line_no: int
    record: dict[str, Any] | None  # None when the line is not a JSON object
    problem: str | None  # why it is not


def parse_jsonl_line(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """(record, None) for a line holding a JSON object, else (None, why not)."""
    try:
        record = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    return record, None


def iter_jsonl(path: Path | str) -> Iterator[JsonLine]:
    """Every non-blank line of `path` (a missing file has none)."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, problem = parse_jsonl_line(line)
            yield JsonLine(line_no, record, problem)
