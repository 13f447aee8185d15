"""`lumen archive verify|restore|prune`: exit codes, named failures, safe restore, dry-run pruning."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lumen_assets.archive import cli
from lumen_assets.archive.remote import object_key, object_metadata
from tests.archive.conftest import initialised_store
from tests.archive.test_freeze_verify import freeze


def freeze_and_store(workspace: Path, day: str) -> None:
    result = freeze(workspace, day=day)
    store = initialised_store(workspace).store()
    store.put(object_key("SystemC/snapshots", day, result.stored_path.name), result.stored_path, object_metadata(result.manifest))


def lumen(*argv: str) -> int:
    """The archive commands as `lumen` registers them (lumen_assets/cli.py calls the same `register`)."""
    parser = argparse.ArgumentParser(prog="lumen")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SystemExit as exc:
        return int(exc.code)


def test_verify_ok_then_fails_naming_the_file(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    freeze(workspace)
    assert lumen("archive", "verify", "2025-03-14", "--workspace", str(workspace)) == 0
    assert "[verify] OK" in capsys.readouterr().out
    sums = workspace / "archive/2025-03-14/SHA256SUMS.txt"
    sums.write_text(sums.read_text().replace("logs/metrics.csv", "logs/metrics.CSV"))
    assert lumen("archive", "verify", "2025-03-14", "--workspace", str(workspace)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "SHA256SUMS.txt" in out and "logs/metrics.CSV" in out


def test_verify_unknown_day_and_bad_date(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lumen("archive", "verify", "2025-03-15", "--workspace", str(workspace)) == 1
    assert "no bundle for this day" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        lumen("archive", "verify", "14/03/2025", "--workspace", str(workspace))


def test_bad_config_is_a_usage_error(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "lumen.yaml").write_text("archive:\n  compresion: gz\n")
    assert lumen("archive", "verify", "2025-03-14", "--workspace", str(workspace)) == 2
    assert "archive.compresion" in capsys.readouterr().err


def test_restore_verifies_first_and_never_overwrites_without_force(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    freeze(workspace)
    dest = tmp_path / "restored"
    assert lumen("archive", "restore", "2025-03-14", "--workspace", str(workspace), "--to", str(dest)) == 0
    out = capsys.readouterr().out
    assert "restored 7 files" in out and str(dest / "logs/metrics.csv") in out
    assert (dest / "controls/reports/report_2025-03-14.md").read_text(encoding="utf-8") == "# 보고서\n"
    (dest / "logs/metrics.csv").write_text("local edits")
    assert lumen("archive", "restore", "2025-03-14", "--workspace", str(workspace), "--to", str(dest)) == 1
    assert "already exist" in capsys.readouterr().out and (dest / "logs/metrics.csv").read_text() == "local edits"
    assert lumen("archive", "restore", "2025-03-14", "--workspace", str(workspace), "--to", str(dest), "--force") == 0
    assert (dest / "logs/metrics.csv").read_bytes() == (workspace / "logs/metrics.csv").read_bytes()


def test_restore_refuses_a_bundle_that_does_not_verify(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = freeze(workspace)
    data = bytearray(result.bundle_path.read_bytes())
    data[600] ^= 4
    result.bundle_path.write_bytes(bytes(data))
    dest = tmp_path / "restored"
    assert lumen("archive", "restore", "2025-03-14", "--workspace", str(workspace), "--to", str(dest)) == 1
    assert "does not verify" in capsys.readouterr().out and not dest.exists()


def test_prune_is_a_dry_run_unless_applied(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day in ("2024-01-01", "2024-01-02", "2025-03-14"):
        freeze_and_store(workspace, day)
    argv = ("archive", "prune", "--workspace", str(workspace), "--today", "2025-03-14")
    assert lumen(*argv) == 0
    out = capsys.readouterr().out
    assert "would remove 2024-01-01 (local + remote)" in out and "dry run" in out
    assert (workspace / "archive/2024-01-01").exists()
    assert lumen(*argv, "--apply") == 0
    assert "removed 2024-01-01" in capsys.readouterr().out
    assert not (workspace / "archive/2024-01-01").exists() and not (workspace / "archive/2024-01-02").exists()
    assert (workspace / "archive/2025-03-14").exists()
    assert "2024-01-01" not in (workspace / "archive/index.jsonl").read_text()
    remaining = list(initialised_store(workspace).store().list_keys("SystemC/snapshots"))
    assert remaining == ["SystemC/snapshots/2025-03-14/bundle.tar"]
    assert lumen("archive", "verify", "2025-03-14", "--workspace", str(workspace), "--remote") == 0


def test_prune_never_removes_the_newest_bundle(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    freeze(workspace, day="2020-02-02")
    assert lumen("archive", "prune", "--workspace", str(workspace), "--apply") == 0
    assert (workspace / "archive/2020-02-02").exists()
    assert "keep   2020-02-02 (newest)" in capsys.readouterr().out


def test_decrypt_opens_a_seed_v1_file_and_refuses_a_tampered_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.archive import seed_v1

    plain = tmp_path / "bundle.tar.gz"
    plain.write_bytes(b"seed bundle bytes" * 1000)
    monkeypatch.setenv("LUMEN_ARCHIVE_KEY", "the seed's passphrase")
    seed_v1.encrypt_aes_gcm(plain, tmp_path / "bundle.tar.gz.lumen.enc", "LUMEN_ARCHIVE_KEY")
    out = tmp_path / "out.tar.gz"
    assert lumen("archive", "decrypt", str(tmp_path / "bundle.tar.gz.lumen.enc"), "--out", str(out)) == 0
    assert out.read_bytes() == plain.read_bytes()
    blob = bytearray((tmp_path / "bundle.tar.gz.lumen.enc").read_bytes())
    blob[-1] ^= 1
    (tmp_path / "bad.enc").write_bytes(bytes(blob))
    assert lumen("archive", "decrypt", str(tmp_path / "bad.enc"), "--out", str(tmp_path / "bad.out")) == 1
    assert not (tmp_path / "bad.out").exists()  # no unauthenticated plaintext left behind
