"""Config section `evidence` of config/lumen.yaml."""

from lumen_assets.section import Section


class EvidenceSettings(Section):
    """Parameters of the evidence area (filled in by the area's issue)."""
