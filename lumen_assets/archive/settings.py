"""Config section `archive` of config/lumen.yaml."""

from lumen_assets.section import Section


class ArchiveSettings(Section):
    """Parameters of the archive area (filled in by the area's issue)."""
