"""Tailing controls/rules_history.jsonl with a durable cursor (byte offset plus file identity)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lumen_assets.ingest.tail import TailCursor, file_identity, last_line_timestamp, read_new_lines

BIG = 1 << 20


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_two_reads_with_the_returned_cursor_see_each_line_once(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _append(path, "a\nb\n")
    first = read_new_lines(path, TailCursor(), BIG, 100)
    assert first.lines == [(1, "a"), (2, "b")] and first.reset_reason is None and not first.more
    again = read_new_lines(path, first.cursor, BIG, 100)
    assert again.lines == []
    _append(path, "c\n")
    second = read_new_lines(path, TailCursor.from_json(first.cursor.to_json()), BIG, 100)
    assert second.lines == [(3, "c")]
    assert second.cursor.offset == path.stat().st_size
    assert (second.cursor.inode, second.cursor.device) == file_identity(path)


def test_partial_last_line_waits_until_it_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _append(path, 'first\n{"ts": "2025-')
    read = read_new_lines(path, TailCursor(), BIG, 100)
    assert read.lines == [(1, "first")]
    assert read.cursor.offset == len("first\n")
    still = read_new_lines(path, read.cursor, BIG, 100)
    assert still.lines == []
    _append(path, '10-23"}\n')
    done = read_new_lines(path, still.cursor, BIG, 100)
    assert done.lines == [(2, '{"ts": "2025-10-23"}')]


def test_truncation_resets_to_the_start(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _append(path, "one\ntwo\nthree\n")
    cursor = read_new_lines(path, TailCursor(), BIG, 100).cursor
    with open(path, "w") as handle:  # same inode, shorter
        handle.write("new\n")
    read = read_new_lines(path, cursor, BIG, 100)
    assert read.reset_reason == "truncated"
    assert read.lines == [(1, "new")]


def test_rotation_to_a_new_inode_resets_to_the_start(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _append(path, "one\n")
    cursor = read_new_lines(path, TailCursor(), BIG, 100).cursor
    os.rename(path, tmp_path / "h.jsonl.1")
    _append(path, "fresh one\nfresh two\n")  # longer than before: only the inode tells
    read = read_new_lines(path, cursor, BIG, 100)
    assert read.reset_reason == "rotated"
    assert read.lines == [(1, "fresh one"), (2, "fresh two")]


def test_in_place_rewrite_of_the_head_resets(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _append(path, "aaa\n")
    cursor = read_new_lines(path, TailCursor(), BIG, 100).cursor
    with open(path, "r+") as handle:
        handle.write("bbb\nccc\n")
    read = read_new_lines(path, cursor, BIG, 100)
    assert read.reset_reason == "rewritten"
    assert read.lines == [(1, "bbb"), (2, "ccc")]


def test_batches_are_bounded_by_lines_and_bytes_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    expected = [f"line-{i:05d}" for i in range(2500)]
    _append(path, "\n".join(expected) + "\n")
    cursor, seen, ticks = TailCursor(), [], 0
    while True:
        read = read_new_lines(path, cursor, 4096, 300)
        ticks += 1
        assert len(read.lines) <= 300
        assert sum(len(t) + 1 for _, t in read.lines) <= 4096
        seen += read.lines
        cursor = read.cursor
        if not read.more:
            break
    assert [t for _, t in seen] == expected
    assert [n for n, _ in seen] == list(range(1, 2501))
    assert ticks >= len(expected) * 11 // 4096


def test_a_line_longer_than_the_byte_budget_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    _append(path, "x" * 5000 + "\n")
    with pytest.raises(ValueError, match=str(path)):
        read_new_lines(path, TailCursor(), 1024, 10)


def test_missing_file_keeps_the_cursor(tmp_path: Path) -> None:
    cursor = TailCursor(offset=10, line_no=2)
    read = read_new_lines(tmp_path / "absent", cursor, BIG, 10)
    assert read.lines == [] and read.cursor == cursor


def test_cursor_json_round_trip_and_garbage_cursor_starts_over() -> None:
    cursor = TailCursor(offset=5, line_no=1, inode=3, device=4, head_len=5, head_sha256="ab", pending=[["e", 1, "a", "r"]])
    assert TailCursor.from_json(cursor.to_json()) == cursor
    assert TailCursor.from_json(None) == TailCursor()
    assert TailCursor.from_json("{not json") == TailCursor()
    assert TailCursor.from_json('{"unknown": 1}') == TailCursor()


def test_last_line_timestamp_skips_a_row_still_being_written(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    _append(path, "ts,a\n2025-10-23T13:00:00+09:00,0.1\n2025-10-23T13:00:00.2+09:00,0.2\n2025-10-23T13:00")
    assert last_line_timestamp(path) == "2025-10-23T13:00:00.2+09:00"
    assert last_line_timestamp(tmp_path / "absent.csv") is None
