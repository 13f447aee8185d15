"""Config section `resonance` of config/lumen.yaml."""

from lumen_assets.section import Section


class ResonanceSettings(Section):
    """Parameters of the resonance area (filled in by the area's issue)."""
