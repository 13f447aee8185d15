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

    @property
    def state_dir(self) -> Path:
        """Lumen's own derived state inside the workspace (Parquet caches, stores), not seed files."""
        return self.path(self.config.paths.state_dir)
