"""Freeze one day of the workspace into `archive/YYYY-MM-DD/` in a single streaming pass.

Seed segC C2 `snapshot_freeze.py`, fixed: the bytes hashed are the bytes bundled; a re-freeze replaces the
day's folder whole (the seed left stale files and a duplicate index line); `tar_compression: xz` no longer
writes a file called `.tar.gz`; an encrypted copy (v2, see `encryption`) is written in the same pass, so
the sources are read once whatever the size and memory stays at one chunk plus one segment.
Pure module: no dagster import.
"""

from __future__ import annotations

import hashlib
import os
import queue
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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
    TarFinisher,
    collect_sources,
    write_tar,
)

ENCRYPTED_SUFFIX = ".lumen.enc"
ENCRYPTED_FORMAT = "LUMENENC-v2"
INDEX_NAME = "index.jsonl"


class HashingFile:
    """A write sink that hashes and counts what it writes to a file (the stored bytes' digest)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.digest.update(data)
        self.handle.write(data)
        self.size += len(data)


class BackgroundWriter:
    """Feeds a sink from a worker thread through a bounded queue (at most `depth` chunks in flight).

    hashlib and file writes release the GIL, so the bundle's digest + write and the encryption + its
    digest + write run beside the tar reader on other cores; memory stays bounded by the queue depth.
    """

    _DONE = object()

    def __init__(self, sink: Any, depth: int = 4) -> None:
        self._sink = sink
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lumen-archive-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if self._error is None:
                try:
                    self._sink.write(item)
                except BaseException as exc:  # surfaced to the producer on its next write or on close
                    self._error = exc
            elif isinstance(item, _Shared):
                item.release()  # keep the buffer pool flowing so the producer never blocks on it

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        self._queue.put(self._DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _Shared:
    """One pooled buffer handed to several workers; back to the pool when the last one is done."""

    def __init__(self, pool: queue.Queue[bytearray], buffer: bytearray, size: int, users: int) -> None:
        self._pool, self._buffer, self._size = pool, buffer, size
        self._users = users
        self._lock = threading.Lock()

    def view(self) -> memoryview:
        return memoryview(self._buffer)[: self._size]

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self._pool.put(self._buffer)


class _SharedWriter:
    """Adapts a sink to pooled chunks: write the chunk's bytes, then release it."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def write(self, item: Any) -> None:
        if isinstance(item, _Shared):
            try:
                with item.view() as view:
                    self.sink.write(view)
            finally:
                item.release()
        else:
            self.sink.write(item)


class BundleSink:
    """The (compressed) tar bytes: hashed and written to the bundle file and, if enabled, encrypted.

    Chunks are copied once into a small pool of reused buffers (the tar writer reuses its own), shared
    by the workers; the pool size bounds memory and avoids a fresh allocation per chunk.
    """

    POOL = 8
    BUFFER = 1 << 20

    def __init__(self, plain: HashingFile, encryptor: StreamEncryptor | None) -> None:
        sinks: list[Any] = [plain] + ([encryptor] if encryptor is not None else [])
        self._workers = [BackgroundWriter(_SharedWriter(sink)) for sink in sinks]
        self._pool: queue.Queue[bytearray] = queue.Queue()
        for _ in range(self.POOL):
            self._pool.put(bytearray(self.BUFFER))

    def write(self, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if size > self.BUFFER:
            chunk: Any = bytes(data)
        else:
            buffer = self._pool.get()
            buffer[:size] = data
            chunk = _Shared(self._pool, buffer, size, len(self._workers))
        for worker in self._workers:
            worker.write(chunk)

    def close(self) -> None:
        errors = []
        for worker in self._workers:
            try:
                worker.close()
            except BaseException as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


@dataclass(frozen=True)
class FreezeResult:
    day: str
    day_dir: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    entries: list[FileEntry]
    skipped: list[tuple[str, str]]
    bundle_path: Path
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
    staging = archive_root / f".{day}.tmp-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        encrypted_meta = None
        with open(staging / bundle_name, "wb") as bundle_handle:
            plain = HashingFile(bundle_handle)
            enc_handle = enc_file = encryptor = None
            if encryption.enable:
                enc_handle = open(staging / (bundle_name + ENCRYPTED_SUFFIX), "wb")
                enc_file = HashingFile(enc_handle)
                encryptor = StreamEncryptor(
                    enc_file,
                    resolve_key_material(secret or "", encryption.key_kind),
                    segment_size=encryption.segment_size,
                    scrypt_log2_n=encryption.scrypt_log2_n,
                    scrypt_r=encryption.scrypt_r,
                    scrypt_p=encryption.scrypt_p,
                )
            sink = BundleSink(plain, encryptor)
            try:
                compressor = Compressor(settings.compression, sink)
                tar_stream = TarFinisher(compressor)
                try:
                    entries = write_tar(root, selection.files, tar_stream, mtime=tar_mtime)
                    tar_stream.finish()
                    compressor.finish()
                finally:
                    sink.close()  # joins the workers (and re-raises a worker's error)
                if encryptor is not None and enc_file is not None and enc_handle is not None:
                    encryptor.close()
                    enc_handle.flush()
                    os.fsync(enc_handle.fileno())
                    encrypted_meta = {
                        "name": bundle_name + ENCRYPTED_SUFFIX,
                        "size": enc_file.size,
                        "sha256": enc_file.digest.hexdigest(),
                        "format": ENCRYPTED_FORMAT,
                        "segment_size": encryption.segment_size,
                        "key": "passphrase (scrypt)" if encryptor.header.kdf == KDF_SCRYPT else "raw",
                    }
            finally:
                if enc_handle is not None:
                    enc_handle.close()
            bundle_handle.flush()
            os.fsync(bundle_handle.fileno())
        bundle_meta = {
            "name": bundle_name,
            "size": plain.size,
            "sha256": plain.digest.hexdigest(),
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
        (staging / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
        (staging / SUMS_NAME).write_text(render_sums(entries), encoding="utf-8")
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
        bundle_path=day_dir / bundle_name,
        stored_path=day_dir / stored_name,
        index_record=record,
    )


def _swap_in(staging: Path, day_dir: Path) -> None:
    """Replace `day_dir` by `staging` (renames only; the old folder is removed after the swap)."""
    old = None
    if day_dir.exists():
        old = day_dir.with_name(f".{day_dir.name}.old-{secrets.token_hex(4)}")
        os.replace(day_dir, old)
    os.replace(staging, day_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
