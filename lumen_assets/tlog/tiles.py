"""The log published in the C2SP tlog-tiles layout, beside the checkpoint in the log directory.

Why (issue 13 §4): the seed's read-only server computed proofs per request from a JSONL (segD §7.6). A tiled
log is a finite set of static files any tlog-tiles client can read from any static server or CDN:

    checkpoint                      the signed note (already written by publish.append_entries)
    tile/<L>/<N>[.p/<W>]            256 hashes (8,192 bytes) of tree level 8*L; `.p/<W>` a partial tile of W
    tile/entries/<N>[.p/<W>]        the entries themselves, each as a big-endian uint16 length + bytes

<N> is written as zero-padded 3-digit groups, all but the last prefixed with `x` (1234067 -> x001/x234/067).
A level-L tile is a byte range of Lumen's own index (level 8*L of `levels/`, `leaves.bin` for L = 0), so the
tiles and the index agree by construction, and `audit` re-checks it. The entry bundles are also where the log
keeps its leaf data: the audit recomputes every leaf hash from them (https://c2sp.org/tlog-tiles).

Pure module: no dagster import.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from lumen_assets.atomic import atomic_write_bytes
from lumen_assets.tlog.merkle import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_DIR = "tile"
ENTRIES = "entries"
MAX_ENTRY = 0xFFFF
_PATH = re.compile(r"^tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?$")


class TileError(ValueError):
    """A tile path or entry bundle that does not follow the tlog-tiles format; the message says where."""


def encode_index(index: int) -> str:
    """1234067 -> 'x001/x234/067' (tlog-tiles <N>)."""
    if index < 0:
        raise TileError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """`tile/<L>/<N>` for a full tile, `tile/<L>/<N>.p/<W>` for a partial one; level 'entries' for bundles."""
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width {width} is outside 1..256")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{TILE_DIR}/{level}/{encode_index(index)}{suffix}"


def parse_tile_path(path: str) -> tuple[int | str, int, int]:
    """(level or 'entries', index, width) of a tile path; raises TileError for anything else."""
    match = _PATH.match(path)
    if not match:
        raise TileError(f"{path!r} is not a tlog-tiles path")
    level_text, index_text, width_text = match.groups()
    width = int(width_text) if width_text else TILE_WIDTH
    if width > 255 and width_text:
        raise TileError(f"{path!r}: partial width {width} must be 1..255")
    index = int(index_text.replace("x", "").replace("/", ""))
    if encode_index(index) != index_text:
        raise TileError(f"{path!r}: tile index is not canonically encoded")
    level: int | str = level_text if level_text == ENTRIES else int(level_text)
    if isinstance(level, int) and level > 63:
        raise TileError(f"{path!r}: level {level} is beyond 63")
    return level, index, width


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length followed by its bytes."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise TileError(f"an entry of {len(entry)} bytes does not fit a tlog-tiles bundle (max {MAX_ENTRY})")
        parts.append(struct.pack(">H", len(entry)) + entry)
    return b"".join(parts)


def decode_bundle(data: bytes, name: str = "entry bundle") -> list[bytes]:
    """The entries of a bundle; a truncated length or entry is an error naming the byte offset."""
    entries, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise TileError(f"{name}: truncated length prefix at byte {offset}")
        (length,) = struct.unpack_from(">H", data, offset)
        if offset + 2 + length > len(data):
            raise TileError(f"{name}: entry at byte {offset} claims {length} bytes, only {len(data) - offset - 2} left")
        entries.append(data[offset + 2 : offset + 2 + length])
        offset += 2 + length
    return entries


def tiles_for_size(tree_size: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of every hash tile a client may need for a tree of `tree_size` leaves."""
    tiles = []
    level = 0
    while (nodes := tree_size >> (TILE_HEIGHT * level)) > 0:
        for index in range((nodes + TILE_WIDTH - 1) // TILE_WIDTH):
            tiles.append((level, index, min(TILE_WIDTH, nodes - index * TILE_WIDTH)))
        level += 1
    return tiles


def changed_tiles(old_size: int, new_size: int) -> list[tuple[int, int, int]]:
    """The hash tiles of `new_size` that a log of `old_size` did not already publish in full."""
    return [(level, index, width) for level, index, width in tiles_for_size(new_size)
            if (index + 1) * TILE_WIDTH > old_size >> (TILE_HEIGHT * level)]


class LevelSource(Protocol):
    """What tiles are cut from: `read_level(tree_level, start, end)` gives nodes [start, end) of a tree level."""

    def read_level(self, level: int, start: int, end: int) -> bytes: ...


def tile_bytes(source: LevelSource, level: int, index: int, width: int) -> bytes:
    start = index * TILE_WIDTH
    return source.read_level(TILE_HEIGHT * level, start, start + width)


def write_hash_tiles(tlog_dir: Path, source: LevelSource, old_size: int, new_size: int) -> list[str]:
    """Write the hash tiles that growing from `old_size` to `new_size` made or changed; returns their paths."""
    written = []
    for level, index, width in changed_tiles(old_size, new_size):
        rel = tile_path(level, index, width)
        atomic_write_bytes(Path(tlog_dir) / rel, tile_bytes(source, level, index, width))
        written.append(rel)
    return written


def read_bundle(tlog_dir: Path, index: int, width: int) -> list[bytes] | None:
    """Entries [256*index, 256*index + width) from the full or partial bundle on disk, or None if absent."""
    full = Path(tlog_dir) / tile_path(ENTRIES, index)
    path = full if full.exists() else Path(tlog_dir) / tile_path(ENTRIES, index, width)
    if not path.exists():
        return None
    entries = decode_bundle(path.read_bytes(), path.relative_to(Path(tlog_dir)).as_posix())
    if len(entries) < width:
        return None
    return entries[:width]


def write_entry_bundles(tlog_dir: Path, first: int, entries: Sequence[bytes]) -> list[str]:
    """Write the bundles holding leaves [first, first + len(entries)), reusing the partial bundle before them.

    Raises TileError when the bundle's earlier entries are not on disk (a log written before bundles existed).
    """
    tlog_dir = Path(tlog_dir)
    written: list[str] = []
    position, remaining = first, list(entries)
    while remaining:
        index, offset = divmod(position, TILE_WIDTH)
        previous: list[bytes] = []
        if offset:
            found = read_bundle(tlog_dir, index, offset)
            if found is None:
                raise TileError(f"{tile_path(ENTRIES, index, offset)}: missing, so leaves {index * TILE_WIDTH}.."
                                f"{position - 1} have no entry data to extend")
            previous = found
        take = remaining[: TILE_WIDTH - offset]
        remaining = remaining[len(take):]
        bundle = previous + take
        rel = tile_path(ENTRIES, index, len(bundle))
        atomic_write_bytes(tlog_dir / rel, encode_bundle(bundle))
        written.append(rel)
        position += len(take)
    return written


def hash_count(data: bytes, name: str) -> int:
    if len(data) % HASH_SIZE:
        raise TileError(f"{name}: {len(data)} bytes is not a whole number of hashes")
    return len(data) // HASH_SIZE
