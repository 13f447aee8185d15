"""Config section `tlog` of config/lumen.yaml: the transparency log's place and name."""

from __future__ import annotations

from pydantic import Field

from lumen_assets.section import Section, WorkspacePath


class TlogSettings(Section):
    """The RFC 9162 log (seed segD §7.9): directory, C2SP checkpoint origin, append batch size."""

    dir: WorkspacePath = "tlog"
    origin: str = Field("lumen.local/tlog", min_length=1, description="checkpoint origin line and log key name")
    batch_size: int = Field(10_000, ge=1, le=10_000, description="leaves per fsynced append batch")
