"""Deterministic tar building: same inputs, same bytes; the bytes hashed are the bytes bundled."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from lumen_assets.archive import tarball
from lumen_assets.archive.settings import SEED_SOURCES


def build(root: Path, files: list[str], mtime: int = 0) -> tuple[bytes, list]:
    out = io.BytesIO()
    finisher = tarball.TarFinisher(out)
    entries = tarball.write_tar(root, files, finisher, mtime=mtime)
    finisher.finish()
    return out.getvalue(), entries


def test_seed_sources_never_include_dagster_or_archive(workspace: Path) -> None:
    (workspace / "archive/2025-03-13").mkdir(parents=True)
    (workspace / "archive/2025-03-13/x.jsonl").write_text("{}")
    selection = tarball.collect_sources(workspace, [*SEED_SOURCES, "**/*.jsonl", ".dagster/*"], ["archive/", ".dagster/"])
    assert "controls/reports/report_2025-03-14.pdf" in selection.files
    assert "logs/metrics.csv" in selection.files and "notes.txt" not in selection.files
    assert not [f for f in selection.files if f.startswith(("archive/", ".dagster/"))]
    assert selection.files == sorted(selection.files)


def test_symlinks_are_skipped_and_reported(workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("outside")
    os.symlink(tmp_path / "secret.csv", workspace / "logs/link.csv")
    selection = tarball.collect_sources(workspace, ["logs/*.csv"], [])
    assert "logs/link.csv" not in selection.files and ("logs/link.csv", "symlink") in selection.skipped


def test_same_inputs_give_the_same_bytes_whatever_the_file_times(workspace: Path, tmp_path: Path) -> None:
    files = tarball.collect_sources(workspace, SEED_SOURCES, []).files
    first, _ = build(workspace, files, mtime=1741878000)
    copy = shutil.copytree(workspace, tmp_path / "copy")
    for rel in files:
        os.utime(copy / rel, (1, 1))
    second, _ = build(copy, files, mtime=1741878000)
    assert first == second
    assert len(first) % tarfile.RECORDSIZE == 0


def test_members_are_normalised(workspace: Path) -> None:
    files = tarball.collect_sources(workspace, SEED_SOURCES, []).files
    data, entries = build(workspace, files, mtime=1741878000)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == files
        for member, entry in zip(members, entries, strict=True):
            assert (member.mtime, member.mode, member.uid, member.gid, member.uname, member.gname) == (1741878000, 0o644, 0, 0, "", "")
            assert member.isreg() and member.size == entry.size
            assert hashlib.sha256(archive.extractfile(member).read()).hexdigest() == entry.sha256


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar not installed")
def test_gnu_tar_reads_the_bundle(workspace: Path, tmp_path: Path) -> None:
    files = tarball.collect_sources(workspace, SEED_SOURCES, []).files
    data, _ = build(workspace, files)
    (tmp_path / "b.tar").write_bytes(data)
    listing = subprocess.run(["tar", "-tf", str(tmp_path / "b.tar")], capture_output=True, text=True, check=True)
    assert listing.stdout.splitlines() == files


def test_a_file_growing_during_freeze_is_hashed_as_bundled(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed hashed live files: a metrics.csv appended mid-freeze disagreed with the tar (segC C2 bug)."""
    real_fstat = os.fstat
    metrics = workspace / "logs/metrics.csv"
    original = metrics.read_bytes()

    def fstat_then_grow(fd: int) -> os.stat_result:
        status = real_fstat(fd)
        if status.st_size == len(original):
            with open(metrics, "ab") as handle:  # the loop appends right after the size was taken
                handle.write(b"2025-03-14T00:01:00+09:00,9,9,9,9\n")
        return status

    monkeypatch.setattr(tarball.os, "fstat", fstat_then_grow)
    data, entries = build(workspace, ["logs/metrics.csv"])
    assert metrics.read_bytes() != original
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        bundled = archive.extractfile("logs/metrics.csv").read()
    assert bundled == original and entries[0].sha256 == hashlib.sha256(bundled).hexdigest()


def test_a_file_shrinking_during_freeze_is_an_error(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fstat = os.fstat

    def fstat_then_truncate(fd: int) -> os.stat_result:
        status = real_fstat(fd)
        os.truncate(workspace / "logs/metrics.csv", 3)
        return status

    monkeypatch.setattr(tarball.os, "fstat", fstat_then_truncate)
    with pytest.raises(tarball.FreezeError, match="logs/metrics.csv: shrank"):
        build(workspace, ["logs/metrics.csv"])


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_compressed_bundles_are_deterministic(workspace: Path, kind: str) -> None:
    files = tarball.collect_sources(workspace, SEED_SOURCES, []).files
    outputs = []
    for _ in range(2):
        out = io.BytesIO()
        compressor = tarball.Compressor(kind, out)
        finisher = tarball.TarFinisher(compressor)
        tarball.write_tar(workspace, files, finisher)
        finisher.finish()
        compressor.finish()
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    with tarfile.open(fileobj=io.BytesIO(outputs[0]), mode=f"r:{kind}") as archive:
        assert archive.getnames() == files


def test_a_symlinked_folder_pointing_outside_is_skipped(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "leak.csv").write_text("secret")
    os.symlink(outside, workspace / "logs/linked")
    selection = tarball.collect_sources(workspace, ["logs/**/*.csv"], [])
    assert "logs/linked/leak.csv" not in selection.files
    assert dict(selection.skipped)["logs/linked/leak.csv"].startswith("outside the workspace")


def test_non_utf8_names_are_skipped_and_reported(workspace: Path) -> None:
    raw = os.path.join(os.fsencode(workspace / "logs"), b"bad\xff.csv")
    with open(raw, "wb") as handle:
        handle.write(b"x")
    selection = tarball.collect_sources(workspace, ["logs/*.csv"], [])
    assert not [f for f in selection.files if "bad" in f]
    assert [why for name, why in selection.skipped if name.startswith("logs/bad")] == ["file name is not UTF-8"]
