"""The tlog tests reuse the attest area's small attested workspace (two artefacts signed and logged)."""

from tests.attest.conftest import attested  # noqa: F401 - a fixture, re-exported for tests/tlog
