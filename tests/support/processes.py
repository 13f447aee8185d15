"""Child processes that stop on the signals a test sends them, however the suite itself was started."""

from __future__ import annotations

import os
import signal
import subprocess


def default_stop_signals() -> None:
    """`preexec_fn` for a test's child process: SIGINT and SIGTERM back to their defaults. A suite started in
    the background (`cmd &` in a script, some CI runners) ignores them, and a child inherits that, so
    Ctrl-C / terminate() would leave it running."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stop_process_group(process: subprocess.Popen, grace_s: float = 30) -> None:
    """Stop a child started with `start_new_session=True` and everything it started: SIGTERM to its group,
    SIGKILL if it is still there after `grace_s`."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
