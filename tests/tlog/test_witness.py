"""Two witnesses and a log that forks: each witness cosigns only one branch, so no fork gathers a quorum."""

from __future__ import annotations

import base64
import shutil
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen_assets.cli import main
from lumen_assets.tlog.witness import (
    WitnessError,
    cosign,
    cosignature_line,
    cosignature_time,
    fetcher,
    parse_witness_vkey,
    witness_vkey,
)
from tests.attest.conftest import Attested, attest_and_log


def _init_witness(state: Path, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["witness", "init", "--state", str(state), "--name", name]) == 0
    return capsys.readouterr().out.strip().split(": ", 1)[1]


def _cosign(ws: Path, state: Path, out: Path, checkpoint: str = "tlog/checkpoint") -> int:
    return main(["witness", "cosign", "--checkpoint", str(ws / checkpoint), "--state", str(state),
                 "--log-key", str(ws / "attest/trust/log.vkey"), "--tiles", str(ws / "tlog"), "--out", str(out)])


def test_cosignature_matches_the_c2sp_format() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = witness_vkey("witness.example.com/w1", key.public_key())
    name, public = parse_witness_vkey(vkey)
    assert name == "witness.example.com/w1" and base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    body = "example.com/log\n3\n" + base64.b64encode(b"\x01" * 32).decode() + "\n"
    note = body + "\n\u2014 example.com/log AAAA\n"
    line = cosignature_line(body, name, key, 1679315147)
    blob = base64.b64decode(line.split(" ")[2])
    assert len(blob) == 76 and struct.unpack(">Q", blob[4:12])[0] == 1679315147
    public.verify(blob[12:], b"cosignature/v1\ntime 1679315147\n" + body.encode())  # the spec's signed message
    assert cosignature_time(note + line + "\n", vkey) == 1679315147
    assert cosignature_time(note.replace("\n3\n", "\n4\n") + line + "\n", vkey) is None


def test_two_witnesses_and_a_forking_log(attested: Attested, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LUMEN_WITNESS_PASS", "witness-secret")
    branch_a = attested.workspace
    branch_b = tmp_path / "fork" / "ws"
    shutil.copytree(branch_a, branch_b)  # same history, same log key: size 5
    w1, w2 = tmp_path / "w1", tmp_path / "w2"
    vkey1 = _init_witness(w1, "witness.example/w1", capsys)
    vkey2 = _init_witness(w2, "witness.example/w2", capsys)
    assert _cosign(branch_a, w1, tmp_path / "a2-w1") == 0 and _cosign(branch_a, w2, tmp_path / "a2-w2") == 0

    # The log forks: branch A appends one artefact, branch B two different ones.
    (branch_a / "a.md").write_text("branch a\n")
    attest_and_log(branch_a, ["a.md"], attested.trust)
    for name in ("b1.md", "b2.md"):  # two appends: sizes 6 and 7
        (branch_b / name).write_text(f"branch b {name}\n")
        attest_and_log(branch_b, [name], attested.trust)
    capsys.readouterr()

    assert _cosign(branch_a, w1, tmp_path / "a3-w1") == 0           # w1 is shown branch A
    assert _cosign(branch_b, w2, tmp_path / "b4-w2") == 0           # w2 is shown branch B
    assert _cosign(branch_b, w1, tmp_path / "b4-w1") == 1           # w1 refuses B: not consistent with A
    assert "size 7 is not consistent with size 6 already witnessed (the log forked)" in capsys.readouterr().err
    shutil.copy(branch_b / "tlog/checkpoints/000000000006", tmp_path / "b3")
    assert main(["witness", "cosign", "--checkpoint", str(tmp_path / "b3"), "--state", str(w1), "--log-key",
                 str(branch_b / "attest/trust/log.vkey"), "--tiles", str(branch_b / "tlog"), "--out",
                 str(tmp_path / "b3-w1")]) == 1
    assert "a different root at size 6 than the one witnessed (the log forked)" in capsys.readouterr().err
    assert _cosign(branch_a, w2, tmp_path / "a3-w2") == 1           # w2 refuses A: older than B7 seen
    assert "size 6 is older than size 7 already witnessed (rollback)" in capsys.readouterr().err

    report = str(branch_a / "controls/reports/report_2025-01-02.md")
    both = ["--witness", vkey1, "--witness", vkey2]
    # Each branch verifies without witnesses, and with the one witness it fooled ...
    assert main(["verify", report, "--workspace", str(branch_a)]) == 0
    assert main(["verify", report, "--workspace", str(branch_a), "--checkpoint", str(tmp_path / "a3-w1"),
                 *both, "--witness-threshold", "1"]) == 0
    assert "witnesses    1 of 2 witnesses cosigned size 6: witness.example/w1" in capsys.readouterr().out
    # ... but neither gathers both cosignatures.
    assert main(["verify", report, "--workspace", str(branch_a), "--checkpoint", str(tmp_path / "a3-w1"), *both]) == 1
    assert "carries 1 of 2 witness cosignatures, 2 required" in capsys.readouterr().out
    report_b = str(branch_b / "controls/reports/report_2025-01-02.md")
    assert main(["verify", report_b, "--workspace", str(branch_b), "--checkpoint", str(tmp_path / "b4-w2"), *both]) == 1
    assert "carries 1 of 2 witness cosignatures, 2 required" in capsys.readouterr().out
    # A cosigned checkpoint of the other branch handed to a verifier exposes the fork.
    assert main(["verify", report_b, "--workspace", str(branch_b), "--checkpoint", str(tmp_path / "a3-w1")]) == 1
    assert "the log forked" in capsys.readouterr().out


def test_witness_refuses_a_checkpoint_not_signed_by_the_log(attested: Attested, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    other = "other+00000000+" + base64.b64encode(b"\x01" + b"\x00" * 32).decode()
    note = (attested.workspace / "tlog/checkpoint").read_text()
    with pytest.raises(WitnessError):
        cosign(note, other, tmp_path / "w", "w", key, fetcher(str(attested.workspace / "tlog")), 1)
