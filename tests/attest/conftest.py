"""A small attested workspace: demo trust (root outside), two artefacts signed and logged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE, DemoTrust, bootstrap_demo_trust
from lumen_assets.attest.issue import attest_artifact, log_envelopes
from lumen_assets.attest.keys import current_signer, log_key
from lumen_assets.tlog.publish import log_trust_files

ORIGIN = "lumen.local/tlog"


@dataclass
class Attested:
    workspace: Path
    trust: DemoTrust
    report: Path
    posterior: Path


def attest_and_log(workspace: Path, rels: list[str], trust: DemoTrust) -> None:
    signer = current_signer(trust.keystore, DEMO_PASSPHRASE)
    for rel in rels:
        attest_artifact(workspace, rel, signer, asset_key="test_asset", run_id="run-1", config_digest="0" * 64,
                        materials=[{"uri": "logs/metrics.csv", "digest": {"sha256": "1" * 64}}])
    name, key = log_key(trust.keystore, DEMO_PASSPHRASE)
    # as the trust run does (tlog/defs.py): certificates and CRL not yet in the log first, then the envelopes
    log_trust_files(workspace, "attest/trust", workspace / "tlog", ORIGIN, name, key)
    log_envelopes(workspace, rels, workspace / "tlog", ORIGIN, name, key)


@pytest.fixture
def attested(tmp_path: Path) -> Attested:
    """Two artefacts signed by an Ed25519 signer (the layout before the move to P-256: one leaf each).

    `lumen verify` and the log audit are algorithm-agnostic; the P-256 path is `attested_p256`."""
    return _attested(tmp_path, "ed25519")


def _attested(tmp_path: Path, algorithm: str) -> Attested:
    workspace = tmp_path / "ws"
    (workspace / "controls" / "reports").mkdir(parents=True)
    (workspace / "logs").mkdir()
    report = workspace / "controls" / "reports" / "report_2025-01-02.md"
    report.write_text("# 일일 리포트\n\nall good\n", encoding="utf-8")
    posterior = workspace / "logs" / "bayes_posterior.jsonl"
    posterior.write_text('{"rule":"creative_min","p_improve":0.9}\n')
    trust = bootstrap_demo_trust(workspace, tmp_path / "offline-root", algorithm=algorithm)
    attest_and_log(workspace, ["controls/reports/report_2025-01-02.md", "logs/bayes_posterior.jsonl"], trust)
    return Attested(workspace, trust, report, posterior)


@pytest.fixture
def attested_p256(tmp_path: Path) -> Attested:
    """The same workspace under today's P-256 root: each envelope also gets a Sigstore bundle (two leaves)."""
    return _attested(tmp_path, "ecdsa-p256")
