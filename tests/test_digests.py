"""The one whole-file hash helper (issue 12 §8: hashlib.file_digest instead of five hand-rolled ones)."""

from __future__ import annotations

from pathlib import Path

from lumen_assets.digests import sha256_file, sha256_file_or_none

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256("")


def test_known_answers_and_a_missing_file_is_none(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "abc").write_bytes(b"abc")
    assert sha256_file(tmp_path / "empty") == EMPTY
    assert sha256_file(tmp_path / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file_or_none(tmp_path / "missing") is None and sha256_file_or_none(tmp_path) is None
