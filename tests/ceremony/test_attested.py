"""The completion certificate is attested and logged like the other artefacts: the `attestations` and
`transparency_log` assets pick it up, and the third-party verifier accepts it (signature, chain, inclusion)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lumen.resources.signer import LumenSigner
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.defs import attestations
from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE, bootstrap_demo_trust
from lumen_assets.attest.verifier import TrustLayout, verify_artifact
from lumen_assets.cli import main
from lumen_assets.tlog.defs import transparency_log
from tests.ceremony.test_cli import PASSING


def test_certificate_is_signed_logged_and_verifies(tmp_path: Path, capsys) -> None:
    ws = tmp_path / "ws"
    (ws / "logs").mkdir(parents=True)
    (ws / "logs" / "metrics.csv").write_text("ts,phase_diff,entropy_rate,creative_band,risk_band\n")
    bootstrap_demo_trust(ws, tmp_path / "offline-root")
    answers = tmp_path / "answers.yaml"
    answers.write_text(PASSING, encoding="utf-8")
    assert main(["ceremony", "--workspace", str(ws), "--answers", str(answers)]) == 0, capsys.readouterr().out
    [certificate] = (ws / "custody" / "sim" / "artifacts").glob("certificate_*.pdf")

    result = dg.materialize(
        [attestations, transparency_log],
        resources={"workspace": (ws_res := LumenWorkspace(root=str(ws))), "signer": LumenSigner(workspace=ws_res, passphrase=DEMO_PASSPHRASE)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    report = verify_artifact(certificate, ws, TrustLayout(log_origin="lumen.local/tlog"))
    assert report.ok, report.failure
