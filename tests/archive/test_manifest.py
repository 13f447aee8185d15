"""SHA256SUMS lines (sha256sum-compatible), manifest shape, and the RFC 9162 root over the files."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lumen_assets.archive.manifest import (
    FileEntry,
    ManifestError,
    build_manifest,
    files_merkle_root,
    parse_manifest,
    parse_sums,
    render_manifest,
    render_sums,
)


def reference_mth(entries: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out literally, independent of lumen_assets.tlog."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(entries[:k]) + reference_mth(entries[k:])).digest()


def entry(path: str, content: bytes) -> FileEntry:
    return FileEntry(path, len(content), hashlib.sha256(content).hexdigest())


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)


@given(st.lists(st.tuples(names, st.binary(max_size=20)), max_size=12, unique_by=lambda t: t[0]))
def test_sums_roundtrip_any_names(items: list[tuple[str, bytes]]) -> None:
    entries = [entry(n, c) for n, c in sorted(items)]
    assert parse_sums(render_sums(entries)) == [(e.sha256, e.path) for e in entries]


@given(st.lists(st.binary(max_size=8), max_size=20))
def test_merkle_root_is_rfc9162_over_sums_lines(contents: list[bytes]) -> None:
    entries = [entry(f"logs/f{i:03d}.csv", c) for i, c in enumerate(contents)]
    lines = [render_sums([e]).encode() for e in entries]
    assert files_merkle_root(entries) == reference_mth(lines).hex()


def test_empty_bundle_root_is_sha256_of_nothing() -> None:
    assert files_merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_root_binds_names_and_rejects_the_seeds_duplicate_last_node() -> None:
    a, b, c = entry("a", b"1"), entry("b", b"2"), entry("c", b"3")
    assert files_merkle_root([a, b, c]) != files_merkle_root([a, b, c, c])
    assert files_merkle_root([a]) != files_merkle_root([FileEntry("renamed", a.size, a.sha256)])


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_sums_file_passes_sha256sum_check(tmp_path: Path) -> None:
    contents = {"logs/metrics.csv": b"ts\n1\n", "controls/reports/보고서 1.md": b"# hi\n", "odd\\name.txt": b"x"}
    for rel, data in contents.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    (tmp_path / "SHA256SUMS.txt").write_text(render_sums([entry(p, d) for p, d in sorted(contents.items())]), encoding="utf-8")
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS.txt"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (tmp_path / "logs/metrics.csv").write_bytes(b"changed")
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS.txt"], cwd=tmp_path, capture_output=True).returncode == 1


def test_malformed_sums_line_names_its_line() -> None:
    good = render_sums([entry("a", b"1")])
    with pytest.raises(ManifestError, match=r":2: "):
        parse_sums(good + "not-a-hash  b\n")


def test_manifest_keeps_seed_keys_and_parses_back() -> None:
    entries = [entry("logs/metrics.csv", b"x")]
    manifest = build_manifest(
        label="Symmetry Archive", created_at="2025-03-14T23:59:00+09:00", day="2025-03-14", entries=entries,
        bundle={"name": "bundle.tar", "size": 10240, "sha256": "0" * 64}, encrypted=None,
    )  # fmt: skip
    assert list(manifest)[:4] == ["label", "created_at", "sources", "hash"]
    assert manifest["hash"] == {"algo": "sha256", "values": {"logs/metrics.csv": entries[0].sha256}}
    parsed, parsed_entries = parse_manifest(render_manifest(manifest))
    assert parsed == manifest and parsed_entries == entries


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m.pop("files"), "missing key 'files'"),
        (lambda m: m["files"][0].update(size=-1), r"files\[0\]\.size"),
        (lambda m: m["files"][0].update(sha256="XYZ"), r"files\[0\]\.sha256"),
        (lambda m: m.update(format="other/9"), "unsupported"),
    ],
)
def test_bad_manifest_is_named(mutate, message: str) -> None:  # noqa: ANN001
    manifest = build_manifest(
        label="L", created_at="t", day="2025-03-14", entries=[entry("a", b"1")],
        bundle={"name": "bundle.tar", "size": 1, "sha256": "0" * 64}, encrypted=None,
    )  # fmt: skip
    mutate(manifest)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(render_manifest(manifest), "x/snapshot.manifest.json")
