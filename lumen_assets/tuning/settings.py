"""Config section `tuning` of config/lumen.yaml."""

from lumen_assets.section import Section


class TuningSettings(Section):
    """Parameters of the tuning area (filled in by the area's issue)."""
