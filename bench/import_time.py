"""Import time of the code location against `import dagster`, measured in the same run (issue 12).

Each sample is a fresh interpreter; the figure is its CPU time (user + sys), which is what "nothing heavy at
import" controls (wall time on a shared machine also counts other processes' work). Samples alternate
between the two imports so both see the same load. Target: the code location under 2x `import dagster`.

    python bench/import_time.py [--samples N] [--s3]

`--s3` measures a code location whose `archive.store.kind` is s3: it binds `S3ArchiveStoreResource`, which
imports dagster-aws's S3Resource (and boto3) only when a store opens (resources/archive_s3.py says why;
tests/resources/test_archive_store.py guards it).

Last line: `import: dagster <s> s, lumen_assets.definitions <s> s, ratio <r>`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(statement: str, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-W", "ignore", "-c", statement], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--s3", action="store_true", help="a workspace archiving to S3 (dagster-aws S3Resource built when a store opens)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.s3:
            Path(tmp, "lumen.yaml").write_text("archive:\n  store:\n    kind: s3\n", encoding="utf-8")
        env = {**os.environ, "LUMEN_WORKSPACE": tmp, "DAGSTER_HOME": tmp}
        env.pop("LUMEN_CONFIG", None)
        cpu_seconds("import lumen_assets.definitions", env)  # warm the bytecode caches
        dagster, location = [], []
        for _ in range(args.samples):
            dagster.append(cpu_seconds("import dagster", env))
            location.append(cpu_seconds("import lumen_assets.definitions", env))
    base, ours = statistics.median(dagster), statistics.median(location)
    label = "lumen_assets.definitions (archive to S3)" if args.s3 else "lumen_assets.definitions"
    print(f"import: dagster {base:.2f} s, {label} {ours:.2f} s, ratio {ours / base:.2f}")
    return 0 if ours < 2 * base else 1


if __name__ == "__main__":
    sys.exit(main())
