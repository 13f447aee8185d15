"""bench/tlog.py fails with a message when its pymerkle baseline child dies (it used to wait forever)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tlog.py"


@pytest.mark.parametrize(("shim_source", "exit_code"), [
    ('raise ImportError("pymerkle is not installed (test shim)")\n', 1),  # what was seen: pymerkle missing
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", -9),   # killed outright, as by the OOM killer
], ids=["pymerkle-missing", "child-killed"])
def test_bench_fails_with_a_message_when_the_baseline_child_dies(tmp_path: Path, shim_source: str,
                                                                  exit_code: int) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pymerkle.py").write_text(shim_source)
    env = {**os.environ, "PYTHONPATH": str(shim)}
    done = subprocess.run([sys.executable, str(BENCH), "--leaves", "500", "--probes", "20"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert f"the pymerkle baseline child died (exit code {exit_code}) without a result" in done.stderr
