"""Sortable tables for the Dagster UI: `MetadataValue.table` with a `TableSchema` (not Markdown popups).

`metadata_table([("rule", "string"), ("mean", "float", "posterior mean")], rows)` where each row is a
mapping or a sequence in column order. NaN and infinities become empty cells; other values are cast to
the column's type, so a numpy float or int never reaches Dagster's serialiser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

Column = tuple[str, str] | tuple[str, str, str]
_CAST = {"float": float, "int": int, "bool": bool, "string": str}


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    try:
        if isinstance(value, float | int) and not isinstance(value, bool) and not math.isfinite(float(value)):
            return None
    except (TypeError, ValueError):
        pass
    try:
        if hasattr(value, "item"):  # numpy scalar
            value = value.item()
        return _CAST.get(kind, str)(value)
    except (TypeError, ValueError):
        return str(value)


def table_schema(columns: Sequence[Column]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=c[0], type=c[1], description=c[2] if len(c) > 2 else None) for c in columns]
    )


def metadata_table(columns: Sequence[Column], rows: Iterable[Mapping[str, Any] | Sequence[Any]],
                   limit: int = 500) -> dg.TableMetadataValue:
    """The first `limit` rows as a sortable UI table (the full data is in the file the asset names)."""
    records = []
    for row in rows:
        if len(records) >= limit:
            break
        values = [row.get(c[0]) for c in columns] if isinstance(row, Mapping) else list(row)
        records.append(dg.TableRecord(data={c[0]: _cell(v, c[1]) for c, v in zip(columns, values, strict=True)}))
    return dg.MetadataValue.table(records=records, schema=table_schema(columns))
