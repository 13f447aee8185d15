"""A workspace with a pinned root certificate (its key stays outside), for the ceremony tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumen_assets.attest.keys import fingerprint, init_root, load_cert, publish_root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root_dir = tmp_path / "offline-root"
    paths = init_root(root_dir, "root-pass-for-tests")
    ws = tmp_path / "ws"
    ws.mkdir()
    publish_root(ws / "attest" / "trust", load_cert(paths.cert))
    return ws


@pytest.fixture
def root_fingerprint(workspace: Path) -> str:
    return fingerprint(load_cert(workspace / "attest" / "trust" / "root.pem"))
