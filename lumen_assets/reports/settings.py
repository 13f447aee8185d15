"""Config section `reports` of config/lumen.yaml."""

from lumen_assets.section import Section


class ReportsSettings(Section):
    """Parameters of the reports area (filled in by the area's issue)."""
