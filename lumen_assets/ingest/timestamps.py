"""Seed timestamps: both `+0900` and `+09:00`, with or without fractional seconds, always tz-aware.

The seed parsed with dateutil's isoparse and mixed naive and aware values (a TypeError on subtraction,
seed segA C21). Here a timestamp without an offset is an error, never a guess.
"""

from __future__ import annotations

import re
from datetime import datetime

ISO_WITH_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
)


class TimestampError(ValueError):
    """A timestamp Lumen cannot place on the timeline."""


def parse_timestamp(text: object) -> datetime:
    """Parse one seed timestamp to an aware datetime; raise TimestampError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise TimestampError(f"timestamp must be a non-empty string, got {text!r}")
    value = text.strip()
    if not ISO_WITH_OFFSET.match(value):
        if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?$", value):
            raise TimestampError(f"timestamp {value!r} has no UTC offset (expected e.g. +09:00 or +0900)")
        raise TimestampError(f"timestamp {value!r} is not ISO-8601 with an offset")
    fraction = re.search(r"\.(\d+)", value)
    if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds; nanoseconds are truncated
        value = value.replace(fraction.group(0), "." + fraction.group(1)[:6], 1)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TimestampError(f"timestamp {text!r}: {exc}") from exc
    if parsed.tzinfo is None:  # pragma: no cover - the regex already demands an offset
        raise TimestampError(f"timestamp {text!r} has no UTC offset")
    return parsed
