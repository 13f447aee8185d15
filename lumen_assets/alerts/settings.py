"""Config section `alerts` of config/lumen.yaml."""

from lumen_assets.section import Section


class AlertsSettings(Section):
    """Parameters of the alerts area (filled in by the area's issue)."""
