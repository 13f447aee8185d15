"""gateway_activation.yaml (seed segA C1-C8): lifecycle, the signature hash, and a mismatch that is
reported with ERROR and never overwritten (the seed's lock-in script silently rewrote it)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.demo import write_gateway_yaml
from lumen_assets.gateway.defs import gateway_state
from lumen_assets.gateway.state import LIFECYCLE, GatewayError, read_gateway_state, signature_hash

SEED_PHRASE = "리듬은 존재를 깨우고 깨어난 존재는 서로를 울린다. 오케스트레이션, 연결된다"
SEED_HASH = "e02dc7b9a47ab25ee52ba5348d723d35cb11b1548d61d78a614e1093925b3945"
MOJIBAKE_PHRASE = SEED_PHRASE.replace("존재", "존썬", 1)


def test_seed_signature_vector() -> None:
    assert signature_hash(SEED_PHRASE) == SEED_HASH
    assert signature_hash(SEED_PHRASE).startswith("e02dc7b9a47ab25e")


@pytest.mark.parametrize("variant", [MOJIBAKE_PHRASE, SEED_PHRASE + ".", SEED_PHRASE + "\n", " " + SEED_PHRASE])
def test_any_change_to_the_phrase_changes_the_hash(variant: str) -> None:
    assert signature_hash(variant) != SEED_HASH


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    write_gateway_yaml(tmp_path / "gateway_activation.yaml")
    (tmp_path / "lumen.yaml").write_text("{}\n")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_demo_gateway_is_locked_with_matching_hash(workspace: Path) -> None:
    state = read_gateway_state(workspace / "gateway_activation.yaml")
    assert state.status == "locked" and state.next_status() is None
    assert state.signer == "Binoche"
    assert state.recorded_hash == state.computed_hash == SEED_HASH
    assert state.hash_matches


@pytest.mark.parametrize(("status", "following"), list(zip(LIFECYCLE, [*LIFECYCLE[1:], None], strict=True)))
def test_lifecycle_only_moves_forward(workspace: Path, status: str, following: str | None) -> None:
    _edit(workspace / "gateway_activation.yaml", 'status: "locked"', f'status: "{status}"')
    assert read_gateway_state(workspace / "gateway_activation.yaml").next_status() == following
    assert LIFECYCLE == ("initializing", "binding", "resonating", "locked")


def test_unknown_status_is_an_error_naming_file_and_key(workspace: Path) -> None:
    path = workspace / "gateway_activation.yaml"
    _edit(path, 'status: "locked"', 'status: "armed"')
    with pytest.raises(GatewayError, match=rf"{path}: key 'gateway.status' is 'armed'"):
        read_gateway_state(path)


def test_missing_key_and_bad_yaml_are_errors_naming_the_file(workspace: Path) -> None:
    path = workspace / "gateway_activation.yaml"
    _edit(path, "  signer: \"Binoche\"\n", "")
    with pytest.raises(GatewayError, match=rf"{path}: missing key 'signature.signer'"):
        read_gateway_state(path)
    path.write_text("gateway: [unclosed\n")
    with pytest.raises(GatewayError, match=str(path)):
        read_gateway_state(path)


def _materialize(workspace: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize([gateway_state], resources={"workspace": LumenWorkspace(root=str(workspace))},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_check_passes_on_the_seed_file(workspace: Path) -> None:
    result = _materialize(workspace)
    assert result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.check_name == "gateway_signature_hash"
    assert evaluation.metadata["computed_hash"].value == SEED_HASH


def test_wrong_recorded_hash_fails_with_error_and_the_file_is_not_modified(workspace: Path) -> None:
    path = workspace / "gateway_activation.yaml"
    _edit(path, SEED_HASH, "0" * 64)
    before, stat = path.read_bytes(), path.stat()
    result = _materialize(workspace)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["recorded_hash"].value == "0" * 64
    assert evaluation.metadata["computed_hash"].value == SEED_HASH
    assert path.read_bytes() == before
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (stat.st_mtime_ns, stat.st_ino)
    assert sorted(os.listdir(workspace)) == ["gateway_activation.yaml", "lumen.yaml"]


def test_mojibake_phrase_fails_the_check(workspace: Path) -> None:
    _edit(workspace / "gateway_activation.yaml", SEED_PHRASE, MOJIBAKE_PHRASE)
    [evaluation] = _materialize(workspace).get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR


def test_unexpected_signer_fails_the_check(workspace: Path) -> None:
    _edit(workspace / "gateway_activation.yaml", 'signer: "Binoche"', 'signer: "Mallory"')
    [evaluation] = _materialize(workspace).get_asset_check_evaluations()
    assert not evaluation.passed


def test_missing_gateway_file_warns_instead_of_failing(tmp_path: Path) -> None:
    (tmp_path / "lumen.yaml").write_text("{}\n")
    result = _materialize(tmp_path)
    assert result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN


def test_signature_check_is_blocking() -> None:
    [spec] = gateway_state.check_specs
    assert spec.blocking and spec.name == "gateway_signature_hash"
