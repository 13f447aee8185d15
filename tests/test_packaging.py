"""The installed layout: `resources/` and `sensors/` install under the project's namespace, never as
generic top-level packages, and every package folder of `lumen_assets/` is in the explicit list."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_resources_and_sensors_install_under_the_lumen_namespace() -> None:
    setuptools = _setuptools()
    assert setuptools["package-dir"] == {"lumen.resources": "resources", "lumen.sensors": "sensors"}
    assert not {"resources", "sensors"} & set(setuptools["packages"])


def test_every_package_folder_is_listed() -> None:
    listed = set(_setuptools()["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "lumen_assets").rglob("__init__.py")
    }
    on_disk |= {f"lumen.{init.parent.relative_to(ROOT).as_posix().replace('/', '.')}"
                for top in ("resources", "sensors") for init in (ROOT / top).rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(on_disk - listed)}"
    assert listed <= on_disk, f"listed but missing: {sorted(listed - on_disk)}"


def test_the_installed_names_import() -> None:
    import lumen.resources.workspace
    import lumen.sensors.rule_events

    assert Path(lumen.resources.workspace.__file__).parent == ROOT / "resources"
    assert Path(lumen.sensors.rule_events.__file__).parent == ROOT / "sensors"
