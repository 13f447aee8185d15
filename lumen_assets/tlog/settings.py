"""Config section `tlog` of config/lumen.yaml."""

from lumen_assets.section import Section


class TlogSettings(Section):
    """Parameters of the tlog area (filled in by the area's issue)."""
