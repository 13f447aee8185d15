"""The user-code image's CycloneDX SBOM (issue 16 §2): `lumen deploy sbom` puts one into the workspace and the
`attestations` asset signs it and logs it like every other artefact, verifiable by `lumen verify`."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from lumen_assets.attest.verifier import TrustLayout, verify_artifact
from lumen_assets.cli import main
from tests.attest.test_defs import _run, _workspace

pytest.importorskip("cyclonedx_py")


def test_the_sbom_is_generated_attested_and_logged(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    assert main(["deploy", "sbom", "--workspace", str(ws), "--version", "0.1.0"]) == 0
    sbom = ws / "sbom" / "lumen-0.1.0.cdx.json"
    document = json.loads(sbom.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["metadata"]["component"]["name"] == "lumen"
    names = {component["name"].lower() for component in document["components"]}
    assert {"dagster", "dagster-postgres", "pandas"} <= names

    result = _run(ws, dg.DagsterInstance.ephemeral())
    assert result.success
    envelope = json.loads((ws / "attest" / "sbom" / "lumen-0.1.0.cdx.json.dsse.json").read_text())
    statement = json.loads(__import__("base64").b64decode(envelope["payload"]))
    assert statement["subject"][0]["name"] == "sbom/lumen-0.1.0.cdx.json"
    assert statement["predicate"]["assetKey"] == "sbom"
    assert (ws / "attest" / "sbom" / "lumen-0.1.0.cdx.json.sigstore.json").is_file()  # for stock `sigstore verify`
    report = verify_artifact(sbom, ws, TrustLayout(log_origin="lumen.local/tlog"))
    assert report.ok, report.failure
    sbom.write_text(sbom.read_text().replace("dagster", "dagstar", 1))
    assert not verify_artifact(sbom, ws, TrustLayout(log_origin="lumen.local/tlog")).ok


def test_an_sbom_that_is_not_cyclonedx_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "spdx.json").write_text('{"spdxVersion": "SPDX-2.3"}')
    assert main(["deploy", "sbom", "--workspace", str(tmp_path / "ws"), "--from", str(tmp_path / "spdx.json")]) == 2
    assert "not a CycloneDX document" in capsys.readouterr().err
    assert not (tmp_path / "ws" / "sbom").exists()
