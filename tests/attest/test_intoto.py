"""The pipeline as in-toto links under a root-signed layout, checked by stock `in-toto-verify` (offline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
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
from lumen_assets.attest.intoto import LAYOUT_FILE, chain_paths, layout_for_workspace, sign_day_links
from lumen_assets.attest.keys import (
    ROOT_KEY,
    current_signer,
    load_private_key,
)
from lumen_assets.attest.step_records import freeze_upstream, record_step
from lumen_assets.config import load_config, resolve_config_path
from lumen_assets.digests import sha256_file

DAY = "2025-01-02"
OFFLINE_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
FILES = {
    "logs/metrics.csv": "ts,phase_diff,entropy_rate,creative_band,risk_band\n",
    ".lumen/metrics/_ingest_state.json": '{"offset": 52}\n',
    f".lumen/metrics/date={DAY}/part-000000000000000.parquet": "parquet bytes",
    ".lumen/effects.parquet": "effects parquet bytes",
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


def stock_verify(ws: Path, day: str = DAY, key: Path | None = None, cwd: Path | None = None,
                 workspace_env: bool = True) -> subprocess.CompletedProcess:
    """The auditor's command from the README, run from an empty temporary folder with LUMEN_WORKSPACE set
    (so that in-toto-verify's inspection link and marks land there, not in the workspace)."""
    cwd = cwd or Path(tempfile.mkdtemp(prefix="in-toto-verify-"))
    env = {**os.environ, **OFFLINE_ENV}
    env.pop("LUMEN_WORKSPACE", None)
    if workspace_env:
        env["LUMEN_WORKSPACE"] = str(ws)
    return subprocess.run(
        [_in_toto_verify(), "--layout", str(ws / "attest/in-toto" / LAYOUT_FILE), "--verification-keys",
         str(key or ws / "attest/trust/layout.pub.pem"), "--link-dir", str(ws / "attest/in-toto" / day)],
        cwd=cwd, capture_output=True, text=True, timeout=120, env=env,
    )


def run_chain(ws: Path, day: str = DAY) -> None:
    """What the graph's steps record as they run, in order (each asset's record_step call)."""
    paths = chain_paths(load_config(resolve_config_path(ws, None)))
    for asset in ("rule_events", "metrics", "rule_effects", "effect_posteriors", "quote_bank", "risk_ledger"):
        record_step(ws, paths, asset, environment={"run_id": "run-1"})
    freeze_upstream(ws, paths, day)
    sources = {rel: sha256_file(ws / rel) for rel in (paths.effects_csv, paths.posterior_jsonl,
                                                      paths.quotes_bank, paths.risk_ledger)}
    record_step(ws, paths, "daily_report", day=day, materials=sources)
    bundled = [paths.metrics_csv, *paths.report_files(day)]
    record_step(ws, paths, "archive_bundle", day=day, materials={rel: sha256_file(ws / rel) for rel in bundled})


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for rel, text in FILES.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    trust = bootstrap_demo_trust(ws, tmp_path / "offline-root")
    config = load_config(resolve_config_path(ws, None))
    run_chain(ws)
    written, missing = sign_day_links(ws, chain_paths(config), DAY, current_signer(trust.keystore, DEMO_PASSPHRASE).key)
    assert len(written) == 6 and not missing
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
    result = stock_verify(chain, key=tmp_path / "other.pem")
    assert result.returncode == 1
    assert "ignature" in result.stderr


def test_a_link_signed_by_a_key_outside_the_layout_fails(chain: Path) -> None:
    """A link re-signed by a key that is not a functionary of the layout counts for nothing."""
    config = load_config(resolve_config_path(chain, None))
    stranger = ec.generate_private_key(ec.SECP256R1())
    day_dir = chain / "attest/in-toto" / DAY
    names = {link.name.split(".")[0]: link.name for link in day_dir.glob("*.link")}
    sign_day_links(chain, chain_paths(config), DAY, stranger)
    for link in day_dir.glob("*.link"):  # under the functionary's file names, as an impostor would put them
        link.rename(day_dir / names[link.name.split(".")[0]])
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "requires at least '1' links validly signed" in result.stderr


def _resign(ws: Path) -> None:
    config = load_config(resolve_config_path(ws, None))
    sign_day_links(ws, chain_paths(config), DAY, current_signer(ws / ".lumen/keys", DEMO_PASSPHRASE).key)


def test_posteriors_fitted_on_an_older_effects_table_fail_naming_the_step_rule(chain: Path) -> None:
    """The honest case in-toto exists for: effects re-ran (a new rule event) after the posteriors were fitted,
    and the day's report read the new effects table with the old posteriors. Every link is validly signed,
    but the posteriors' material no longer MATCHes the effects step's product."""
    paths = chain_paths(load_config(resolve_config_path(chain, None)))
    (chain / "logs/rules_effects.csv").write_text("rule_ts,rule\n2025-01-02T11:00:00+09:00,creative_min\n")
    record_step(chain, paths, "rule_effects")
    for asset in ("quote_bank", "risk_ledger"):
        record_step(chain, paths, asset)
    run_chain_from_report(chain, paths)
    _resign(chain)
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "posteriors" in result.stderr and "DISALLOW *" in result.stderr
    assert "logs/rules_effects.csv" in result.stderr


def run_chain_from_report(ws: Path, paths, day: str = DAY) -> None:  # noqa: ANN001 - ChainPaths
    freeze_upstream(ws, paths, day)
    sources = {rel: sha256_file(ws / rel) for rel in (paths.effects_csv, paths.posterior_jsonl,
                                                      paths.quotes_bank, paths.risk_ledger)}
    record_step(ws, paths, "daily_report", day=day, materials=sources)
    record_step(ws, paths, "archive_bundle", day=day, materials={rel: sha256_file(ws / rel)
                                                                for rel in paths.report_files(day)})


def test_two_assets_of_a_step_reading_different_versions_fail(chain: Path) -> None:
    paths = chain_paths(load_config(resolve_config_path(chain, None)))
    (chain / "logs/rules_effects.csv").write_text("rule_ts,rule\nsomething else\n")
    record_step(chain, paths, "risk_ledger")  # quote_bank's record still names the earlier effects table
    run_chain_from_report(chain, paths)
    _resign(chain)
    evidence = json.loads(next((chain / "attest/in-toto" / DAY).glob("evidence.*.link")).read_text())["signed"]
    assert "logs/rules_effects.csv (as read by risk_ledger)" in evidence["materials"]
    result = stock_verify(chain)
    assert result.returncode == 1 and "evidence" in result.stderr and "DISALLOW *" in result.stderr


def test_a_step_without_a_record_is_named(chain: Path) -> None:
    paths = chain_paths(load_config(resolve_config_path(chain, None)))
    for record in (chain / paths.links_dir / "records" / DAY).glob("posteriors.*.json"):
        record.unlink()
    _resign(chain)
    assert not list((chain / "attest/in-toto" / DAY).glob("posteriors.*.link"))
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "Step 'posteriors' requires '1' link metadata file(s), found '0'" in result.stderr


def test_an_unreadable_link_of_another_day_fails_closed(chain: Path) -> None:
    other = chain / "attest/in-toto/2025-01-03"
    other.mkdir()
    (other / "report.deadbeef.link").write_text("{not json")
    result = stock_verify(chain)
    assert result.returncode == 1
    assert "attest/in-toto/changed/unreadable/2025-01-03/report.deadbeef" in result.stderr


def test_verify_from_the_workspace_folder_writes_its_inspection_link_there(chain: Path) -> None:
    result = stock_verify(chain, cwd=chain, workspace_env=False)
    assert result.returncode == 0, result.stderr
    assert (chain / "on-disk.link").exists()  # why the README runs it from an empty folder


def test_verify_from_an_empty_folder_without_the_workspace_fails(chain: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = stock_verify(chain, cwd=empty, workspace_env=False)
    assert result.returncode == 1
    assert "set LUMEN_WORKSPACE" in result.stderr
    assert not (chain / "on-disk.link").exists()


def test_in_toto_links_asset_signs_what_the_steps_recorded(chain: Path) -> None:
    from lumen_assets.partitions import daily_partitions

    day = daily_partitions.get_first_partition_key()  # partitions start at the location's first data day
    for rel in (f"controls/reports/report_{day}.md", f"controls/reports/report_{day}.pdf", f"archive/{day}/bundle.tar"):
        (chain / rel).parent.mkdir(parents=True, exist_ok=True)
        (chain / rel).write_text(f"{rel}\n")
    run_chain(chain, day)
    ws_res = LumenWorkspace(root=str(chain))
    result = dg.materialize(
        [in_toto_links], partition_key=day,
        resources={"workspace": ws_res, "signer": LumenSigner(workspace=ws_res, passphrase=DEMO_PASSPHRASE)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    meta = result.asset_materializations_for_node("in_toto_links")[0].metadata
    assert meta["layout_present"].value is True and meta["steps_missing"].value == "none"
    assert len(list((chain / "attest/in-toto" / day).glob("*.link"))) == 6
    result = stock_verify(chain, day=day)
    assert result.returncode == 0, result.stderr


def test_in_toto_links_without_trust_fails_in_one_line_and_steps_still_record(chain: Path) -> None:
    from lumen_assets.partitions import daily_partitions

    day = daily_partitions.get_first_partition_key()
    ws_res = LumenWorkspace(root=str(chain))
    result = dg.materialize(
        [in_toto_links], partition_key=day,
        resources={"workspace": ws_res, "signer": LumenSigner(workspace=ws_res, passphrase=None)},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("trust is not set up") and "\n" not in description


def test_in_toto_links_skips_a_day_without_a_report_and_keeps_a_day_without_records(chain: Path) -> None:
    from lumen_assets.partitions import daily_partitions

    day = daily_partitions.get_first_partition_key()
    ws_res = LumenWorkspace(root=str(chain))
    resources = {"workspace": ws_res, "signer": LumenSigner(workspace=ws_res, passphrase=DEMO_PASSPHRASE)}
    result = dg.materialize([in_toto_links], partition_key=day, resources=resources,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success and not result.asset_materializations_for_node("in_toto_links")
    assert "no report" in result.asset_observations_for_node("in_toto_links")[0].metadata["skipped"].value

    # a day reported before steps recorded links: its folder is left alone, and the asset says what to do
    (chain / f"controls/reports/report_{day}.md").write_text("# an old report\n")
    (chain / "attest/in-toto" / day).mkdir(parents=True)
    (chain / "attest/in-toto" / day / "report.0123abcd.link").write_text("{}")
    result = dg.materialize([in_toto_links], partition_key=day, resources=resources,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert (chain / "attest/in-toto" / day / "report.0123abcd.link").exists()
