"""The pipeline as in-toto links under a root-signed layout, checked by stock `in-toto-verify` (offline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lumen.resources.signer import LumenSigner
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.defs import in_toto_links
from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE, bootstrap_demo_trust
from lumen_assets.attest.intoto import LAYOUT_FILE, chain_paths, layout_for_workspace, write_day_links
from lumen_assets.attest.keys import (
    ROOT_KEY,
    current_signer,
    load_private_key,
)
from lumen_assets.config import load_config, resolve_config_path

DAY = "2025-01-02"
OFFLINE_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
FILES = {
    "logs/metrics.csv": "ts,phase_diff,entropy_rate,creative_band,risk_band\n",
    "controls/rules_history.jsonl": '{"ts":"2025-01-02T10:00:00+09:00","rule":"risk_max"}\n',
    "logs/rules_effects.csv": "rule_ts,rule\n2025-01-02T10:00:00+09:00,risk_max\n",
    "logs/bayes_posterior.jsonl": '{"rule":"risk_max","p_improve":0.8}\n',
    "controls/quotes_bank.jsonl": '{"quote":"steady"}\n',
    "controls/risk_ledger.jsonl": '{"risk":"low"}\n',
    f"controls/reports/report_{DAY}.md": "# report\n",
    f"controls/reports/report_{DAY}.pdf": "%PDF-1.4 fake\n",
    "controls/reports/report_2025-01-03.md": "# the next day (not in this day's links)\n",
    f"archive/{DAY}/bundle.tar.gz": "tar bytes",
    f"archive/{DAY}/SHA256SUMS": "sums\n",
}


def _in_toto_verify() -> str:
    found = Path(sys.executable).parent / "in-toto-verify"
    return str(found) if found.exists() else (shutil.which("in-toto-verify") or "in-toto-verify")


def stock_verify(ws: Path, day: str = DAY, key: str = "attest/trust/layout.pub.pem") -> subprocess.CompletedProcess:
    """Exactly the auditor's command from the README, run in the workspace."""
    return subprocess.run(
        [_in_toto_verify(), "--layout", f"attest/in-toto/{LAYOUT_FILE}", "--verification-keys", key,
         "--link-dir", f"attest/in-toto/{day}"],
        cwd=ws, capture_output=True, text=True, timeout=120, env={**os.environ, **OFFLINE_ENV},
    )


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for rel, text in FILES.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    trust = bootstrap_demo_trust(ws, tmp_path / "offline-root")
    config = load_config(resolve_config_path(ws, None))
    write_day_links(ws, DAY, chain_paths(config), current_signer(trust.keystore, DEMO_PASSPHRASE).key,
                    ws / "attest/in-toto", run_id="run-1")
    layout_for_workspace(config, ws, load_private_key(trust.root_dir / ROOT_KEY, DEMO_PASSPHRASE), days=30)
    return ws


def test_stock_in_toto_verify_accepts_the_day(chain: Path) -> None:
    started = time.perf_counter()
    result = stock_verify(chain)
    assert result.returncode == 0, result.stderr
    print(f"in-toto-verify: {time.perf_counter() - started:.2f} s (process start included)")
    links = sorted(p.name.split(".")[0] for p in (chain / "attest/in-toto" / DAY).glob("*.link"))
    assert links == sorted(["ingest", "effects", "posteriors", "evidence", "report", "archive"])
    report = json.loads(next((chain / "attest/in-toto" / DAY).glob("report.*.link")).read_text())["signed"]
    assert set(report["products"]) == {f"controls/reports/report_{DAY}.md", f"controls/reports/report_{DAY}.pdf"}
    assert isinstance(serialization.load_pem_public_key((chain / "attest/trust/layout.pub.pem").read_bytes()),
                      ec.EllipticCurvePublicKey)


def test_a_changed_artefact_fails_naming_the_rule(chain: Path) -> None:
    (chain / "archive" / DAY / "bundle.tar.gz").write_text("tar bytes, altered")
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "DISALLOW attest/in-toto/changed/*" in result.stderr
    assert f"attest/in-toto/changed/archive/{DAY}/bundle.tar.gz" in result.stderr


def test_a_changed_link_fails_its_signature(chain: Path) -> None:
    link = next((chain / "attest/in-toto" / DAY).glob("evidence.*.link"))
    signed = json.loads(link.read_text())
    signed["signed"]["products"]["controls/quotes_bank.jsonl"]["sha256"] = "0" * 64
    link.write_text(json.dumps(signed))
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "'evidence' requires at least '1' links validly signed" in result.stderr


def test_a_wrong_layout_key_fails(chain: Path, tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "other.pem").write_bytes(other.public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))
    result = stock_verify(chain, key=str(tmp_path / "other.pem"))
    assert result.returncode == 1
    assert "ignature" in result.stderr


def test_a_broken_chain_fails_naming_the_step_rule(chain: Path, tmp_path: Path) -> None:
    """The report link is re-recorded (validly signed) after rules_effects.csv changed: its material no
    longer MATCHes the effects step's product, so the report step's DISALLOW * catches it."""
    config = load_config(resolve_config_path(chain, None))
    (chain / "logs/rules_effects.csv").write_text("rule_ts,rule\nrewritten\n")
    key = current_signer(chain / ".lumen/keys", DEMO_PASSPHRASE).key
    write_day_links(chain, DAY, chain_paths(config), key, tmp_path / "redo")
    day_dir = chain / "attest/in-toto" / DAY
    report = next(day_dir.glob("report.*.link"))
    shutil.copy(tmp_path / "redo" / DAY / report.name, report)
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "DISALLOW *" in result.stderr and "report" in result.stderr


def test_in_toto_links_asset_writes_the_days_links(chain: Path) -> None:
    from lumen_assets.partitions import daily_partitions

    day = daily_partitions.get_first_partition_key()  # partitions start at the location's first data day
    for rel in (f"controls/reports/report_{day}.md", f"archive/{day}/bundle.tar"):
        (chain / rel).parent.mkdir(parents=True, exist_ok=True)
        (chain / rel).write_text(f"{rel}\n")
    result = dg.materialize(
        [in_toto_links], partition_key=day,
        resources={"workspace": (ws_res := LumenWorkspace(root=str(chain))), "signer": LumenSigner(workspace=ws_res, passphrase=DEMO_PASSPHRASE)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    meta = result.asset_materializations_for_node("in_toto_links")[0].metadata
    assert meta["layout_present"].value is True
    assert len(list((chain / "attest/in-toto" / day).glob("*.link"))) == 6
    result = stock_verify(chain, day=day)
    assert result.returncode == 0, result.stderr
