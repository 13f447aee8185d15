"""BundleFile: the archive's output file, written with O_DIRECT where the file system takes it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lumen_assets.archive.bundle_file import ALIGN, BundleFile


def _pieces(total: int) -> list[bytes]:
    """Odd-sized pieces, so buffers fill at unaligned offsets and tails are carried over."""
    data = os.urandom(total)
    sizes, start, step = [], 0, 1
    while start < total:
        sizes.append(data[start : start + step])
        start += step
        step = step * 7 % 100_003 + 1
    return sizes


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("total", [0, 1, ALIGN - 1, ALIGN, 3 * (64 << 10) + 5, 1 << 20])
def test_bytes_on_disk_and_digest_are_exactly_what_was_written(tmp_path: Path, direct: bool, total: int) -> None:
    pieces = _pieces(total)
    path = tmp_path / "bundle.bin"
    with BundleFile(path, 0o600, direct=direct, buffer_size=64 << 10, buffers=2) as out:
        for index, piece in enumerate(pieces):
            space = out.reserve(len(piece)) if index % 2 else None  # both ways in: reserve + commit, and write
            if space is None:
                out.write(piece)
            else:
                space[:] = piece
                space.release()
                out.commit(len(piece))
        out.finish()
    expected = b"".join(pieces)
    assert path.read_bytes() == expected
    assert out.size == total and out.digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_piece_larger_than_a_buffer_is_refused_by_reserve_and_written_by_write(tmp_path: Path) -> None:
    piece = os.urandom((64 << 10) * 3 + 17)
    with BundleFile(tmp_path / "big.bin", 0o600, buffer_size=64 << 10, buffers=2) as out:
        assert out.reserve(len(piece)) is None
        out.write(piece)
        out.finish()
    assert (tmp_path / "big.bin").read_bytes() == piece


def test_the_writer_threads_error_reaches_the_producer_and_never_blocks_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self, buffer, offset, length) -> None:  # noqa: ANN001
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BundleFile, "_write_out", failing)
    out = BundleFile(tmp_path / "full.bin", 0o600, buffer_size=64 << 10, buffers=2)
    with pytest.raises(OSError, match="No space left"):
        for _ in range(200):  # far more than the pool holds: a dead writer must not deadlock the producer
            out.write(bytes(50_000))
        out.finish()
    out.close()
    out.close()  # idempotent


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "there.bin").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        BundleFile(tmp_path / "there.bin", 0o600)
    assert (tmp_path / "there.bin").read_bytes() == b"keep"


def test_a_file_system_that_refuses_direct_writes_gets_page_cache_writes_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumen_assets.archive import bundle_file

    real = bundle_file._pwrite_all
    refused = []

    def refuse_first(fd: int, view: memoryview, offset: int) -> None:
        if not refused:
            refused.append(offset)
            raise OSError(22, "Invalid argument")  # what O_DIRECT gives where the alignment is not enough
        real(fd, view, offset)

    monkeypatch.setattr(bundle_file, "_pwrite_all", refuse_first)
    data = os.urandom((64 << 10) * 5 + 123)
    with BundleFile(tmp_path / "fallback.bin", 0o600, direct=True, buffer_size=64 << 10, buffers=2) as out:
        was_direct = out.direct
        out.write(data)
        out.finish()
    assert (tmp_path / "fallback.bin").read_bytes() == data
    if was_direct:
        assert refused and not out.direct
