"""Freeze a day, then verify it from the archive alone; any single flipped byte anywhere fails verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumen_assets.archive.freeze import FreezeResult, freeze_day
from lumen_assets.archive.index import read_index
from lumen_assets.archive.tarball import FreezeError
from lumen_assets.archive.verify import verify_day
from tests.archive.conftest import DAY, RAW_KEY_B64, make_workspace
from tests.archive.conftest import settings as archive_settings

MTIME = 1741878000


def freeze(root: Path, secret: str | None = None, day: str = DAY, **overrides: object) -> FreezeResult:
    if secret:
        overrides.setdefault("encryption", {"enable": True, "segment_size": 4096, "scrypt_log2_n": 10})
    return freeze_day(
        root, day, archive_settings(**overrides), created_at=f"{day}T23:59:00+09:00", tar_mtime=MTIME,
        never=[".dagster/", ".lumen/"], secret=secret,
    )  # fmt: skip


def verify(root: Path, day: str = DAY, secret: str | None = None):  # noqa: ANN201
    return verify_day(root / "archive" / day, read_index(root / "archive/index.jsonl").get(day), secret)


def test_fresh_bundle_verifies(workspace: Path) -> None:
    result = freeze(workspace)
    report = verify(workspace)
    assert report.ok, report.problems
    assert report.files == len(result.entries) == 7
    assert sorted(p.name for p in result.day_dir.iterdir()) == ["SHA256SUMS.txt", "bundle.tar", "snapshot.manifest.json"]


def test_verify_reads_the_archive_not_the_live_workspace(workspace: Path) -> None:
    """Seed bug (segC C2): verify hashed the live files, so a growing metrics.csv always 'failed'."""
    freeze(workspace)
    with open(workspace / "logs/metrics.csv", "a") as handle:
        handle.write("2025-03-15T00:00:00+09:00,1,1,1,1\n")
    (workspace / "controls/quotes_bank.jsonl").unlink()
    assert verify(workspace).ok


def test_refreeze_replaces_the_day_and_never_duplicates_the_index(workspace: Path) -> None:
    freeze(workspace)
    (workspace / "archive" / DAY / "stale.txt").write_text("left over")
    (workspace / "logs/new.csv").write_text("a\n")
    second = freeze(workspace)
    assert not (second.day_dir / "stale.txt").exists()
    lines = (workspace / "archive/index.jsonl").read_text().splitlines()
    assert [json.loads(line)["date"] for line in lines] == [DAY]
    assert json.loads(lines[0])["manifest_sha256"] == second.manifest_sha256
    assert "logs/new.csv" in second.manifest["sources"] and verify(workspace).ok


def test_same_workspace_gives_the_same_bundle_bytes(workspace: Path) -> None:
    first = freeze(workspace).bundle_path.read_bytes()
    assert freeze(workspace).bundle_path.read_bytes() == first


def test_encrypted_bundle_verifies_with_and_without_the_key(workspace: Path) -> None:
    result = freeze(workspace, RAW_KEY_B64)
    assert result.stored_path.name == "bundle.tar.lumen.enc"
    assert verify(workspace, secret=RAW_KEY_B64).ok
    without_key = verify(workspace)
    assert without_key.ok and "not decrypted" in without_key.notes[0]
    wrong = verify(workspace, secret="wrong passphrase")
    assert not wrong.ok and wrong.problems[0].name == "bundle.tar.lumen.enc"


def test_encryption_enabled_without_a_key_is_a_clear_error(workspace: Path) -> None:
    with pytest.raises(FreezeError, match="LUMEN_ARCHIVE_KEY"):
        freeze(workspace, None, encryption={"enable": True})
    assert not [p for p in (workspace / "archive").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("compression", ["gz", "xz"])
def test_compressed_bundles_verify(workspace: Path, compression: str) -> None:
    result = freeze(workspace, compression=compression)
    assert result.bundle_path.name == f"bundle.tar.{compression}"  # seed wrote xz into bundle.tar.gz
    assert verify(workspace).ok


def test_a_changed_member_is_named(workspace: Path) -> None:
    result = freeze(workspace)
    data = bytearray(result.bundle_path.read_bytes())
    offset = data.find(b"creative_band_min")
    data[offset] ^= 0x20
    result.bundle_path.write_bytes(bytes(data))
    report = verify(workspace)
    assert [p.name for p in report.problems] == ["gateway_activation.yaml", "bundle.tar"]


def test_a_missing_index_line_fails(workspace: Path) -> None:
    freeze(workspace)
    (workspace / "archive/index.jsonl").write_text("")
    assert not verify(workspace).ok


@pytest.mark.parametrize("key", ["merkle_root", "bundle_sha256", "stored_sha256", "files", "bytes"])
def test_an_edited_index_field_fails_with_the_field_named(workspace: Path, key: str) -> None:
    """Issue 13: an edited `merkle_root` in archive/index.jsonl used to pass (only manifest_sha256 was read)."""
    freeze(workspace, None if key == "bundle_sha256" else RAW_KEY_B64)  # a sealed-only bundle has no plaintext digest
    path = workspace / "archive/index.jsonl"
    record = json.loads(path.read_text())
    record[key] = "0" * 64 if isinstance(record[key], str) else record[key] + 1
    path.write_text(json.dumps(record) + "\n")
    report = verify(workspace)
    assert [p.name for p in report.problems] == ["archive/index.jsonl"]
    assert report.problems[0].reason.startswith(f"line for {DAY}: {key} is {record[key]!r}, the manifest says ")


@pytest.fixture(scope="module")
def frozen_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_workspace(tmp_path_factory.mktemp("frozen") / "ws")
    freeze(root, RAW_KEY_B64)
    return root


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_flipped_byte_fails_verify(frozen_template: Path, data: st.DataObject) -> None:
    day_dir = frozen_template / "archive" / DAY
    name = data.draw(st.sampled_from(["snapshot.manifest.json", "SHA256SUMS.txt", "bundle.tar.lumen.enc"]))
    path = day_dir / name
    original = path.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(original)
    tampered[position] ^= 1 << bit
    try:
        path.write_bytes(bytes(tampered))
        report = verify(frozen_template, secret=RAW_KEY_B64)
        assert not report.ok, f"flip of bit {bit} at {name}:{position} went unnoticed"
        assert report.problems
    finally:
        path.write_bytes(original)
    assert verify(frozen_template, secret=RAW_KEY_B64).ok


def test_a_write_error_in_a_background_writer_fails_the_freeze_and_leaves_nothing(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumen_assets.archive import freeze as freeze_module

    def failing_write(self, buffer, offset, length) -> None:  # noqa: ANN001
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(freeze_module.BundleFile, "_write_out", failing_write)  # runs on the writer thread
    with pytest.raises(OSError, match="No space left"):
        freeze(workspace, RAW_KEY_B64)
    assert [p.name for p in (workspace / "archive").iterdir()] == []


def _reseal_manifest(root: Path, day_dir: Path, encrypted_bytes: bytes) -> None:
    """An attacker who can rewrite everything local except the key: new enc sha/size in manifest and index."""
    import hashlib

    from lumen_assets.archive.index import upsert_index
    from lumen_assets.archive.manifest import render_manifest

    manifest = json.loads((day_dir / "snapshot.manifest.json").read_text(encoding="utf-8"))
    manifest["encrypted"].update(size=len(encrypted_bytes), sha256=hashlib.sha256(encrypted_bytes).hexdigest())
    text = render_manifest(manifest)
    (day_dir / "snapshot.manifest.json").write_text(text, encoding="utf-8")
    (day_dir / "bundle.tar.lumen.enc").write_bytes(encrypted_bytes)
    record = read_index(root / "archive/index.jsonl")[DAY]
    upsert_index(root / "archive/index.jsonl", {**record, "manifest_sha256": hashlib.sha256(text.encode()).hexdigest(),
                                                "stored_sha256": hashlib.sha256(encrypted_bytes).hexdigest()})


@pytest.mark.parametrize("attack", ["truncate_at_segment", "reorder_segments", "drop_middle_segment"])
def test_encrypted_bundle_truncated_or_reordered_fails_even_with_resealed_manifest(workspace: Path, attack: str) -> None:
    from lumen_assets.archive.encryption import TAG_SIZE, V2_HEADER_SIZE

    result = freeze(workspace, RAW_KEY_B64)  # segment_size 4096 -> the ~20 KiB bundle spans several segments
    blob = result.stored_path.read_bytes()
    step = 4096 + TAG_SIZE
    header, body = blob[:V2_HEADER_SIZE], blob[V2_HEADER_SIZE:]
    parts = [body[i : i + step] for i in range(0, len(body), step)]
    assert len(parts) >= 3
    tampered = {
        "truncate_at_segment": header + b"".join(parts[:-1]),
        "reorder_segments": header + parts[1] + parts[0] + b"".join(parts[2:]),
        "drop_middle_segment": header + parts[0] + b"".join(parts[2:]),
    }[attack]
    _reseal_manifest(workspace, result.day_dir, tampered)
    report = verify(workspace, secret=RAW_KEY_B64)
    assert [p.name for p in report.problems] == ["bundle.tar.lumen.enc"]
    assert "failed authentication" in report.problems[0].reason


@pytest.mark.timeout(120)
def test_a_failing_writer_never_deadlocks_a_large_freeze(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumen_assets.archive import freeze as freeze_module

    (workspace / "logs/big.csv").write_bytes(b"0123456789abcdef" * (3 << 20))  # 48 MiB: far more chunks than the pool
    real_write = freeze_module.BundleFile._write_out
    calls = {"n": 0}

    def failing_write(self, buffer, offset, length) -> None:  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(5, "Input/output error")
        real_write(self, buffer, offset, length)

    monkeypatch.setattr(freeze_module.BundleFile, "_write_out", failing_write)  # runs on the writer thread
    with pytest.raises(OSError, match="Input/output error"):
        freeze(workspace, RAW_KEY_B64)


def test_with_encryption_no_plaintext_bundle_stays_behind(workspace: Path) -> None:
    """Issue 16 §3: bundle.tar used to be kept, 0644, beside its .enc; now only the sealed copy is stored and
    verify checks the tar inside it through decryption."""
    result = freeze(workspace, RAW_KEY_B64)
    assert sorted(p.name for p in result.day_dir.iterdir()) == ["SHA256SUMS.txt", "bundle.tar.lumen.enc", "snapshot.manifest.json"]
    assert result.bundle_path is None and result.stored_path.name == "bundle.tar.lumen.enc"
    assert not [p for p in (workspace / "archive").rglob("*") if p.name.startswith(".") or p.name == "bundle.tar"]
    assert verify(workspace, secret=RAW_KEY_B64).ok
    without_key = verify(workspace)
    assert without_key.ok and any("members were not checked" in note for note in without_key.notes)


def test_a_member_that_disagrees_with_the_manifest_inside_the_sealed_bundle_is_named(workspace: Path) -> None:
    from lumen_assets.archive.manifest import FileEntry
    from lumen_assets.archive.verify import VerifyReport, check_sealed_tar

    result = freeze(workspace, RAW_KEY_B64)
    entries = list(result.entries)
    entries[0] = FileEntry(entries[0].path, entries[0].size, "0" * 64)
    report = VerifyReport(day=DAY)
    with open(result.stored_path, "rb") as handle:
        check_sealed_tar(handle, RAW_KEY_B64, result.manifest, entries, report)
    assert [(p.name, p.reason) for p in report.problems] == [(entries[0].path, "sha256 of the bundled bytes differs from the manifest")]


@pytest.mark.parametrize("secret", [None, RAW_KEY_B64])
def test_archive_outputs_carry_the_strictest_source_mode(workspace: Path, secret: str | None) -> None:
    import os
    import stat

    os.chmod(workspace / "controls/quotes_bank.jsonl", 0o600)
    result = freeze(workspace, secret)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in result.day_dir.iterdir()}
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(result.day_dir.stat().st_mode) == 0o700
