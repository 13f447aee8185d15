"""Which runs of a shared instance are this workspace's (run-success SLI, issue 12: named jobs have no selection)."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

from lumen_assets.resonance import instance_inputs


def _run(job: str, location: str, selection: list[dg.AssetKey] | None = None) -> dg.DagsterRun:
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(
        GrpcServerCodeLocationOrigin(host="127.0.0.1", port=4000, location_name=location), "__repository__"), job)
    return dg.DagsterRun(job_name=job, asset_selection=frozenset(selection) if selection else None,
                         remote_job_origin=origin)


@pytest.fixture
def prefixed_loop_a(monkeypatch: pytest.MonkeyPatch) -> None:
    """This code location is `loop_a` with asset prefix `loop_a`, on an instance shared with `loop_b`."""
    monkeypatch.setattr(instance_inputs, "asset_prefix", lambda: ("loop_a",))
    monkeypatch.setattr("lumen_assets.keys.asset_prefix", lambda: ("loop_a",))
    current = instance_inputs.location_config()
    config = current.model_copy(update={"location": current.location.model_copy(update={"name": "loop_a"})})
    monkeypatch.setattr(instance_inputs, "location_config", lambda: config)


def test_a_whole_named_job_run_belongs_to_the_code_location_that_launched_it(prefixed_loop_a: None) -> None:
    assert instance_inputs._ours(_run("daily_report_job", "loop_a"))
    assert not instance_inputs._ours(_run("daily_report_job", "loop_b"))  # same job name, other workspace


def test_a_run_with_a_selection_belongs_to_the_owner_of_its_keys(prefixed_loop_a: None) -> None:
    assert instance_inputs._ours(_run("__ASSET_JOB", "loop_b", [dg.AssetKey(["loop_a", "metrics"])]))
    assert not instance_inputs._ours(_run("__ASSET_JOB", "loop_a", [dg.AssetKey(["loop_b", "metrics"])]))
