"""`lumen tlog serve` as a real process on 127.0.0.1, read with a real HTTP client (requests) and with the
independent tlog-tiles reader of tests/tlog/tiles_reader.py; tiles and the index agree."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lumen_assets.tlog.log import TransparencyLog
from lumen_assets.tlog.merkle import leaf_hash, verify_inclusion
from lumen_assets.tlog.publish import append_entries
from lumen_assets.tlog.tiles import encode_index, tile_path, tiles_for_size
from lumen_assets.tlog.witness import TiledTree, fetcher
from tests.attest.conftest import ORIGIN, Attested, attest_and_log
from tests.support.servers import free_port
from tests.tlog.tiles_reader import Reader, path

pytestmark = pytest.mark.integration


def start_server(workspace: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "lumen_assets.cli", "tlog", "serve", "--workspace",
                                str(workspace), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                return process, base
        except requests.ConnectionError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode() if process.stdout else "server died")
    process.kill()
    raise RuntimeError("lumen tlog serve did not come up")


@pytest.fixture
def served(attested: Attested) -> Iterator[tuple[Attested, str]]:
    for day in range(3, 6):  # a few appends: several checkpoints and partial tiles
        rel = f"controls/reports/report_2025-01-0{day}.md"
        (attested.workspace / rel).write_text(f"# day {day}\n")
        attest_and_log(attested.workspace, [rel], attested.trust)
    process, base = start_server(attested.workspace)
    try:
        yield attested, base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tile_paths_follow_the_spec() -> None:
    assert encode_index(1234067) == "x001/x234/067" and encode_index(5) == "005"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067" and tile_path("entries", 3, 17) == "tile/entries/003.p/17"
    # size 70,000: 273 full level-0 tiles, one of 112, one full level-1 tile, one of 17, one level-2 tile of 1
    tiles = tiles_for_size(70_000)
    assert [t for t in tiles if t[0] == 0 and t[2] != 256] == [(0, 273, 112)]
    assert [t for t in tiles if t[0] > 0] == [(1, 0, 256), (1, 1, 17), (2, 0, 1)]


def test_independent_reader_and_json_lookups(served: tuple[Attested, str]) -> None:
    attested, base = served
    ws = attested.workspace
    vkey = (ws / "attest/trust/log.vkey").read_text().strip()
    session = requests.Session()

    def get(rel: str) -> bytes:
        response = session.get(f"{base}/{rel}", timeout=10)
        assert response.status_code == 200, (rel, response.status_code)
        return response.content

    view = Reader(get, vkey).read()
    assert view["origin"] == ORIGIN and view["size"] == 8

    checkpoint = session.get(base + "/checkpoint", timeout=10)
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    assert checkpoint.headers["cache-control"] == "public, max-age=5"
    tile = session.get(base + "/tile/0/000.p/8", timeout=10)
    assert tile.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert tile.headers["content-type"] == "application/octet-stream"
    bundle = session.get(base + "/tile/entries/000.p/8", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    assert bundle.headers["content-encoding"] == "gzip" and bundle.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(bundle.raw.read()) == (ws / "tlog/tile/entries/000.p/8").read_bytes()
    missing = session.get(base + "/tile/0/001", timeout=10)
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    assert session.get(base + "/tile/../../attest/trust/log.vkey", timeout=10).status_code == 404

    # JSON look-ups: by index, by leaf hash, by artefact digest; each proof verifies and matches the index
    envelope = (ws / "attest/controls/reports/report_2025-01-02.md.dsse.json").read_bytes()
    digest = hashlib.sha256(attested.report.read_bytes()).hexdigest()
    by_leaf = session.get(f"{base}/v1/log/proof/leaf/{leaf_hash(envelope).hex()}", timeout=10).json()
    by_digest = session.get(f"{base}/v1/log/proof/sha256/{digest}", timeout=10).json()
    by_index = session.get(f"{base}/v1/log/entry/{by_leaf['index']}", timeout=10).json()
    assert by_leaf == by_digest == by_index
    proof = [bytes.fromhex(h) for h in by_leaf["proof"]]
    assert verify_inclusion(leaf_hash(envelope), by_leaf["index"], 8, proof, view["root"])
    assert proof == path(by_leaf["index"], view["leaves"])  # the independent reader's audit path
    with TransparencyLog(ws / "tlog") as log:
        assert proof == log.inclusion_proof(by_leaf["index"], 8)  # Lumen's own index agrees with the tiles
    assert session.get(f"{base}/v1/log/entry/99", timeout=10).status_code == 404
    assert session.get(f"{base}/v1/log/root", timeout=10).json()["size"] == 8


def test_there_is_no_write_route(served: tuple[Attested, str]) -> None:
    _, base = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for rel in ("/checkpoint", "/tile/0/000.p/8", "/v1/log/root", "/v1/log/entry/0"):
            assert requests.request(method, base + rel, data=b"x", timeout=10).status_code == 405, (method, rel)
    assert requests.post(base + "/v1/log/entries", json={"payload": "x"}, timeout=10).status_code == 404


def test_the_server_follows_new_appends(served: tuple[Attested, str]) -> None:
    attested, base = served
    (attested.workspace / "late.md").write_text("late\n")
    attest_and_log(attested.workspace, ["late.md"], attested.trust)
    time.sleep(0.05)
    assert requests.get(base + "/v1/log/root", timeout=10).json()["size"] == 9
    assert requests.get(base + "/tile/0/000.p/9", timeout=10).status_code == 200


def test_tiles_and_index_agree_across_tile_boundaries(tmp_path: Path) -> None:
    """600 leaves in uneven batches: full and partial tiles at two levels; every proof from the tiles equals
    the index's, and the independent reader accepts the folder served as static files."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumen_assets.tlog.checkpoint import verifier_key

    key = Ed25519PrivateKey.generate()
    tlog = tmp_path / "tlog"
    done = 0
    for batch in (1, 254, 3, 300, 42):
        append_entries(tlog, [(f"e{i}", b"entry %d" % i) for i in range(done, done + batch)], ORIGIN, ORIGIN, key)
        done += batch
    vkey = verifier_key(ORIGIN, key.public_key())
    view = Reader(lambda rel: (tlog / rel).read_bytes(), vkey).read()
    assert view["size"] == 600
    tree = TiledTree(fetcher(str(tlog)), 600)
    with TransparencyLog(tlog) as log:
        for index in (0, 255, 256, 511, 512, 599):
            from lumen_assets.tlog.merkle import inclusion_path

            assert inclusion_path(tree, index, 600) == log.inclusion_proof(index, 600)
        from lumen_assets.tlog.merkle import consistency_path

        for old in (1, 255, 256, 258, 558):
            assert consistency_path(tree, old, 600) == log.consistency_proof(old, 600)


def test_a_witness_follows_the_log_over_http(served: tuple[Attested, str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from lumen_assets.cli import main

    attested, base = served
    monkeypatch.setenv("LUMEN_WITNESS_PASS", "witness-secret")
    state = tmp_path / "witness"
    assert main(["witness", "init", "--state", str(state), "--name", "witness.example/w1"]) == 0
    log_key = str(attested.workspace / "attest/trust/log.vkey")
    assert main(["witness", "cosign", "--checkpoint", f"{base}/checkpoint", "--state", str(state),
                 "--log-key", log_key, "--out", str(tmp_path / "first")]) == 0
    (attested.workspace / "later.md").write_text("later\n")
    attest_and_log(attested.workspace, ["later.md"], attested.trust)
    assert main(["witness", "cosign", "--checkpoint", f"{base}/checkpoint", "--state", str(state),
                 "--log-key", log_key, "--out", str(tmp_path / "second")]) == 0
    assert "cosigned lumen.local/tlog size 9 (consistent with size 8)" in capsys.readouterr().err
    assert "\n\u2014 witness.example/w1 " in (tmp_path / "second").read_text()
