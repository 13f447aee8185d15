"""The atomic rewrites that keep a file's existing bytes: append_jsonl and copy_prefix (pure, no dagster)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from lumen_assets.atomic import append_jsonl, copy_prefix


def test_append_jsonl_keeps_the_bytes_and_adds_a_missing_newline(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    assert append_jsonl(path, [{"a": 1}]) == 1
    path.write_bytes(path.read_bytes() + b'{"b": 2}')  # a last line without its newline
    assert append_jsonl(path, [{"c": "ü"}, {"d": None}]) == 2
    text = path.read_text(encoding="utf-8")
    assert text == '{"a": 1}\n{"b": 2}\n{"c": "ü"}\n{"d": null}\n'
    assert [json.loads(line) for line in text.splitlines()][-1] == {"d": None}
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.jsonl"]  # no temp file left behind


def test_copy_prefix_copies_exactly_the_first_bytes(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    data = bytes(range(256)) * 9000  # more than one 1 MiB block
    source.write_bytes(data)
    for length in (0, 1, (1 << 20) + 7, len(data), len(data) + 10):
        out = io.BytesIO()
        assert copy_prefix(source, out, length) == min(length, len(data))
        assert out.getvalue() == data[:length]
