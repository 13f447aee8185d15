"""Code references on every asset, so the asset page's "View source" names (or opens) its function.

Local references (file and line) always; with `LUMEN_GIT_URL` set (e.g. https://github.com/acme/lumen, and
optionally `LUMEN_GIT_BRANCH`, default `main`) they become links into the repository instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def with_code_references(assets: Sequence[Any]) -> list[Any]:
    referenced = dg.with_source_code_references(list(assets))
    git_url = os.environ.get("LUMEN_GIT_URL", "").strip()
    if git_url:
        referenced = dg.link_code_references_to_git(
            referenced,
            git_url=git_url,
            git_branch=os.environ.get("LUMEN_GIT_BRANCH", "").strip() or "main",
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=PROJECT_ROOT / "pyproject.toml", file_anchor_path_in_repository="pyproject.toml"
            ),
        )
    return list(referenced)
