"""Writing a signal CSV (metrics.csv, environment.csv) as the loop does: a header, then appended lines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def write_signal_csv(path: Path, columns: Sequence[str], rows: list[str], mode: str = "w", header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode, encoding="utf-8") as handle:
        if header:
            handle.write(",".join(columns) + "\n")
        handle.write("".join(r + "\n" for r in rows))
    return path
