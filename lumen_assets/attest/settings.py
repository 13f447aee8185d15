"""Config section `attest` of config/lumen.yaml."""

from lumen_assets.section import Section


class AttestSettings(Section):
    """Parameters of the attest area (filled in by the area's issue)."""
