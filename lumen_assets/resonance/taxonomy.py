"""The seed's ordered six-pattern failure taxonomy (segC C10 `classify_failure.py`), fixed.

Patterns are tried in order; the first match names the class, else `unknown`. Fixes to the seed (segC C10 §7):
- patterns are compiled case-insensitively instead of lower-casing the regex (which would break `\\D`, `\\S`);
- `401`/`403` only match as HTTP status codes (word-bounded, next to "status"/"http"/"forbidden"/
  "unauthorized" or alone as a code), not any substring such as a port or a timestamp;
- "certificate has expired" / TLS verification errors are network failures, not expired tokens;
- the class of a Dagster failure is taken from the error's class name *and* message.
"""

from __future__ import annotations

import re

FAILURE_CLASSES = (
    "network",
    "token_expired",
    "external_api",
    "dependency",
    "build",
    "environment",
    "unknown",
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        (
            "network",
            r"connection( timed out| reset| refused| aborted)|econnrefused|econnreset|tls handshake"
            r"|certificate (has )?expired|certificate verify failed|name or service not known"
            r"|temporary failure in name resolution|network is unreachable|timed? ?out while connecting",
        ),
        (
            "token_expired",
            r"\b(http|status|code)[ :=]*40[13]\b|\b40[13] (unauthorized|forbidden)\b"
            r"|\b(token|credentials?|session) (has )?expired\b|\bexpired (token|credentials?)\b"
            r"|invalid (token|credentials)|\bunauthorized\b|\bforbidden\b",
        ),
        (
            "external_api",
            r"\b5\d{2} (internal|bad gateway|service unavailable|gateway time-?out)"
            r"|\b(http|status|code)[ :=]*5\d{2}\b",
        ),
        ("dependency", r"modulenotfounderror|importerror|no module named"),
        ("build", r"syntaxerror|typeerror|nameerror"),
        ("environment", r"no space left on device|enospc|permission denied|permissionerror|oserror: \[errno 28\]"),
    )
)

# Seed smart-rerun policy (segC C10 §3): only transient classes are retried automatically.


def classify_failure(text: str | None) -> str:
    """First matching class of the ordered taxonomy, else `unknown`."""
    if not text:
        return "unknown"
    for label, pattern in _PATTERNS:
        if pattern.search(text):
            return label
    return "unknown"
