"""Bounded load test of `lumen tlog serve` on 127.0.0.1 (issue 13 §4: >= 1,000 tile requests/s, p99 <= 50 ms).

    python bench/tlog_serve.py [--leaves N] [--seconds S] [--connections C]

Builds a log of N leaves (default 70,000: full and partial tiles at three levels) in a temp workspace, starts
`lumen tlog serve` in its own process, then for S seconds (default 10) drives C keep-alive HTTP/1.1
connections (default 8) from this process with GETs of random tiles of the current tree size (hash tiles,
partial tiles, entry bundles, and the checkpoint one request in 50), measuring each request's latency; then
stops the server and removes the temp folder. Every response is checked (status 200, body length equal to
the tile on disk). The last line is machine-readable:

    tlog-serve: <req/s> req/s, p99 <ms> ms, <errors> errors
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from lumen_assets.tlog.publish import append_entries  # noqa: E402
from lumen_assets.tlog.tiles import ENTRIES, tile_path, tiles_for_size  # noqa: E402

ORIGIN = "lumen.local/tlog"


def build_log(workspace: Path, leaves: int) -> list[tuple[str, int]]:
    """A log of `leaves` small entries in batches of 10,000; returns (path, size in bytes) of every servable tile."""
    key = Ed25519PrivateKey.generate()
    tlog = workspace / "tlog"
    for first in range(0, leaves, 10_000):
        batch = [(f"e{i}", b"bench entry %d" % i) for i in range(first, min(first + 10_000, leaves))]
        append_entries(tlog, batch, ORIGIN, ORIGIN, key)
    paths = [tile_path(level, index, width) for level, index, width in tiles_for_size(leaves)]
    paths += [tile_path(ENTRIES, index, width) for level, index, width in tiles_for_size(leaves) if level == 0]
    return [(rel, (tlog / rel).stat().st_size) for rel in paths]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_up(port: int, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


async def one_connection(port: int, targets: list[tuple[str, int]], stop_at: float, latencies: list[float],
                         errors: list[str], rng: random.Random) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop_at:
            rel, size = ("checkpoint", -1) if rng.random() < 0.02 else rng.choice(targets)
            start = time.perf_counter()
            writer.write(f"GET /{rel} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200 or (size >= 0 and len(body) != size):
                errors.append(f"{rel}: status {status}, {len(body)} bytes")
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(f"connection: {exc!r}")
    finally:
        writer.close()


async def drive(port: int, targets: list[tuple[str, int]], seconds: float, connections: int) -> tuple[list[float], list[str], float]:
    await wait_up(port)
    latencies: list[float] = []
    errors: list[str] = []
    start = time.monotonic()
    stop_at = start + seconds
    await asyncio.gather(*(one_connection(port, targets, stop_at, latencies, errors, random.Random(i))
                           for i in range(connections)))
    return latencies, errors, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=70_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="lumen-tlog-serve-bench-"))
    server = None
    try:
        t0 = time.perf_counter()
        targets = build_log(workspace, args.leaves)
        print(f"log of {args.leaves:,} leaves, {len(targets)} tiles and bundles, built in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "lumen_assets.cli", "tlog", "serve", "--workspace",
                                   str(workspace), "--port", str(port)], stdout=subprocess.DEVNULL)
        latencies, errors, elapsed = asyncio.run(drive(port, targets, args.seconds, args.connections))
        if server.poll() is not None:
            errors.append(f"the server exited with {server.returncode}")
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("nan")
        rate = len(latencies) / elapsed
        for error in errors[:5]:
            print(f"error: {error}", file=sys.stderr)
        print(f"{len(latencies):,} requests over {args.connections} keep-alive connections in {elapsed:.1f} s; "
              f"p50 {p50:.2f} ms")
        print(f"targets (>= 1,000 req/s, p99 <= 50 ms, no errors): "
              f"{'met' if rate >= 1000 and p99 <= 50 and not errors else 'NOT met'}")
        print(f"tlog-serve: {rate:.0f} req/s, p99 {p99:.1f} ms, {len(errors)} errors")
        return 0 if not errors else 1
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
