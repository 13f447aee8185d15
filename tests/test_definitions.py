"""The code location loads fast (nothing heavy at import) and resolves with the foundation's assets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOUNDATION_AREAS = ("ingest", "effects", "gateway")


def _foundation_keys() -> set[str]:
    """Asset keys docs/ARCHITECTURE.md lists for the foundation ("Asset keys: `a`, `b` (...), ...")."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.lstrip("- ").startswith("Asset keys:"))
    line = re.sub(r"\([^)]*\)", "", line.split(".")[0])  # drop "(partitioned by `rule_event`)"
    return set(re.findall(r"`([a-z_]+)`", line))


def test_the_code_location_imports_cleanly_in_a_fresh_process(tmp_path: Path) -> None:
    """Loading must work with nothing but LUMEN_WORKSPACE and DAGSTER_HOME set. How fast it loads is a
    figure, not a test: bench/import_time.py prints it as a ratio to `import dagster` in the same run."""
    env = {**os.environ, "LUMEN_WORKSPACE": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import lumen_assets.definitions"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def asset_graph():
    from lumen_assets.definitions import defs

    return defs.resolve_asset_graph()


def test_architecture_doc_lists_the_foundation_keys() -> None:
    assert _foundation_keys() == {"rule_events", "metrics", "rule_effects", "gateway_state"}


def test_definitions_resolve_with_every_foundation_asset(asset_graph) -> None:
    keys = {key.to_user_string() for key in asset_graph.get_all_asset_keys()}
    missing = _foundation_keys() - keys
    assert not missing


def test_foundation_assets_have_groups_descriptions_and_partitions(asset_graph) -> None:
    import dagster as dg

    groups = {"rule_events": "ingest", "metrics": "ingest", "rule_effects": "analysis"}
    for name in _foundation_keys():
        node = asset_graph.get(dg.AssetKey(name))
        assert node.description, name
        assert node.group_name in {"ingest", "analysis", "evidence", "reporting", "trust", "observability"}, name
        if name in groups:
            assert node.group_name == groups[name], name
    effects = asset_graph.get(dg.AssetKey("rule_effects"))
    assert isinstance(effects.partitions_def, dg.DailyPartitionsDefinition)  # a year = 365 partitions
    assert effects.backfill_policy == dg.BackfillPolicy.single_run()
    assert {dg.AssetKey("metrics"), dg.AssetKey("rule_events")} <= set(effects.parent_keys)
    assert asset_graph.get(dg.AssetKey("metrics")).partitions_def is None


def test_foundation_checks_and_sensor_are_registered() -> None:
    from lumen_assets.definitions import defs

    check_names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"metrics_schema_range_order", "metrics_quarantine_rate", "metrics_freshness",
            "effects_rows_consistent", "gateway_signature_hash"} <= check_names
    assert defs.resolve_sensor_def("rule_event_sensor") is not None


def test_every_asset_has_a_code_reference_to_its_function(asset_graph) -> None:
    """Issue 15 §5: "View source" on any asset page names the file and line of its function."""
    import dagster as dg

    missing, wrong = [], []
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if not node.is_materializable:
            continue
        refs = node.metadata.get("dagster/code_references")
        if refs is None or not refs.code_references:
            missing.append(key.to_user_string())
            continue
        ref = refs.code_references[0]
        assert isinstance(ref, dg.LocalFileCodeReference)
        source = Path(ref.file_path).read_text(encoding="utf-8").splitlines()
        window = "\n".join(source[ref.line_number - 1: ref.line_number + 40])
        if f"def {key.path[-1]}(" not in window and "multi_asset" not in window:
            wrong.append(f"{key.to_user_string()} -> {ref.file_path}:{ref.line_number}")
    assert not missing, f"assets without a code reference: {missing}"
    assert not wrong, f"code references that do not point at the asset's function: {wrong}"


def test_code_references_link_to_git_when_configured(monkeypatch) -> None:
    import dagster as dg

    from lumen_assets.code_references import with_code_references

    @dg.asset
    def probe() -> None: ...

    monkeypatch.setenv("LUMEN_GIT_URL", "https://github.com/acme/lumen")
    monkeypatch.setenv("LUMEN_GIT_BRANCH", "release")
    [linked] = with_code_references([probe])
    [ref] = linked.specs_by_key[dg.AssetKey("probe")].metadata["dagster/code_references"].code_references
    assert isinstance(ref, dg.UrlCodeReference)
    assert ref.url.startswith("https://github.com/acme/lumen/tree/release/tests/test_definitions.py#L")


def test_every_area_with_a_defs_module_is_merged() -> None:
    from lumen_assets.definitions import AREA_MODULES

    on_disk = {f"lumen_assets.{path.parent.name}.defs" for path in (ROOT / "lumen_assets").glob("*/defs.py")}
    assert on_disk == {module.__name__ for module in AREA_MODULES}


def test_the_code_location_has_every_sensor_and_schedule_under_sensors() -> None:
    from lumen_assets.definitions import defs

    repository = defs.get_repository_def()
    for definition in [*repository.sensor_defs, *repository.schedule_defs]:
        module = getattr(getattr(definition, "_raw_fn", None), "__module__", None) or ""
        assert not module.startswith("lumen_assets."), (definition.name, module)
    names = {s.name for s in repository.sensor_defs}
    assert {"rule_event_sensor", "check_alert_sensor", "run_failure_alert_sensor", "environment_sensor"} <= names


def test_a_broken_config_fails_loading_the_code_location_naming_file_and_key(tmp_path: Path) -> None:
    """Config is read once at load; a broken one is a loud code-location error, never silent defaults."""
    (tmp_path / "lumen.yaml").write_text("loop:\n  timezone: Mars/Olympus\n", encoding="utf-8")
    env = {**os.environ, "LUMEN_WORKSPACE": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    env.pop("LUMEN_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", "import lumen_assets.definitions"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ConfigError" in done.stderr
    assert str(tmp_path / "lumen.yaml") in done.stderr and "loop.timezone" in done.stderr, done.stderr[-2000:]


def test_loading_the_code_location_imports_no_data_or_crypto_stack(tmp_path: Path) -> None:
    """What keeps the load under 2x `import dagster` (bench/import_time.py prints the ratio): the Dagster
    layer imports pandas, numpy, pyarrow and securesystemslib inside the functions that use them."""
    env = {**os.environ, "LUMEN_WORKSPACE": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    statement = ("import sys, lumen_assets.definitions; "
                 "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow', 'securesystemslib', 'boto3', 'pymc', "
                 "'reportlab', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", statement], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
