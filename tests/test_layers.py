"""The house's floors as import-linter contracts ([tool.importlinter] in pyproject.toml): downstairs never
imports Dagster or the Dagster layer, resources and sensors keep their order, areas' Dagster layers are
independent, config sections import only their base. A broken contract prints the offending import chain."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "0 broken" in report


def test_the_contracts_cover_the_floors_the_architecture_doc_names() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {c["type"] for c in contracts} >= {"protected", "layers", "forbidden", "independence"}
    protected = next(c for c in contracts if c["type"] == "protected")
    assert {"dagster", "lumen.resources", "lumen.sensors", "lumen_assets.*.defs"} <= set(protected["protected_modules"])


def test_a_file_name_of_lumens_state_is_written_once() -> None:
    """The workspace contract has one owner (lumen_assets/layout.py)."""
    sources = [*ROOT.glob("lumen_assets/**/*.py"), *ROOT.glob("resources/*.py"), *ROOT.glob("sensors/*.py")]
    for name in ('"metrics.parquet"', '"effects.parquet"', '"environment.parquet"'):
        holders = [p.relative_to(ROOT).as_posix() for p in sources if name in p.read_text(encoding="utf-8")]
        assert holders == ["lumen_assets/layout.py"], (name, holders)
