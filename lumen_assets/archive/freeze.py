"""Freeze one day of the workspace into `archive/YYYY-MM-DD/` in a single streaming pass.

Seed segC C2 `snapshot_freeze.py`, fixed: the bytes hashed are the bytes bundled; a re-freeze replaces the
day's folder whole (the seed left stale files and a duplicate index line); `tar_compression: xz` no longer
writes a file called `.tar.gz`; an encrypted copy (v2, see `encryption`) is written in the same pass, so
the sources are read once whatever the size and memory stays at a few small buffers plus one segment.

With encryption on, only the sealed copy is kept (issue 16 §3: a plaintext `bundle.tar`, 0644, used to
stay beside it); the manifest's bundle line then has no sha256 (AES-GCM authenticates every plaintext
byte, and verify re-hashes every member through decryption). Every output carries the strictest mode of
its sources (a 0600 source gives a 0600 bundle, manifest and sums in a 0700 folder).

Where the CPU goes, per GiB (issue 16 §3): SHA-256 of every member (the manifest) and SHA-256 of the stored
bytes (the index, S3's checksum, keyless verify) at ~0.65 s each, AES-GCM ~0.15 s, the read ~0.2 s. The
reader hashes members on the calling thread, a stage thread seals each chunk straight into the output's
buffer and hashes the sealed bytes there, and `BundleFile` writes them with O_DIRECT from its own thread
(buffered writes used to cost more CPU than both hashes together on this VM).
Pure module: no dagster import.
"""

from __future__ import annotations

import hashlib
import os
import queue
import secrets
import shutil
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lumen_assets.archive.bundle_file import BundleFile
from lumen_assets.archive.encryption import KDF_SCRYPT, StreamEncryptor, resolve_key_material
from lumen_assets.archive.index import upsert_index
from lumen_assets.archive.manifest import (
    MANIFEST_NAME,
    SUMS_NAME,
    FileEntry,
    build_manifest,
    render_manifest,
    render_sums,
)
from lumen_assets.archive.settings import ArchiveSettings
from lumen_assets.archive.tarball import (
    BUNDLE_NAMES,
    Compressor,
    FreezeError,
    collect_sources,
    end_of_archive,
    write_tar,
)

ENCRYPTED_SUFFIX = ".lumen.enc"
ENCRYPTED_FORMAT = "LUMENENC-v2"
INDEX_NAME = "index.jsonl"
CHUNK_SIZE = 256 << 10  # the tar stream's buffers: small enough to stay in a core's L2 between stages


class CountingSink:
    """Counts the plaintext bundle's bytes when only the sealed copy is kept. No digest: with no plaintext
    file left, nothing could be checked against it without the key, and with the key AES-GCM authenticates
    every plaintext byte and verify re-hashes every member against the manifest (one SHA-256 pass fewer)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)


class _Chunk:
    """One pooled buffer handed to every stage; back to the pool when the last stage is done with it."""

    __slots__ = ("buffer", "size", "last", "_users", "_lock", "_pool")

    def __init__(self, pool: queue.Queue[_Chunk], buffer: bytearray) -> None:
        self.buffer, self.size, self._pool = buffer, 0, pool
        self.last = False  # no byte follows this chunk's (the pipeline was closed)
        self._users = 0
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self.size, self.last = 0, False
            self._pool.put(self)


class _Stage:
    """A sink fed from its own thread through a queue. hashlib, AES-GCM and file writes release the GIL, so
    the stages run beside the tar reader on other cores."""

    _DONE = object()

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        # the encryptor seals whole segments straight from a chunk when told more bytes follow it
        self._tells_more = isinstance(sink, StreamEncryptor)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lumen-archive-stage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is self._DONE:
                return
            try:
                if self.error is None:
                    with memoryview(chunk.buffer) as view:
                        if self._tells_more:
                            self._sink.write(view[: chunk.size], more_follows=not chunk.last)
                        else:
                            self._sink.write(view[: chunk.size])
            except BaseException as exc:  # surfaced to the producer on its next chunk or on close
                self.error = exc
            finally:
                chunk.release()  # keep the pool flowing so the producer never blocks on a failed stage

    def put(self, chunk: _Chunk) -> None:
        self._queue.put(chunk)

    def close(self) -> None:
        self._queue.put(self._DONE)
        self._thread.join()


class ChunkPipeline:
    """The tar stream packed into a few large reused buffers, each full buffer handed to every stage.

    The tar writer reads files straight into the free space of the current buffer (`reserve` / `commit`),
    so the bytes are copied once, from the page cache into the buffer; no allocation per chunk (and no page
    faults). Memory is `pool` buffers whatever the bundle size. Buffers are small enough (256 KiB) to still
    sit in the CPU's L2 cache when the next stage hashes or seals them: with 8 MiB buffers SHA-256 ran at
    two thirds of its in-cache speed here, and 1 MiB chunks and segments cost ~0.35 s more CPU per GiB than
    256 KiB ones (bench/archive.py, issue 16 §3). With encryption the chunks hold whole segments and each
    chunk says whether bytes follow it, so the encryptor seals from the chunk itself.
    """

    def __init__(self, sinks: Sequence[Any], chunk_size: int = CHUNK_SIZE, pool: int = 16) -> None:
        self._pool: queue.Queue[_Chunk] = queue.Queue()
        for _ in range(pool):
            self._pool.put(_Chunk(self._pool, bytearray(chunk_size)))
        self._chunk_size = chunk_size
        self._stages = [_Stage(sink) for sink in sinks]
        self._current = self._pool.get()
        self.count = 0

    def _raise_stage_error(self) -> None:
        for stage in self._stages:
            if stage.error is not None:
                raise stage.error

    def _dispatch(self, last: bool = False) -> None:
        chunk = self._current
        self._raise_stage_error()
        chunk.last = last
        chunk._users = len(self._stages)
        for stage in self._stages:
            stage.put(chunk)
        self._current = self._pool.get()

    def reserve(self) -> memoryview:
        """The free space of the current buffer (never empty)."""
        if self._current.size == self._chunk_size:
            self._dispatch()
        return memoryview(self._current.buffer)[self._current.size :]

    def commit(self, count: int) -> None:
        self._current.size += count
        self.count += count

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            with self.reserve() as space:
                take = min(len(space), len(view))
                space[:take] = view[:take]
            self.commit(take)
            view = view[take:]

    def close(self) -> None:
        """Hand over the last partial buffer, wait for every stage, re-raise the first stage error."""
        try:
            if self._current.size and not any(stage.error for stage in self._stages):
                self._dispatch(last=True)
        finally:
            for stage in self._stages:
                stage.close()
        self._raise_stage_error()


class _Chain:
    """Stages that must see the bytes in turn in one thread (compression first, then its outputs)."""

    def __init__(self, *sinks: Any) -> None:
        self._sinks = sinks

    def write(self, data: bytes | bytearray | memoryview) -> None:
        for sink in self._sinks:
            sink.write(data)


@dataclass(frozen=True)
class FreezeResult:
    day: str
    day_dir: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    entries: list[FileEntry]
    skipped: list[tuple[str, str]]
    bundle_path: Path | None  # the plaintext bundle; None when only the encrypted copy is kept
    stored_path: Path  # what goes to the remote store: the encrypted file when encryption is on
    index_record: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)


def never_bundle(settings: ArchiveSettings, extra_dirs: Sequence[str]) -> list[str]:
    """Folders and globs a bundle never contains: the archive itself, Dagster's and Lumen's state, excludes."""
    dirs = [settings.archive_dir, *extra_dirs]
    return [d.strip("/") + "/" for d in dirs if d and not os.path.isabs(d)] + list(settings.exclude)


def freeze_day(
    root: Path,
    day: str,
    settings: ArchiveSettings,
    *,
    created_at: str,
    tar_mtime: int,
    never: Sequence[str] = (),
    secret: str | None = None,
) -> FreezeResult:
    """Build the day's bundle, manifest and sums in a temp folder, then swap it in and index it."""
    archive_root = root / settings.archive_dir
    archive_root.mkdir(parents=True, exist_ok=True)
    selection = collect_sources(root, settings.sources, [*never_bundle(settings, []), *never])
    encryption = settings.encryption
    if encryption.enable and not secret:
        raise FreezeError(f"archive encryption is enabled but environment variable {encryption.env_key} is not set")
    bundle_name = BUNDLE_NAMES[settings.compression]
    file_mode = strictest_mode(root, selection.files)
    staging = archive_root / f".{day}.tmp-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    try:
        encrypted_meta = None
        encryptor = None
        plain: BundleFile | CountingSink | None = None
        enc_file: BundleFile | None = None
        chunk_size = CHUNK_SIZE
        try:
            if encryption.enable:  # only the sealed copy is stored: no plaintext bundle stays behind
                plain = CountingSink()
                enc_file = BundleFile(staging / (bundle_name + ENCRYPTED_SUFFIX), file_mode)
                encryptor = StreamEncryptor(
                    enc_file,
                    resolve_key_material(secret or "", encryption.key_kind),
                    segment_size=encryption.segment_size,
                    scrypt_log2_n=encryption.scrypt_log2_n,
                    scrypt_r=encryption.scrypt_r,
                    scrypt_p=encryption.scrypt_p,
                )
                if encryption.segment_size <= 4 << 20:  # chunks of whole segments: each sealed with no copy
                    chunk_size = encryption.segment_size * max(1, CHUNK_SIZE // encryption.segment_size)
            else:
                plain = BundleFile(staging / bundle_name, file_mode)
            if settings.compression == "none":  # hash and seal on their own threads, beside the reader
                stages: list[Any] = [encryptor] if encryptor is not None else [plain]
                compressor = None
            else:  # the compressor is the bottleneck: one stage compresses, then hashes and seals its output
                compressor = Compressor(settings.compression, _Chain(plain, *([encryptor] if encryptor else [])))
                stages = [compressor]
            pipeline = ChunkPipeline(stages, chunk_size=chunk_size)
            try:
                entries = write_tar(root, selection.files, pipeline, mtime=tar_mtime)
                pipeline.write(end_of_archive(pipeline.count))
            finally:
                pipeline.close()  # joins the stages (and re-raises a stage's error)
            if compressor is None and isinstance(plain, CountingSink):
                plain.size = pipeline.count
            if compressor is not None:
                compressor.finish()
            if encryptor is not None:
                encryptor.close()
                encrypted_meta = {
                    "name": bundle_name + ENCRYPTED_SUFFIX,
                    "size": enc_file.size if enc_file else 0,
                    "sha256": enc_file.digest.hexdigest() if enc_file else "",
                    "format": ENCRYPTED_FORMAT,
                    "segment_size": encryption.segment_size,
                    "key": "passphrase (scrypt)" if encryptor.header.kdf == KDF_SCRYPT else "raw",
                }
            for sink in (plain, enc_file):
                if isinstance(sink, BundleFile):
                    sink.finish()  # everything on disk and fsynced before the folder is swapped in
        finally:
            for sink in (plain, enc_file):
                if isinstance(sink, BundleFile):
                    sink.close()  # stops its writer thread before the descriptor is closed
        bundle_meta = {
            "name": bundle_name,
            "size": plain.size,
            "sha256": plain.digest.hexdigest() if isinstance(plain, BundleFile) else None,  # None: sealed only
            "compression": settings.compression,
            "tar_format": "pax",
            "tar_mtime": tar_mtime,
        }
        manifest = build_manifest(
            label=settings.label,
            created_at=created_at,
            day=day,
            entries=entries,
            bundle=bundle_meta,
            encrypted=encrypted_meta,
        )
        manifest_text = render_manifest(manifest)
        _write_text(staging / MANIFEST_NAME, manifest_text, file_mode)
        _write_text(staging / SUMS_NAME, render_sums(entries), file_mode)
        os.chmod(staging, folder_mode(file_mode))
        day_dir = archive_root / day
        _swap_in(staging, day_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest_sha256 = hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
    stored_name = encrypted_meta["name"] if encrypted_meta else bundle_name
    record = {
        "date": day,
        "dir": f"{settings.archive_dir}/{day}",
        "manifest_sha256": manifest_sha256,
        "merkle_root": manifest["merkle"]["root"],
        "bundle_sha256": bundle_meta["sha256"],
        "stored": stored_name,
        "stored_sha256": encrypted_meta["sha256"] if encrypted_meta else bundle_meta["sha256"],
        "files": len(entries),
        "bytes": sum(e.size for e in entries),
        "created_at": created_at,
    }
    upsert_index(archive_root / INDEX_NAME, record)
    return FreezeResult(
        day=day,
        day_dir=day_dir,
        manifest=manifest,
        manifest_sha256=manifest_sha256,
        entries=entries,
        skipped=selection.skipped,
        bundle_path=None if encrypted_meta else day_dir / bundle_name,
        stored_path=day_dir / stored_name,
        index_record=record,
    )


def strictest_mode(root: Path, files: Sequence[str]) -> int:
    """The permission bits every source allows (0o644 & 0o600 -> 0o600): the archive's files get no more
    than the strictest source, so a 0600 secret inside is never readable by others through its bundle."""
    mode = 0o666
    for rel in files:
        mode &= stat.S_IMODE(os.stat(root / rel).st_mode)
    return mode & 0o666


def folder_mode(file_mode: int) -> int:
    """A day folder as open as its files, plus search (x) where they are readable; always usable by its owner."""
    return file_mode | ((file_mode & 0o444) >> 2) | 0o700


def _create(path: Path, mode: int) -> BinaryIO:
    """A new file created with `mode` from the start (never briefly wider, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb")


def _write_text(path: Path, text: str, mode: int) -> None:
    with _create(path, mode) as handle:
        handle.write(text.encode("utf-8"))


def _swap_in(staging: Path, day_dir: Path) -> None:
    """Replace `day_dir` by `staging` (renames only; the old folder is removed after the swap)."""
    old = None
    if day_dir.exists():
        old = day_dir.with_name(f".{day_dir.name}.old-{secrets.token_hex(4)}")
        os.replace(day_dir, old)
    os.replace(staging, day_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
