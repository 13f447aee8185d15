"""The config of the workspace this code location is loaded for (LUMEN_WORKSPACE / LUMEN_CONFIG), read once.

Definition-time settings come from here: the reporting timezone of daily partitions, sensor intervals,
schedule crons. A broken config raises `ConfigError` naming the file, key and line, so the code location
fails to load with that message in the UI, never silently running on defaults. (`lumen run` validates the
same file first and prints the one-line error.) Assets read config through the `workspace` resource.
"""

from __future__ import annotations

import os
from functools import lru_cache

from lumen_assets.config import LumenConfig, load_config, resolve_config_path


@lru_cache(maxsize=1)
def location_config() -> LumenConfig:
    workspace = os.environ.get("LUMEN_WORKSPACE", ".")
    return load_config(resolve_config_path(workspace, os.environ.get("LUMEN_CONFIG")))
