"""Child processes that stop on the signals a test sends them, however the suite itself was started."""

from __future__ import annotations

import signal


def default_stop_signals() -> None:
    """`preexec_fn` for a test's child process: SIGINT and SIGTERM back to their defaults. A suite started in
    the background (`cmd &` in a script, some CI runners) ignores them, and a child inherits that, so
    Ctrl-C / terminate() would leave it running."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
