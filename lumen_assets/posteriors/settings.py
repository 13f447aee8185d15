"""Config section `posteriors` of config/lumen.yaml."""

from lumen_assets.section import Section


class PosteriorsSettings(Section):
    """Parameters of the posteriors area (filled in by the area's issue)."""
