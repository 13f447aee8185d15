"""Seed timestamps (segA §0): `+0900` and `+09:00`, with or without fractions; no offset is an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lumen_assets.ingest.timestamps import TimestampError, parse_timestamp

KST = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-23T13:00:05+0900", datetime(2025, 10, 23, 13, 0, 5, tzinfo=KST)),
        ("2025-10-23T13:00:05+09:00", datetime(2025, 10, 23, 13, 0, 5, tzinfo=KST)),
        ("2025-10-23T13:00:05.123456+09:00", datetime(2025, 10, 23, 13, 0, 5, 123456, tzinfo=KST)),
        ("2025-10-23T13:00:05.123456+0900", datetime(2025, 10, 23, 13, 0, 5, 123456, tzinfo=KST)),
        ("2025-10-23T13:00:05.5+09:00", datetime(2025, 10, 23, 13, 0, 5, 500000, tzinfo=KST)),
        ("2025-10-23 13:00:05+09:00", datetime(2025, 10, 23, 13, 0, 5, tzinfo=KST)),
        ("2025-10-23T04:00:05Z", datetime(2025, 10, 23, 4, 0, 5, tzinfo=UTC)),
        ("2025-10-23T04:00:05-0130", datetime(2025, 10, 23, 4, 0, 5, tzinfo=timezone(-timedelta(hours=1, minutes=30)))),
    ],
)
def test_both_seed_offset_styles_parse_to_the_same_instant(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed.tzinfo is not None
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_nanosecond_fraction_is_truncated_to_microseconds() -> None:
    parsed = parse_timestamp("2025-10-23T13:00:05.123456789+09:00")
    assert parsed == datetime(2025, 10, 23, 13, 0, 5, 123456, tzinfo=KST)


@pytest.mark.parametrize("text", ["2025-10-23T13:00:05", "2025-10-23T13:00:05.123456", "2025-10-23 13:00:05"])
def test_timestamp_without_offset_is_an_error_not_a_guess(text: str) -> None:
    with pytest.raises(TimestampError, match="no UTC offset"):
        parse_timestamp(text)


@pytest.mark.parametrize("value", ["", "   ", None, 1729656005, "yesterday", "2025-10-23", "2025-13-01T00:00:00+09:00"])
def test_garbage_timestamps_raise_timestamp_error(value: object) -> None:
    with pytest.raises(TimestampError):
        parse_timestamp(value)
