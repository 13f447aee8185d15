"""Benchmark the durable RFC 9162 log against pymerkle's in-memory tree on the same leaves.

    python bench/tlog.py [--small] [--leaves N] [--batch B] [--dir D]

Appends N leaves in fsynced batches of at most B (default 10,000) to a fresh on-disk log, then times
inclusion and consistency proofs at that size (and verifies a sample), then runs pymerkle 7's
InmemoryTree on the same leaves in a child process (so its memory does not count against ours) and
checks both trees agree on the root. Targets (issue 6): >= 300,000 appends/s, <= 0.2 ms per proof,
peak RSS <= 500 MB. The last line is machine-readable:

    tlog: <leaves> leaves, <appends/s> appends/s, inclusion <ms> ms, consistency <ms> ms, <peak_rss_mb> MB
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue as queue_module
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lumen_assets.tlog.log import TransparencyLog  # noqa: E402
from lumen_assets.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion  # noqa: E402


def entries(start: int, end: int) -> list[bytes]:
    return [b"lumen-bench-leaf-%d" % i for i in range(start, end)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bench_ours(directory: Path, leaves: int, batch: int, probes: int) -> dict[str, float]:
    rng = random.Random(7)
    start = time.perf_counter()
    with TransparencyLog.open(directory, writer=True) as log:
        for first in range(0, leaves, batch):
            log.append_batch(entries(first, min(first + batch, leaves)))  # fsync before the ack
        log.sync()
        append_s = time.perf_counter() - start
        root = log.root()
        indices = [rng.randrange(leaves) for _ in range(probes)]
        t0 = time.perf_counter()
        inclusion = [log.inclusion_proof(i) for i in indices]
        inclusion_ms = (time.perf_counter() - t0) * 1000 / probes
        olds = [rng.randrange(1, leaves) for _ in range(probes)]
        t0 = time.perf_counter()
        consistency = [log.consistency_proof(o) for o in olds]
        consistency_ms = (time.perf_counter() - t0) * 1000 / probes
        for k in range(0, probes, max(1, probes // 50)):
            entry = b"lumen-bench-leaf-%d" % indices[k]
            assert verify_inclusion(leaf_hash(entry), indices[k], leaves, inclusion[k], root), "inclusion failed"
            assert verify_consistency(olds[k], leaves, consistency[k], log.root(olds[k]), root), "consistency failed"
    return {"appends_per_s": leaves / append_s, "append_s": append_s, "inclusion_ms": inclusion_ms,
            "consistency_ms": consistency_ms, "root": root.hex()}


def bench_pymerkle(leaves: int, batch: int, probes: int, queue: mp.Queue) -> None:
    from pymerkle import InmemoryTree

    rng = random.Random(7)
    tree = InmemoryTree(algorithm="sha256")
    start = time.perf_counter()
    for first in range(0, leaves, batch):
        for entry in entries(first, min(first + batch, leaves)):
            tree.append_entry(entry)
    append_s = time.perf_counter() - start
    t0 = time.perf_counter()
    for _ in range(probes):
        tree.prove_inclusion(rng.randrange(1, leaves + 1), leaves)
    inclusion_ms = (time.perf_counter() - t0) * 1000 / probes
    t0 = time.perf_counter()
    for _ in range(probes):
        tree.prove_consistency(rng.randrange(1, leaves), leaves)
    consistency_ms = (time.perf_counter() - t0) * 1000 / probes
    queue.put({"appends_per_s": leaves / append_s, "inclusion_ms": inclusion_ms, "consistency_ms": consistency_ms,
               "root": tree.get_root().hex(), "peak_rss_mb": peak_rss_mb()})


def wait_for_child(child: mp.process.BaseProcess, queue: mp.Queue, poll_s: float = 1.0) -> dict | None:
    """The child's result, or None as soon as it has died without one (never waits forever on the queue)."""
    while True:
        try:
            result = queue.get(timeout=poll_s)
        except queue_module.Empty:
            if not child.is_alive():
                try:  # it may have put its result just before exiting
                    return queue.get(timeout=poll_s)
                except queue_module.Empty:
                    child.join()
                    return None
            continue
        child.join()
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="50,000 leaves (a quick smoke run)")
    parser.add_argument("--leaves", type=int)
    parser.add_argument("--batch", type=int, default=10_000, help="leaves per fsynced batch (<= 10,000)")
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--dir", help="where to put the log (default: a temp dir, removed afterwards)")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    leaves = args.leaves or (50_000 if args.small else 1_000_000)
    if not 1 <= args.batch <= 10_000:
        parser.error("--batch must be between 1 and 10,000")
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="lumen-tlog-bench-"))
    try:
        ours = bench_ours(directory / "tlog", leaves, args.batch, args.probes)
        rss = peak_rss_mb()
        print(f"lumen durable log: {ours['appends_per_s']:,.0f} appends/s ({ours['append_s']:.2f} s, fsync per "
              f"{args.batch} leaves), inclusion {ours['inclusion_ms']:.4f} ms, consistency "
              f"{ours['consistency_ms']:.4f} ms, peak RSS {rss:.0f} MB")
        if not args.no_baseline:
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            child = ctx.Process(target=bench_pymerkle, args=(leaves, args.batch, args.probes, queue))
            child.start()
            peer = wait_for_child(child, queue)
            if peer is None:
                print(f"ERROR: the pymerkle baseline child died (exit code {child.exitcode}) without a result; "
                      "is pymerkle installed? (pip install pymerkle, or run with --no-baseline)", file=sys.stderr)
                return 1
            print(f"pymerkle InmemoryTree (baseline, same leaves, in memory, no fsync): {peer['appends_per_s']:,.0f} "
                  f"appends/s, inclusion {peer['inclusion_ms']:.4f} ms, consistency {peer['consistency_ms']:.4f} ms, "
                  f"peak RSS {peer['peak_rss_mb']:.0f} MB")
            same = peer["root"] == ours["root"]
            print(f"ratio lumen/pymerkle: appends x{ours['appends_per_s'] / peer['appends_per_s']:.2f}, inclusion "
                  f"x{peer['inclusion_ms'] / ours['inclusion_ms']:.2f} faster, consistency "
                  f"x{peer['consistency_ms'] / ours['consistency_ms']:.2f} faster; roots agree: {same}")
            if not same:
                print("ERROR: pymerkle and lumen disagree on the root of the same leaves", file=sys.stderr)
                return 1
        verdict = (ours["appends_per_s"] >= 300_000 and ours["inclusion_ms"] <= 0.2
                   and ours["consistency_ms"] <= 0.2 and rss <= 500)
        print(f"targets (>= 300,000 appends/s, <= 0.2 ms per proof, <= 500 MB): {'met' if verdict else 'NOT met'}")
        print(f"tlog: {leaves} leaves, {ours['appends_per_s']:.0f} appends/s, inclusion {ours['inclusion_ms']:.4f} ms, "
              f"consistency {ours['consistency_ms']:.4f} ms, {rss:.0f} MB")
    finally:
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
