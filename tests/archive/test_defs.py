"""The Dagster layer: archive_bundle materialises a daily partition; its checks pass, then catch tampering."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.archive_store import archive_store_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive import defs
from tests.archive.conftest import DAY, RAW_KEY_B64, initialised_store, table_text


def run(root: Path, day: str = DAY) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [defs.archive_bundle],
        partition_key=day,
        resources={"workspace": (ws := LumenWorkspace(root=str(root))), "archive_store": archive_store_resource(ws)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_materialise_a_day_with_encryption_and_local_store(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "lumen.yaml").write_text("archive:\n  encryption:\n    enable: true\n    segment_size: 65536\n")
    monkeypatch.setenv("LUMEN_ARCHIVE_KEY", RAW_KEY_B64)
    result = run(workspace)
    assert result.success
    checks = checks_of(result)
    assert checks[defs.INTEGRITY_CHECK].passed and checks[defs.REMOTE_CHECK].passed
    assert checks[defs.RETENTION_CHECK].passed
    (materialisation,) = result.asset_materializations_for_node("archive_bundle")
    metadata = materialisation.metadata
    assert metadata["files"].value == 7 and metadata["stored_file"].value == "bundle.tar.lumen.enc"
    stored = workspace / ".lumen/archive_store/SystemC/snapshots" / DAY / "bundle.tar.lumen.enc"
    assert stored.read_bytes() == (workspace / "archive" / DAY / "bundle.tar.lumen.enc").read_bytes()
    sidecar = json.loads(Path(f"{stored}.meta.json").read_text())
    assert sidecar["lumen-stored-sha256"] == metadata["stored_sha256"].value
    assert materialisation.tags["dagster/data_version"] == metadata["merkle_root"].value
    from lumen_assets.archive.encryption import decrypt_bytes

    sealed = (workspace / "archive" / DAY / "bundle.tar.lumen.enc").read_bytes()
    assert not decrypt_bytes(sealed, RAW_KEY_B64).count(b"not for bundles")  # no .dagster/
    assert not (workspace / "archive" / DAY / "bundle.tar").exists()  # no plaintext copy beside the sealed one


def test_a_day_without_metrics_or_rule_events_is_skipped_and_writes_no_bundle(workspace: Path) -> None:
    """Issue 11 §2: "Materialize all" never writes empty bundles for days with no data."""
    from lumen_assets.ingest.metrics_store import ingest_metrics

    layout = LumenWorkspace(root=str(workspace)).layout
    ingest_metrics(workspace / "logs/metrics.csv", layout.metrics_store)  # rows on DAY only
    result = run(workspace, "2025-03-12")
    assert result.success
    assert result.get_asset_materialization_events() == []
    assert not (workspace / "archive" / "2025-03-12").exists()
    assert not (workspace / ".lumen/archive_store").exists() or not list(
        (workspace / ".lumen/archive_store").rglob("*2025-03-12*"))
    (observation,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    reason = observation.asset_observation_data.asset_observation.metadata["skipped"].value
    assert reason.startswith("2025-03-12: no metrics samples and no rule events")
    checks = checks_of(result)
    assert set(checks) == {defs.INTEGRITY_CHECK, defs.REMOTE_CHECK, defs.RETENTION_CHECK}
    assert all(c.description.startswith("Nothing to compare yet: 2025-03-12") for c in checks.values())
    assert run(workspace).asset_materializations_for_node("archive_bundle")  # the day with data still bundles


def test_check_functions_catch_a_corrupted_bundle_and_remote_copy(workspace: Path) -> None:
    assert run(workspace).success
    resource, ws = initialised_store(workspace), LumenWorkspace(root=str(workspace))
    bundle = workspace / "archive" / DAY / "bundle.tar"
    data = bytearray(bundle.read_bytes())
    data[700] ^= 1
    bundle.write_bytes(bytes(data))
    integrity = defs.integrity_result(ws, resource, DAY)
    assert not integrity.passed and integrity.severity == dg.AssetCheckSeverity.ERROR
    assert "bundle.tar" in table_text(integrity.metadata["failures"])
    assert defs.remote_result(ws, resource, DAY).passed  # the remote copy is still the original
    remote = workspace / ".lumen/archive_store/SystemC/snapshots" / DAY / "bundle.tar"
    remote.write_bytes(bytes(data))
    remote_check = defs.remote_result(ws, resource, DAY)
    assert not remote_check.passed and "stored bytes" in table_text(remote_check.metadata["failures"])


def test_retention_check_warns_when_old_bundles_await_pruning(workspace: Path) -> None:
    for day in ("2025-01-06", "2025-01-07"):  # same ISO week, same month, long ago: the older one is prunable
        assert run(workspace, day).success
    check = defs.retention_result(LumenWorkspace(root=str(workspace)), initialised_store(workspace))
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "2025-01-06" in table_text(check.metadata["prune_candidates"])
    assert "2025-01-07" not in table_text(check.metadata["prune_candidates"])


def test_encryption_without_key_fails_the_run_clearly(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "lumen.yaml").write_text("archive:\n  encryption:\n    enable: true\n")
    monkeypatch.delenv("LUMEN_ARCHIVE_KEY", raising=False)
    result = dg.materialize(
        [defs.archive_bundle],
        partition_key=DAY,
        resources={"workspace": (ws := LumenWorkspace(root=str(workspace))), "archive_store": archive_store_resource(ws)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags={"dagster/max_retries": "0"},
    )
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert "LUMEN_ARCHIVE_KEY" in str(failure.step_failure_data.error)
