"""The workspace resource: where the seed-layout folder is and which config governs it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import dagster as dg

from lumen_assets.config import LumenConfig, load_config, resolve_config_path
from lumen_assets.layout import WorkspaceLayout


@lru_cache(maxsize=8)
def _cached_config(path: str | None, mtime_ns: int) -> LumenConfig:
    del mtime_ns  # part of the cache key only: an edited file is read again
    return load_config(path)


class LumenWorkspace(dg.ConfigurableResource):
    """A seed-layout workspace folder (inputs and Lumen's outputs) and its validated config."""

    root: str
    config_path: str | None = None

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve()

    @property
    def config(self) -> LumenConfig:
        path = resolve_config_path(self.root_path, self.config_path)
        mtime = path.stat().st_mtime_ns if path and path.exists() else 0
        return _cached_config(str(path) if path else None, mtime)

    @property
    def layout(self) -> WorkspaceLayout:
        """Every file Lumen reads or writes in this workspace (lumen_assets/layout.py)."""
        return WorkspaceLayout.of(self.root_path, self.config)

    def path(self, relative: str) -> Path:
        """Absolute path of a workspace-relative path from config (e.g. `config.paths.metrics_csv`)."""
        return self.root_path / relative

    def rel(self, path: Path | str) -> str:
        """How Lumen names a workspace file in what it records (metadata, logs, quarantine records): relative
        to the workspace root, so that a moved or copied workspace's history never points at another place.
        A path outside the workspace is returned as given."""
        try:
            return Path(path).resolve().relative_to(self.root_path).as_posix() or "."
        except ValueError:
            return str(path)

    def scrub(self, text: str) -> str:
        """`text` (an error message, a log line) with the workspace's absolute location cut from its paths."""
        for root in dict.fromkeys((str(self.root_path), str(Path(self.root).expanduser()))):
            text = text.replace(root + "/", "").replace(root, ".")
        return text

    @property
    def state_dir(self) -> Path:
        """Lumen's own derived state inside the workspace (Parquet caches, stores), not seed files."""
        return self.path(self.config.paths.state_dir)
