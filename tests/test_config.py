"""config/lumen.yaml (issue 2 §3): validated on load; errors name the file, the key path and the line;
resolution order --config > WORKSPACE/lumen.yaml > the project's config/lumen.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.config import (
    PROJECT_CONFIG,
    ConfigError,
    LumenConfig,
    load_config,
    parse_config,
    resolve_config_path,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_validates() -> None:
    config = load_config(PROJECT_CONFIG)
    assert isinstance(config, LumenConfig)


@pytest.mark.parametrize(
    "section",
    ["paths", "loop", "metrics", "effects", "rules", "thresholds", "gateway", "sensor"],
)
def test_shipped_config_spells_out_the_foundation_defaults(section: str) -> None:
    """Every key of a foundation section is written out in config/lumen.yaml with the model's default
    (ARCHITECTURE.md: the file spells out every field; issue 2 §3 lists the sensor interval)."""
    shipped = yaml.safe_load(PROJECT_CONFIG.read_text(encoding="utf-8"))
    defaults = LumenConfig().model_dump()
    assert section in shipped
    assert set(shipped[section]) == set(defaults[section])
    assert LumenConfig.model_validate({section: shipped[section]}).model_dump()[section] == defaults[section]


def test_seed_defaults() -> None:
    config = LumenConfig()
    assert (config.effects.pre_s, config.effects.post_s, config.effects.guard_s) == (30, 30, 1)
    assert config.effects.use_iqr and config.effects.use_ema
    assert (config.effects.iqr_k, config.effects.ema_alpha, config.effects.min_samples) == (1.5, 0.2, 50)
    assert config.loop.sample_rate_hz == 5 and config.loop.timezone == "Asia/Seoul"
    assert config.rules.thresholds == {"creative_min": "creative_band_min", "risk_max": "risk_band_max"}
    assert config.paths.metrics_csv == "logs/metrics.csv"
    assert config.paths.rules_history == "controls/rules_history.jsonl"


GOOD = """\
paths:
  metrics_csv: logs/metrics.csv
effects:
  pre_s: 20
  post_s: 45
  ema_alpha: 0.25
loop:
  timezone: Asia/Seoul
"""


def test_partial_file_overrides_only_what_it_says() -> None:
    config = parse_config(GOOD, "x.yaml")
    assert (config.effects.pre_s, config.effects.post_s, config.effects.ema_alpha) == (20, 45, 0.25)
    assert config.effects.guard_s == 1 and config.sensor.interval_s == 5


def test_empty_file_is_all_defaults() -> None:
    assert parse_config("", "x.yaml") == LumenConfig()
    assert parse_config("{}\n", "x.yaml").digest() == LumenConfig().digest()


@pytest.mark.parametrize(
    ("text", "key_path", "line", "expected"),
    [
        (GOOD + "  bogus: 1\n", "loop.bogus", 9, "unknown key"),
        (GOOD.replace("  post_s: 45", "  post_sec: 45"), "effects.post_sec", 5, "unknown key"),
        ("surprise: {}\n" + GOOD, "surprise", 1, "unknown key"),
        (GOOD.replace("pre_s: 20", "pre_s: thirty"), "effects.pre_s", 4, "valid number"),
        (GOOD.replace("ema_alpha: 0.25", "ema_alpha: 1.5"), "effects.ema_alpha", 6, "less than or equal to 1"),
        (GOOD.replace("pre_s: 20", "pre_s: -5"), "effects.pre_s", 4, "greater than 0"),
        (GOOD + "sensor:\n  interval_s: 0\n", "sensor.interval_s", 10, "greater than or equal to 1"),
        (GOOD + "effects_extra: 1\n", "effects_extra", 9, "unknown key"),
        (GOOD.replace("Asia/Seoul", "Mars/Olympus"), "loop.timezone", 8, "unknown IANA timezone"),
        (GOOD + "thresholds:\n  risk_band_max: 2\n", "thresholds.risk_band_max", 10, "less than or equal to 1"),
        (GOOD.replace("effects:\n", "effects:\n  use_iqr: maybe\n"), "effects.use_iqr", 4, "valid boolean"),
    ],
)
def test_bad_config_names_file_key_path_and_line(
    tmp_path: Path, text: str, key_path: str, line: int, expected: str
) -> None:
    path = _write(tmp_path / "lumen.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}:{line}" in message, message
    assert key_path in message
    assert expected in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path / "lumen.yaml", "effects:\n  pre_s: x\n  nope: 1\nloop:\n  sample_rate_hz: 0\n")
    message = str(pytest.raises(ConfigError, load_config, path).value)
    assert re.search(rf"{path}:2: key 'effects.pre_s'", message)
    assert re.search(rf"{path}:3: unknown key 'effects.nope'", message)
    assert re.search(rf"{path}:5: key 'loop.sample_rate_hz'", message)


def test_guard_must_be_inside_the_windows(tmp_path: Path) -> None:
    path = _write(tmp_path / "lumen.yaml", "effects:\n  pre_s: 5\n  guard_s: 5\n")
    message = str(pytest.raises(ConfigError, load_config, path).value)
    assert str(path) in message and "effects" in message and "guard_s" in message


@pytest.mark.parametrize("text", ["effects: [1, 2\n", "- just\n- a list\n", "key: value: other\n"])
def test_not_yaml_or_not_a_mapping_names_the_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "lumen.yaml", text)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path)


def test_unreadable_config_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "absent.yaml"))):
        load_config(tmp_path / "absent.yaml")


def test_rule_mapping_to_an_unknown_threshold_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "lumen.yaml", "rules:\n  thresholds:\n    creative_min: creative_bnd_min\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:3: .*rules\.thresholds\.creative_min"):
        load_config(path)


def test_config_is_frozen_and_digest_tracks_values() -> None:
    config = LumenConfig()
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for a frozen model
        config.effects.pre_s = 10  # type: ignore[misc]
    assert parse_config("effects:\n  pre_s: 20\n", "x").digest() != config.digest()


# --- resolution order -------------------------------------------------------------------------------------

def test_resolution_explicit_config_wins(tmp_path: Path) -> None:
    explicit = _write(tmp_path / "other.yaml", "effects:\n  pre_s: 11\n")
    _write(tmp_path / "lumen.yaml", "effects:\n  pre_s: 22\n")
    assert resolve_config_path(tmp_path, explicit) == explicit
    assert LumenWorkspace(root=str(tmp_path), config_path=str(explicit)).config.effects.pre_s == 11


def test_resolution_workspace_file_beats_project_config(tmp_path: Path) -> None:
    _write(tmp_path / "lumen.yaml", "effects:\n  pre_s: 22\n")
    assert resolve_config_path(tmp_path) == tmp_path / "lumen.yaml"
    assert LumenWorkspace(root=str(tmp_path)).config.effects.pre_s == 22


def test_resolution_falls_back_to_the_project_config(tmp_path: Path) -> None:
    assert resolve_config_path(tmp_path) == PROJECT_CONFIG
    assert PROJECT_CONFIG.name == "lumen.yaml" and PROJECT_CONFIG.parent.name == "config"


def test_workspace_resource_rereads_an_edited_config(tmp_path: Path) -> None:
    path = _write(tmp_path / "lumen.yaml", "effects:\n  pre_s: 22\n")
    workspace = LumenWorkspace(root=str(tmp_path))
    assert workspace.config.effects.pre_s == 22
    _write(path, "effects:\n  pre_s: 23\n")
    import os

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    assert workspace.config.effects.pre_s == 23
    assert workspace.state_dir == tmp_path.resolve() / ".lumen"
    assert workspace.path("logs/metrics.csv") == tmp_path.resolve() / "logs" / "metrics.csv"


@pytest.mark.parametrize("value", ['"yes"', '"false"', '"off"', '"true"', "1", "0", '"no"'])
def test_booleans_given_as_strings_or_numbers_are_rejected(value: str) -> None:
    """YAML's `"false"` is a string: pydantic's lax mode would read it (and "yes", "off", 1, 0) as a bool."""
    text = f"effects:\n  pre_s: 30\n  use_iqr: {value}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "ws/lumen.yaml")
    message = str(caught.value)
    assert "ws/lumen.yaml:3" in message and "effects.use_iqr" in message and "true or false" in message


def test_nested_booleans_are_strict_too() -> None:
    with pytest.raises(ConfigError, match=r"x.yaml:3: key 'archive.encryption.enable'"):
        parse_config("archive:\n  encryption:\n    enable: 'on'\n", "x.yaml")
    assert parse_config("archive:\n  encryption:\n    enable: false\n", "x.yaml").archive.encryption.enable is False


@pytest.mark.parametrize(
    ("key_path", "value"),
    [
        ("paths.metrics_csv", "../../../../etc/passwd"),
        ("paths.metrics_csv", "/etc/passwd"),
        ("paths.rules_history", "controls/../../outside.jsonl"),
        ("paths.dagster_home", "~/.dagster"),
        ("paths.state_dir", "C:/lumen"),
        ("reports.reports_dir", "/var/reports"),
        ("reports.font_path", "/usr/share/fonts/x.ttf"),
        ("attest.keystore_dir", "../keys"),
        ("tlog.dir", ".."),
        ("alerts.file.path", "/tmp/alerts.jsonl"),
        ("evidence.quotes_bank", "../quotes.jsonl"),
        ("archive.store.local_dir", "../backup"),
    ],
)
def test_every_config_path_stays_inside_the_workspace(key_path: str, value: str) -> None:
    *parents, leaf = key_path.split(".")
    text = "".join(f"{'  ' * depth}{name}:\n" for depth, name in enumerate(parents))
    text += f"{'  ' * len(parents)}{leaf}: {value!r}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "ws/lumen.yaml")
    message = str(caught.value)
    assert f"ws/lumen.yaml:{len(parents) + 1}" in message and f"'{key_path}'" in message
    assert "workspace" in message


def test_relative_paths_that_stay_inside_are_fine_and_external_targets_may_be_absolute() -> None:
    config = parse_config(
        "paths:\n  state_dir: state/../.lumen\n  metrics_csv: ./logs/m.csv\n"
        "archive:\n  store:\n    local_dir: /mnt/backup/lumen\n", "x.yaml")
    assert config.paths.state_dir == "state/../.lumen" and config.archive.store.local_dir == "/mnt/backup/lumen"


def test_known_rules_are_listed_and_derived_from_the_rest_of_the_config() -> None:
    config = parse_config("rules:\n  known: [alpha]\nposteriors:\n  priors:\n    beta: {}\n", "x.yaml")
    known = config.known_rules()
    assert {"alpha", "beta", "creative_min", "risk_max"} <= known  # thresholds and tuning name the seed's two
    assert "phase_gain" not in known  # listed only in the default rules.known
    assert "phase_gain" in LumenConfig().known_rules()
    policy = config.rule_policy()
    assert policy.known_rules == known and policy.max_future_s == 300


def test_traversal_in_metrics_path_is_a_config_error_not_a_read(tmp_path: Path) -> None:
    """The reported bug: `paths.metrics_csv: ../../../../etc/passwd` was read and its first line printed."""
    from tests.test_cli import _lumen

    (tmp_path / "ws").mkdir()
    config = _write(tmp_path / "ws" / "lumen.yaml", "paths:\n  metrics_csv: ../../../../etc/passwd\n")
    done = _lumen("run", "--workspace", str(tmp_path / "ws"), timeout=120)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{config}:2" in done.stderr and "paths.metrics_csv" in done.stderr
    assert "root:" not in done.stdout + done.stderr
    assert not (tmp_path / "ws" / ".dagster").exists()
