"""The config of the workspace this code location is loaded for (LUMEN_WORKSPACE / LUMEN_CONFIG).

Only definition-time settings read it (the reporting timezone of daily partitions, sensor intervals):
a small YAML read, nothing else. Assets read config through the `workspace` resource at run time.
"""

from __future__ import annotations

import os
from functools import lru_cache

from lumen_assets.config import LumenConfig, load_config, resolve_config_path


@lru_cache(maxsize=1)
def location_config() -> LumenConfig:
    workspace = os.environ.get("LUMEN_WORKSPACE", ".")
    try:
        return load_config(resolve_config_path(workspace, os.environ.get("LUMEN_CONFIG")))
    except Exception:  # a bad config is reported by the assets with file, key and line; never break loading
        return LumenConfig()
