"""`lumen tlog serve`: the seed's read-only TLog server (segD §7.6, §9), as C2SP tlog-tiles plus JSON look-ups.

Why: the seed's FastAPI server recomputed the whole tree from a JSONL per request and returned an unsigned
root. Here the server only reads files the log already published:

    GET /checkpoint                   the signed checkpoint      text/plain; Cache-Control: max-age=5
    GET /tile/<L>/<N>[.p/<W>]         hash tiles                 immutable (max-age one year)
    GET /tile/entries/<N>[.p/<W>]     entry bundles (gzip when the client accepts it), immutable
    GET /v1/log/root                  {"size", "rootHash", "checkpoint"}
    GET /v1/log/entry/<index>         {"index", "leafHash", "treeSize", "rootHash", "proof", "checkpoint"}
    GET /v1/log/proof/leaf/<hex>      the same, for a leaf hash
    GET /v1/log/proof/sha256/<hex>    the same, for an artefact's sha256 (the subject of a logged envelope)
    GET /healthz

Only GET and HEAD exist: there is no write route (anything else is 405). Proofs are computed from the tiles
(the same files any tlog-tiles client reads), against the checkpoint being served, and carry it so a client
checks them offline with the pinned log key. Starlette on uvicorn (not http.server).

Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lumen_assets.tlog.audit import envelope_subjects
from lumen_assets.tlog.checkpoint import CheckpointError, parse_checkpoint_body, split_note
from lumen_assets.tlog.merkle import inclusion_path
from lumen_assets.tlog.publish import CHECKPOINT_FILE, ENTRIES_FILE
from lumen_assets.tlog.tiles import ENTRIES, TILE_WIDTH, TileError, parse_tile_path, read_bundle
from lumen_assets.tlog.witness import TiledTree

CHECKPOINT_CACHE = "public, max-age=5"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
NOT_FOUND_CACHE = "no-store"
TILE_CACHE_ENTRIES = 4096


class TileStore:
    """Tile files by path, read once (they are immutable by name) and kept in a bounded LRU."""

    def __init__(self, tlog_dir: Path, capacity: int = TILE_CACHE_ENTRIES) -> None:
        self.tlog_dir = Path(tlog_dir)
        self.capacity = capacity
        self._cache: OrderedDict[str, tuple[bytes, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, rel: str) -> tuple[bytes, bytes | None] | None:
        """(bytes, gzip of the bytes for entry bundles) of a tile, or None when there is no such file."""
        with self._lock:
            hit = self._cache.get(rel)
            if hit is not None:
                self._cache.move_to_end(rel)
                return hit
        path = self.tlog_dir / rel
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        packed = gzip.compress(data, compresslevel=6) if rel.startswith(f"tile/{ENTRIES}/") else None
        with self._lock:
            self._cache[rel] = (data, packed)
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return data, packed

    def fetch(self, rel: str) -> bytes:
        found = self.get(rel)
        if found is None:
            raise FileNotFoundError(rel)
        return found[0]


class LogView:
    """The served checkpoint and the look-up maps for it, refreshed when `checkpoint` changes on disk."""

    def __init__(self, tlog_dir: Path, tiles: TileStore) -> None:
        self.tlog_dir, self.tiles = Path(tlog_dir), tiles
        self._stamp: tuple[int, int] | None = None
        self.note = ""
        self.size = 0
        self.root = b""
        self.by_leaf: dict[str, int] = {}
        self.by_digest: dict[str, int] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        path = self.tlog_dir / CHECKPOINT_FILE
        try:
            stat = path.stat()
        except FileNotFoundError:
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            note = path.read_text()
            checkpoint = parse_checkpoint_body(split_note(note)[0])
            by_leaf, by_digest = {}, {}
            for line in (self.tlog_dir / ENTRIES_FILE).read_text().splitlines() if (self.tlog_dir / ENTRIES_FILE).exists() else []:
                try:
                    record = json.loads(line)
                    index = int(record["index"])
                except (ValueError, KeyError, TypeError):
                    continue
                if index < checkpoint.tree_size:
                    by_leaf[str(record.get("leaf_hash"))] = index
            for bundle in range((checkpoint.tree_size + TILE_WIDTH - 1) // TILE_WIDTH):
                width = min(TILE_WIDTH, checkpoint.tree_size - bundle * TILE_WIDTH)
                for offset, entry in enumerate(read_bundle(self.tlog_dir, bundle, width) or []):
                    for digest in _subject_digests(entry):
                        by_digest[digest] = bundle * TILE_WIDTH + offset
            self.note, self.size, self.root = note, checkpoint.tree_size, checkpoint.root_hash
            self.by_leaf, self.by_digest = by_leaf, by_digest
            self._stamp = stamp

    def proof(self, index: int) -> dict[str, Any]:
        tree = TiledTree(self.tiles.fetch, self.size)
        leaf = tree.perfect(0, index)
        return {"index": index, "leafHash": leaf.hex(), "treeSize": self.size, "rootHash": self.root.hex(),
                "proof": [h.hex() for h in inclusion_path(tree, index, self.size)], "checkpoint": self.note}


def _subject_digests(entry: bytes) -> list[str]:
    if envelope_subjects(entry) is None:
        return []
    statement = json.loads(base64.b64decode(json.loads(entry)["payload"]))
    return [s["digest"]["sha256"] for s in statement["subject"] if isinstance(s.get("digest"), dict)
            and isinstance(s["digest"].get("sha256"), str)]


def _not_found(detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=404, headers={"Cache-Control": NOT_FOUND_CACHE})


def build_app(tlog_dir: Path) -> Starlette:
    tiles = TileStore(tlog_dir)
    view = LogView(tlog_dir, tiles)

    async def checkpoint(request: Request) -> Response:
        note = (Path(tlog_dir) / CHECKPOINT_FILE)
        if not note.exists():
            return _not_found("the log has no checkpoint yet")
        return Response(note.read_bytes(), media_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": CHECKPOINT_CACHE})

    async def tile(request: Request) -> Response:
        rel = "tile/" + request.path_params["path"]
        try:
            parse_tile_path(rel)
        except TileError:
            return _not_found("not a tlog-tiles path")
        found = tiles.get(rel)
        if found is None:
            return _not_found("no such tile")
        data, packed = found
        headers = {"Cache-Control": IMMUTABLE_CACHE}
        if packed is not None:
            headers["Vary"] = "Accept-Encoding"
            if "gzip" in request.headers.get("accept-encoding", ""):
                headers["Content-Encoding"] = "gzip"
                data = packed
        return Response(data, media_type="application/octet-stream", headers=headers)

    def _json_proof(index: int) -> Response:
        if not 0 <= index < view.size:
            return _not_found(f"no leaf {index} in the served tree of size {view.size}")
        try:
            return JSONResponse(view.proof(index), headers={"Cache-Control": CHECKPOINT_CACHE})
        except (OSError, ValueError) as exc:
            return JSONResponse({"error": f"tiles unavailable: {exc}"}, status_code=503)

    async def root(request: Request) -> Response:
        view.refresh()
        return JSONResponse({"size": view.size, "rootHash": view.root.hex() if view.note else None,
                             "checkpoint": view.note}, headers={"Cache-Control": CHECKPOINT_CACHE})

    async def entry(request: Request) -> Response:
        view.refresh()
        return _json_proof(request.path_params["index"])

    async def by_leaf(request: Request) -> Response:
        view.refresh()
        index = view.by_leaf.get(request.path_params["hex"].lower())
        return _not_found("no such leaf hash under the served checkpoint") if index is None else _json_proof(index)

    async def by_digest(request: Request) -> Response:
        view.refresh()
        index = view.by_digest.get(request.path_params["hex"].lower())
        return _not_found("no logged envelope for this sha256") if index is None else _json_proof(index)

    async def healthz(request: Request) -> Response:
        try:
            view.refresh()
        except (OSError, CheckpointError, ValueError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=503)
        return JSONResponse({"ok": True, "size": view.size}, headers={"Cache-Control": NOT_FOUND_CACHE})

    get = ["GET", "HEAD"]
    return Starlette(routes=[
        Route("/checkpoint", checkpoint, methods=get),
        Route("/tile/{path:path}", tile, methods=get),
        Route("/v1/log/root", root, methods=get),
        Route("/v1/log/entry/{index:int}", entry, methods=get),
        Route("/v1/log/proof/leaf/{hex}", by_leaf, methods=get),
        Route("/v1/log/proof/sha256/{hex}", by_digest, methods=get),
        Route("/healthz", healthz, methods=get),
    ])


def serve(workspace: Path, config: Any, host: str = "127.0.0.1", port: int = 8089) -> None:
    """Run the read-only server on uvicorn until interrupted."""
    import uvicorn

    tlog_dir = Path(workspace) / config.tlog.dir
    print(f"lumen tlog serve: {tlog_dir} read-only on http://{host}:{port}/ (checkpoint, tile/, v1/log/)", flush=True)
    uvicorn.run(build_app(tlog_dir), host=host, port=port, log_level="warning", access_log=False)

