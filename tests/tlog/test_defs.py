"""The full audit as an asset check, run by its own nightly schedule (sensors/tlog.py)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen.sensors.tlog import tlog_audit_job, tlog_audit_schedule
from lumen_assets.tlog.defs import log_audit
from tests.attest.conftest import Attested


def test_log_audit_check_passes_then_names_the_flipped_index_node(attested: Attested) -> None:
    workspace = LumenWorkspace(root=str(attested.workspace))
    result = log_audit(workspace)
    assert result.passed and result.metadata["leaves"].value == 5
    path: Path = attested.workspace / "tlog/levels/01.bin"
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    result = log_audit(workspace)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert str(result.metadata["first_inconsistency"].value).startswith("tlog/levels/01.bin node 0 (offset 0)")


def test_the_nightly_schedule_runs_only_the_full_audit() -> None:
    assert tlog_audit_schedule.job_name == tlog_audit_job.name
    assert tlog_audit_schedule.cron_schedule == "20 3 * * *"
    selection = tlog_audit_job.selection
    assert selection is not None
    from lumen_assets.definitions import build_definitions

    defs = build_definitions()
    job = defs.resolve_job_def("tlog_audit_job")
    assert job.asset_layer.asset_graph.asset_check_keys == {
        dg.AssetCheckKey(dg.AssetKey("transparency_log"), "log_audit")}
