"""bench/tlog.py fails with a message when its pymerkle baseline child dies (it used to wait forever)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tlog.py"


def test_bench_fails_with_a_message_when_the_baseline_child_dies(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pymerkle.py").write_text('raise ImportError("pymerkle is not installed (test shim)")\n')
    env = {**os.environ, "PYTHONPATH": str(shim)}
    done = subprocess.run([sys.executable, str(BENCH), "--leaves", "500", "--probes", "20"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "the pymerkle baseline child died (exit code 1) without a result" in done.stderr
