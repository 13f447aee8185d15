"""Safe restore: unsafe members are refused before anything is written; nothing is overwritten without force."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lumen_assets.archive.restore import RestoreError, restore_bundle


def evil_tar(path: Path, members: list[tarfile.TarInfo], payload: bytes = b"pwned") -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        ok = tarfile.TarInfo("logs/ok.csv")
        ok.size = 3
        archive.addfile(ok, io.BytesIO(b"ok\n"))
        for member in members:
            if member.isreg():
                member.size = len(payload)
                archive.addfile(member, io.BytesIO(payload))
            else:
                archive.addfile(member)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    "bad",
    [
        member("../x"),
        member("logs/../../x"),
        member("/etc/x"),
        member("logs/link", tarfile.SYMTYPE, "/etc/passwd"),
        member("logs/hard", tarfile.LNKTYPE, "/etc/passwd"),
        member("logs/dev", tarfile.CHRTYPE),
        member("logs/fifo", tarfile.FIFOTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path: Path, bad: tarfile.TarInfo) -> None:
    bundle = evil_tar(tmp_path / "evil.tar", [bad])
    dest = tmp_path / "area" / "dest"
    with pytest.raises(RestoreError, match="unsafe"):
        restore_bundle(bundle, dest)
    written = sorted(p for p in (tmp_path / "area").rglob("*"))
    assert written == [dest], written  # not even the safe member
    assert not (tmp_path / "x").exists() and not (tmp_path / "area" / "x").exists()


def test_symlinked_folder_inside_dest_cannot_redirect_a_write(tmp_path: Path) -> None:
    bundle = evil_tar(tmp_path / "b.tar", [member("out/x")])
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "out").symlink_to(outside)
    with pytest.raises(RestoreError, match="outside"):
        restore_bundle(bundle, dest, force=True)
    assert list(outside.iterdir()) == []


def test_existing_files_need_force(tmp_path: Path) -> None:
    bundle = evil_tar(tmp_path / "b.tar", [member("controls/a.jsonl")], payload=b"{}\n")
    dest = tmp_path / "dest"
    (dest / "logs").mkdir(parents=True)
    (dest / "logs/ok.csv").write_text("mine")
    with pytest.raises(RestoreError, match="already exist.*logs/ok.csv"):
        restore_bundle(bundle, dest)
    assert (dest / "logs/ok.csv").read_text() == "mine" and not (dest / "controls").exists()
    assert restore_bundle(bundle, dest, force=True) == ["logs/ok.csv", "controls/a.jsonl"]
    assert (dest / "logs/ok.csv").read_text() == "ok\n"
    assert (dest / "controls/a.jsonl").stat().st_mode & 0o777 == 0o644
