"""What a check result says in the UI: on failure what failed and what to do; on a pass what was compared,
or plainly that there was nothing to compare (never a silent, vacuous pass). Plain Python, no Dagster.
"""

from __future__ import annotations

FIX = "What to do: "
NOTHING = "Nothing to compare yet: "


def described(passed: bool, ok: str, failed: str, fix: str) -> str:
    """`ok` when passed, else "`failed`. What to do: `fix`"."""
    return ok if passed else f"{failed.rstrip('.')}. {FIX}{fix}"


def nothing_to_compare(why: str) -> str:
    """A pass with nothing compared says so: "Nothing to compare yet: `why`"."""
    return f"{NOTHING}{why}"
