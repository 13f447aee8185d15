"""The areas of Lumen, in graph order; each has a `defs.py` and may have a `cli.py`."""

AREAS = (
    "ingest",
    "effects",
    "gateway",
    "posteriors",
    "tuning",
    "evidence",
    "reports",
    "archive",
    "attest",
    "tlog",
    "resonance",
    "rhythm",
    "alerts",
    "ceremony",
)
