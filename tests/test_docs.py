"""The README's CLI reference is in step with `lumen`'s argparse tree.

Every `lumen` sub-command has a row in the README's "CLI reference" table, every option it takes is named in
one of its rows with its default, and every command and option a row names exists. Adding a sub-command or a
flag without documenting it fails here.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import pytest

from lumen_assets.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def _cli_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## CLI reference\n", 1)[1].split("\n## ", 1)[0]


def _cli_rows() -> list[tuple[list[str], str]]:
    """(the `lumen ...` synopses of a row's first cell, the whole row) for each row of the CLI reference."""
    section = _cli_section()
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `lumen"):
            continue
        first_cell = re.split(r"(?<!\\)\|", line)[1]
        synopses = [span.replace("\\|", "|") for span in re.findall(r"`(lumen[^`]*)`", first_cell)]
        rows.append((synopses, line.replace("\\|", "|")))
    return rows


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    children = _subparsers(parser)
    if not children:
        yield path, parser
    for name, child in children.items():
        yield from _leaves(child, (*path, name))


def _documented() -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """Command path -> [(synopsis, row)] as the README's rows name them, resolved against the parser."""
    parser = build_parser()
    documented: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for synopses, row in _cli_rows():
        for synopsis in synopses:
            # walk the words after `lumen` down the tree; `a|b|c` names several siblings at once
            frontier: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = [((), parser)]
            for word in synopsis.split()[1:]:
                children = _subparsers(frontier[0][1])
                if not children:
                    break
                names = word.split("|")
                unknown = [name for name in names if name not in children]
                assert not unknown, f"README CLI reference: `{synopsis}` names `lumen {' '.join(frontier[0][0])} {word}`, which is not a command"
                frontier = [((*path, name), children[name]) for path, _ in frontier for name in names]
            for path, node in frontier:
                assert not _subparsers(node), f"README CLI reference: `{synopsis}` stops at `lumen {' '.join(path)}`, which has sub-commands"
                documented.setdefault(path, []).append((synopsis, row))
    return documented


def _default_words(action: argparse.Action) -> str | None:
    """How a default is written in the README, or None when there is nothing to say (no default, a flag,
    or a default computed when `lumen` starts, such as the current folder)."""
    default = action.default
    if default in (None, False, True, "", []) or default is argparse.SUPPRESS or isinstance(default, Path):
        return None
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_the_readme_documents_every_lumen_command_and_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUMEN_WORKSPACE", raising=False)  # `lumen exporter`'s default comes from it
    # one sentence above the table says it for all: every command with --workspace takes --config
    common = {"--config"} if "also takes `--config FILE`" in _cli_section() else set()
    documented = _documented()
    problems = []
    for path, parser in _leaves(build_parser()):
        command = "lumen " + " ".join(path)
        if path not in documented:
            problems.append(f"`{command}` has no row in the README's CLI reference")
            continue
        named = {flag for synopsis, _ in documented[path] for flag in FLAG.findall(synopsis)}
        takes = {flag for action in parser._actions for flag in action.option_strings}
        if "--workspace" in takes:
            named |= common & takes
        rows = " ".join(row for _, row in documented[path])
        known = set()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            known.update(action.option_strings)
            if not named.intersection(action.option_strings):
                problems.append(f"`{command}`: {'/'.join(action.option_strings)} is not in its README synopsis")
                continue
            words = _default_words(action)
            if words is not None and not re.search(rf"(?<![\w.]){re.escape(words)}(?!\w)", rows):
                problems.append(f"`{command}`: the default of {action.option_strings[0]} ({words}) is not in its README row")
        problems += [f"`{command}`: the README names {flag}, which it does not take" for flag in sorted(named - known)]
    assert not problems, "README CLI reference out of step with `lumen --help`:\n" + "\n".join(problems)


def test_the_check_fails_for_an_undocumented_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above can fail: a sub-command added to the parser without a README row is reported."""
    real_build_parser = build_parser

    def with_extra_command() -> argparse.ArgumentParser:
        parser = real_build_parser()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                action.add_parser("brand-new-command").add_argument("--knob", default=7)
        return parser

    monkeypatch.setitem(globals(), "build_parser", with_extra_command)
    with pytest.raises(AssertionError, match="lumen brand-new-command` has no row"):
        test_the_readme_documents_every_lumen_command_and_option(monkeypatch)


def _graph_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## What the graph holds\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_names_every_asset_check_sensor_schedule_and_job() -> None:
    """README "What the graph holds" against the code location's `Definitions`, both ways: its asset table
    has one row per asset with the asset's group and partitioning, and every check, sensor, schedule and job
    is named in the section; a name there that looks like one of them exists."""
    from lumen_assets.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    section = _graph_section()
    named = set(re.findall(r"`([a-z_][a-z0-9_]*)`", section))
    problems = []

    table = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.split("|")[1:-1]]
            for name in re.findall(r"`([a-z_]+)`", cells[0]):
                table[name] = (cells[1], cells[2].startswith("daily"))
    assets = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    for name, node in sorted(assets.items()):
        if name not in table:
            problems.append(f"asset `{name}` has no row in the table")
        elif table[name] != (node.group_name, node.partitions_def is not None):
            problems.append(f"asset `{name}`: the table says group/daily {table[name]}, the code "
                            f"{(node.group_name, node.partitions_def is not None)}")
    problems += [f"the table names `{name}`, which is not an asset" for name in sorted(set(table) - set(assets))]

    checks = {key.name for key in graph.asset_check_keys}
    sensors = {sensor.name for sensor in repo.sensor_defs}
    schedules = {schedule.name for schedule in repo.schedule_defs}
    jobs = {job.name for job in repo.get_all_jobs() if not job.name.startswith("__")}
    for kind, names in (("check", checks), ("sensor", sensors), ("schedule", schedules), ("job", jobs)):
        problems += [f"{kind} `{name}` is not named in the section" for name in sorted(names - named)]
    checks_block = section.split("\nChecks (", 1)[1].split("\n\n", 1)[0]
    for name in sorted(set(re.findall(r"`([a-z_][a-z0-9_]*)`", checks_block)) - checks - set(assets) - jobs - schedules):
        problems.append(f"the checks list names `{name}`, which is no check, asset, job or schedule")
    for suffix, names in (("_sensor", sensors), ("_schedule", schedules), ("_job", jobs)):
        problems += [f"the section names `{name}`, which does not exist" for name in sorted(named - names)
                     if name.endswith(suffix)]
    assert not problems, "README \"What the graph holds\" out of step with Definitions:\n" + "\n".join(problems)


def _config_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Config reference (`config/lumen.yaml`)\n", 1)[1].split("\n## ", 1)[0]
    return {match[1]: match[2] for match in re.finditer(r"^\| `(\w+)` \| (.*) \|$", section, re.MULTILINE)}


def test_the_config_reference_names_every_key_with_its_default() -> None:
    """One row per `LumenConfig` section naming each of its keys; a key with a plain default (number,
    string) says it. Nested keys (sampler, store, ...) are spelt out by config/lumen.yaml (next test)."""
    from lumen_assets.config import LumenConfig

    rows = _config_rows()
    defaults = LumenConfig().model_dump(mode="json")
    problems = [f"the config reference has a row `{name}`, which is no section" for name in sorted(set(rows) - set(defaults))]
    for section, keys in defaults.items():
        if section not in rows:
            problems.append(f"section `{section}` has no row in the config reference")
            continue
        for key, default in keys.items():
            if not re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", rows[section]):
                problems.append(f"`{section}.{key}` is not in its row")
            elif isinstance(default, (int, float, str)) and not isinstance(default, bool) and default != "":
                words = str(int(default)) if isinstance(default, float) and default.is_integer() else str(default)
                if words not in rows[section]:
                    problems.append(f"`{section}.{key}`: its default {words} is not in its row")
    assert not problems, "README config reference out of step with LumenConfig:\n" + "\n".join(problems)


def test_the_shipped_config_spells_out_every_key_with_its_default() -> None:
    """config/lumen.yaml is the full reference: every key of every section, nested ones too, with the model's
    default (a key whose default is null, such as a target's unused bound, may be left out)."""
    import yaml

    from lumen_assets.config import LumenConfig

    shipped = yaml.safe_load((ROOT / "config" / "lumen.yaml").read_text(encoding="utf-8"))
    defaults = LumenConfig().model_dump(mode="json")
    loaded = LumenConfig.model_validate(shipped).model_dump(mode="json")
    problems = []

    def compare(written: object, default: object, path: str) -> None:
        if not (isinstance(written, dict) and isinstance(default, dict)):
            return
        for key in default:
            if key not in written:
                if default[key] is not None:
                    problems.append(f"{path}{key} is not spelt out (default {default[key]!r})")
            else:
                compare(written[key], default[key], f"{path}{key}.")

    compare(shipped, defaults, "")
    if loaded != defaults:
        problems.append("config/lumen.yaml's values differ from the models' defaults")
    assert not problems, "config/lumen.yaml out of step with the config models:\n" + "\n".join(problems)


def test_the_architecture_doc_lists_every_folder_and_module_and_only_those() -> None:
    """docs/ARCHITECTURE.md names every top-level folder, area, shared module, resource and sensor module, and
    every module or folder it names exists."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    try:  # the tracked top-level folders (untracked ones, such as .venv or build output, are not the project's)
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked folders are unknown")
    folders = {line.split("/", 1)[0] for line in listed.splitlines() if "/" in line and not line.startswith(".")}
    problems = [f"the folder {folder}/ is not in the folder table" for folder in sorted(folders)
                if f"`{folder}/`" not in text]
    modules = [p for p in sorted((ROOT / "lumen_assets").iterdir()) if not p.name.startswith("_")]
    for module in modules:
        if module.is_dir() and module.name != "fonts" and (module / "__init__.py").exists():
            if f"| `{module.name}` |" not in text:
                problems.append(f"the area lumen_assets/{module.name}/ is not in the areas table")
        elif module.suffix == ".py" and not re.search(rf"`(lumen_assets\.)?{module.stem}(\.py|\.\w+)?[`(]|{module.stem}\.py", text):
            problems.append(f"lumen_assets/{module.name} is not named")
    for folder in ("resources", "sensors"):
        for module in sorted((ROOT / folder).glob("[!_]*.py")):
            if module.name not in text and f"{folder}/{module.name}" not in text:
                problems.append(f"{folder}/{module.name} is not named")
    for named in sorted(set(re.findall(r"`((?:lumen_assets|resources|sensors|tests|bench|deploy|config)/[\w./<>-]*)", text))):
        if "<" not in named and "*" not in named and not (ROOT / named).exists():
            problems.append(f"the doc names {named}, which does not exist")
    for dotted in sorted(set(re.findall(r"`lumen_assets\.(\w+)", text))):
        if not ((ROOT / "lumen_assets" / f"{dotted}.py").exists() or (ROOT / "lumen_assets" / dotted).is_dir()):
            problems.append(f"the doc names lumen_assets.{dotted}, which does not exist")
    for dotted in sorted(set(re.findall(r"`lumen\.(resources|sensors)\.(\w+)", text))):
        if not (ROOT / dotted[0] / f"{dotted[1]}.py").exists():
            problems.append(f"the doc names lumen.{dotted[0]}.{dotted[1]}, which does not exist")
    assert not problems, "docs/ARCHITECTURE.md out of step with the tree:\n" + "\n".join(problems)
