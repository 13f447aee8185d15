"""Witnessing: cosign a log's checkpoint only if it is consistent with everything seen before.

Why (issue 13 §3): a log key alone lets a log show one history to one verifier and a forked one to another;
both are validly signed. A witness keeps the newest checkpoint it has seen for each log, demands an RFC 9162
consistency proof (computed here from the log's C2SP tlog-tiles) before moving forward, refuses anything
else, and adds a C2SP tlog-cosignature line (https://c2sp.org/tlog-cosignature, cosignature/v1):

    — <witness name> base64(key id (4) || uint64 BE timestamp (8) || Ed25519 signature (64))

over "cosignature/v1\\ntime <timestamp>\\n" followed by the checkpoint body. key id = SHA-256(name || \\n ||
0x04 || public key)[:4]; a witness vkey is `<name>+<key id hex>+<base64(0x04 || public key)>`. A verifier that
requires N of its pinned witnesses cannot be shown a fork unless N witnesses were fooled.

Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import struct
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lumen_assets.atomic import atomic_write_text
from lumen_assets.tlog.checkpoint import (
    SIG_PREFIX,
    Checkpoint,
    CheckpointError,
    decode_vkey,
    encode_vkey,
    key_id,
    open_checkpoint,
    split_note,
    strict_b64decode,
)
from lumen_assets.tlog.merkle import HASH_SIZE, consistency_path, node_hash, verify_consistency
from lumen_assets.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, tile_path

ALG_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = "cosignature/v1\n"


class WitnessError(ValueError):
    """A checkpoint the witness refuses to cosign, or a malformed witness key; the message says why."""


def cosigner_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    return key_id(name, public_key, ALG_COSIGNATURE_V1)


def witness_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    return encode_vkey(name, public_key, ALG_COSIGNATURE_V1, WitnessError, "witness name")


def parse_witness_vkey(vkey: str) -> tuple[str, Ed25519PublicKey]:
    return decode_vkey(vkey, ALG_COSIGNATURE_V1, WitnessError, "witness key",
                       "a cosignature/v1 Ed25519 key (type 0x04)")


def cosignature_line(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    message = f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()
    blob = cosigner_key_id(name, private_key.public_key()) + struct.pack(">Q", timestamp) + private_key.sign(message)
    return f"{SIG_PREFIX}{name} {base64.b64encode(blob).decode()}"


def cosignature_time(note: str, vkey: str) -> int | None:
    """The timestamp of a valid cosignature by `vkey` on `note`, or None when it has none."""
    name, public_key = parse_witness_vkey(vkey)
    expected_id = cosigner_key_id(name, public_key)
    try:
        body, lines = split_note(note)
    except CheckpointError:
        return None
    for line in lines:
        if not line.startswith(SIG_PREFIX + name + " "):
            continue
        try:
            blob = strict_b64decode(line[len(SIG_PREFIX) + len(name) + 1 :])
        except ValueError:
            continue
        if len(blob) != 76 or blob[:4] != expected_id:
            continue
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        try:
            public_key.verify(blob[12:], f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode())
        except InvalidSignature:
            continue
        return timestamp
    return None


def count_cosignatures(notes: Iterable[str], witness_vkeys: Iterable[str]) -> set[str]:
    """Names of the pinned witnesses with a valid cosignature in any of `notes` (same checkpoint, several copies)."""
    notes = list(notes)
    counted = set()
    for vkey in witness_vkeys:
        if any(cosignature_time(note, vkey) is not None for note in notes):
            counted.add(parse_witness_vkey(vkey)[0])
    return counted


# -- reading a tiled log ----------------------------------------------------------------------------------


Fetch = Callable[[str], bytes]


def fetcher(base: str) -> Fetch:
    """GET `<base>/<path>` over HTTP(S), or read `<base>/<path>` from a folder."""
    if base.startswith(("http://", "https://")):
        prefix = base.rstrip("/") + "/"

        def fetch_url(path: str) -> bytes:
            with urllib.request.urlopen(urllib.parse.urljoin(prefix, path), timeout=30) as response:  # noqa: S310
                return response.read()
        return fetch_url

    def fetch_file(path: str) -> bytes:
        return (Path(base) / path).read_bytes()
    return fetch_file


class TiledTree:
    """Perfect-subtree hashes of a tree of `tree_size` leaves, read from tlog-tiles through `fetch`."""

    def __init__(self, fetch: Fetch, tree_size: int) -> None:
        self.fetch, self.tree_size = fetch, tree_size
        self._tiles: dict[tuple[int, int], bytes] = {}

    def _tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._tiles:
            width = min(TILE_WIDTH, (self.tree_size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH)
            try:
                data = self.fetch(tile_path(level, index, width))
            except OSError:
                if width == TILE_WIDTH:
                    raise
                data = self.fetch(tile_path(level, index))  # the partial may be gone once the tile is full
            if len(data) < width * HASH_SIZE:
                raise WitnessError(f"{tile_path(level, index, width)}: {len(data)} bytes, expected {width * HASH_SIZE}")
            self._tiles[key] = data
        return self._tiles[key]

    def perfect(self, level: int, index: int) -> bytes:
        tile_level, rest = divmod(level, TILE_HEIGHT)
        first = index << rest
        tile = self._tile(tile_level, first // TILE_WIDTH)
        offset = first % TILE_WIDTH
        nodes = [tile[(offset + i) * HASH_SIZE : (offset + i + 1) * HASH_SIZE] for i in range(1 << rest)]
        while len(nodes) > 1:
            nodes = [node_hash(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
        return nodes[0]


# -- the witness ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cosigned:
    note: str                 # the checkpoint with the witness's cosignature line added
    checkpoint: Checkpoint
    previous_size: int | None
    timestamp: int


def state_file(state_dir: Path, origin: str) -> Path:
    return Path(state_dir) / "logs" / (urllib.parse.quote(origin, safe="") + ".checkpoint")


def cosign(note: str, log_vkey: str, state_dir: Path, name: str, private_key: Ed25519PrivateKey,
           fetch: Fetch, timestamp: int) -> Cosigned:
    """Check `note` against the newest checkpoint seen for its log, record it, and cosign it."""
    try:
        checkpoint = open_checkpoint(note, log_vkey)
    except CheckpointError as exc:
        raise WitnessError(f"the checkpoint does not verify with the log key: {exc}") from exc
    path = state_file(state_dir, checkpoint.origin)
    previous_size = None
    if path.exists():
        previous = open_checkpoint(path.read_text(), log_vkey)
        previous_size = previous.tree_size
        if checkpoint.tree_size < previous.tree_size:
            raise WitnessError(f"refused: size {checkpoint.tree_size} is older than size {previous.tree_size} "
                               "already witnessed (rollback)")
        if checkpoint.tree_size == previous.tree_size and checkpoint.root_hash != previous.root_hash:
            raise WitnessError(f"refused: a different root at size {checkpoint.tree_size} than the one witnessed "
                               "(the log forked)")
        if checkpoint.tree_size > previous.tree_size:
            try:
                proof = consistency_path(TiledTree(fetch, checkpoint.tree_size), previous.tree_size,
                                         checkpoint.tree_size)
            except (OSError, ValueError) as exc:
                raise WitnessError(f"refused: no consistency proof from size {previous.tree_size} "
                                   f"({exc})") from exc
            if not verify_consistency(previous.tree_size, checkpoint.tree_size, proof, previous.root_hash,
                                      checkpoint.root_hash):
                raise WitnessError(f"refused: size {checkpoint.tree_size} is not consistent with size "
                                   f"{previous.tree_size} already witnessed (the log forked)")
    body, _ = split_note(note)
    path.parent.mkdir(parents=True, exist_ok=True)
    if previous_size != checkpoint.tree_size:
        atomic_write_text(path, note)
    line = cosignature_line(body, name, private_key, timestamp)
    return Cosigned(note + line + "\n", checkpoint, previous_size, timestamp)
