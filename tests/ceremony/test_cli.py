"""`lumen ceremony --answers FILE`: a scripted rehearsal end to end: log, certificate, custody record, exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import qrcode
from pypdf import PdfReader

from lumen_assets.cli import main
from lumen_assets.resonance.custody import custody_age

PASSING = """trainee: 김하늘
scenario: quarterly_audit_torn_seal
witnesses: [Sena]
actions:
  torn_seal: [halt, report]
  log_mismatch: [halt, report, reconcile_logs]
quiz: {mc_airgap: 2, mc_dual: 1, sa_crl: "certificate serial and revocation reason"}
"""


def _answers(tmp_path: Path, text: str) -> str:
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_passing_scripted_rehearsal_is_logged_certified_and_counts_as_custody(
    workspace: Path, root_fingerprint: str, tmp_path: Path, capsys
) -> None:
    code = main(["ceremony", "--workspace", str(workspace), "--answers", _answers(tmp_path, PASSING), "--witness", "Lubit"])
    out = capsys.readouterr().out
    assert code == 0, out
    artifacts = workspace / "custody" / "sim" / "artifacts"
    [log_path] = artifacts.glob("rehearsal_quarterly_audit_torn_seal_*.json")
    log = json.loads(log_path.read_text(encoding="utf-8"))
    assert log["scenario"]["id"] == "quarterly_audit_torn_seal" and log["passed"] and log["mode"] == "scripted"
    assert [a["anomaly"] for a in log["anomalies"]] == ["torn_seal", "log_mismatch"]
    assert log["witnesses"] == ["Sena", "Lubit"]

    [pdf_path] = artifacts.glob("certificate_quarterly_audit_torn_seal_*.pdf")
    reader = PdfReader(pdf_path)
    text = reader.pages[0].extract_text()
    assert "김하늘" in text and "quarterly_audit_torn_seal" in text and "7 / 7 points (100%)" in text
    assert root_fingerprint[:32] in text
    finished = dt.datetime.fromisoformat(log["finished_utc"].replace("Z", "+00:00"))
    assert f"Date: {finished:%Y-%m-%d %H:%M} UTC" in text  # the date of the rehearsal it certifies
    [image] = reader.pages[0].images
    import hashlib

    payload = json.dumps({"root_fp": root_fingerprint, "scenario": "quarterly_audit_torn_seal", "trainee": "김하늘",
                          "score": 1.0, "rehearsal_sha256": hashlib.sha256(log_path.read_bytes()).hexdigest()},
                         separators=(",", ":"), ensure_ascii=False)
    expected = qrcode.make(payload).get_image().convert("L")
    from PIL import Image

    shown = Image.open(io.BytesIO(image.data)).convert("L")
    assert shown.size == expected.size and shown.tobytes() == expected.tobytes()  # the QR encodes the payload

    records = workspace / "attest" / "custody" / "records"
    [record_path] = records.glob("rehearsal_*.json")
    record = json.loads(record_path.read_text())
    assert record["event"] == "rehearsal" and record["root_fingerprint"] == root_fingerprint
    assert record["witnesses"] == ["김하늘", "Lubit"] and pdf_path.name in record["notes"]
    age = custody_age(records, dt.datetime.now(dt.UTC))
    assert age.age_days is not None and age.age_days < 0.01 and age.newest_record == record_path.name

    from lumen_assets.attest.issue import find_artifacts
    from lumen_assets.config import load_config

    spec = [a for a in load_config().attest.artifacts if a.asset == "ceremony"][0]
    assert find_artifacts(workspace, [spec.glob], spec.exclude) == [str(pdf_path.relative_to(workspace))]


def test_a_failed_rehearsal_is_logged_without_certificate(workspace: Path, tmp_path: Path, capsys) -> None:
    failing = PASSING.replace("torn_seal: [halt, report]", "torn_seal: [replace_seal]")
    assert main(["ceremony", "--workspace", str(workspace), "--answers", _answers(tmp_path, failing)]) == 1
    out = capsys.readouterr().out
    assert "NOT PASSED" in out and "critical anomaly torn_seal mishandled" in out
    artifacts = workspace / "custody" / "sim" / "artifacts"
    assert len(list(artifacts.glob("rehearsal_*.json"))) == 1 and not list(artifacts.glob("certificate_*"))
    assert not (workspace / "attest" / "custody" / "records").exists()


def test_bad_inputs_exit_2_naming_file_and_key(workspace: Path, tmp_path: Path, capsys) -> None:
    (workspace / "ceremony.yaml").write_text("version: 1\nsteps: {a: x}\nactions: {b: y}\nscenarios:\n  - id: s\n    title: t\n    steps: [zz]\n")
    assert main(["ceremony", "--workspace", str(workspace), "--answers", _answers(tmp_path, PASSING)]) == 2
    assert f"{workspace / 'ceremony.yaml'}:" in capsys.readouterr().out
    (workspace / "ceremony.yaml").unlink()
    assert main(["ceremony", "--workspace", str(workspace), "--answers", _answers(tmp_path, "trainee: x\nscenario: y\n")]) == 2
    assert "unknown scenario 'y'" in capsys.readouterr().out


def test_without_a_pinned_root_there_is_no_certificate(tmp_path: Path, capsys) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    assert main(["ceremony", "--workspace", str(bare), "--answers", _answers(tmp_path, PASSING)]) == 2
    assert "root fingerprint is needed" in capsys.readouterr().out
    assert list((bare / "custody" / "sim" / "artifacts").glob("rehearsal_*.json"))


def test_list_shows_the_scenarios(workspace: Path, capsys) -> None:
    assert main(["ceremony", "--workspace", str(workspace), "--list"]) == 0
    assert "quarterly_audit_torn_seal — Quarterly audit — torn seal detected (3 steps; torn_seal, log_mismatch)" in capsys.readouterr().out
