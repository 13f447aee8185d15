"""The tamper family (issue 13): each way of altering the log's own state fails `lumen tlog audit` and
`lumen verify`, each with its named cause; the untouched log passes both."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lumen_assets.cli import main
from lumen_assets.tlog.audit import AuditError, audit_increment, audit_log
from lumen_assets.tlog.checkpoint import open_checkpoint
from lumen_assets.tlog.log import TransparencyLog
from tests.attest.conftest import ORIGIN, Attested, attest_and_log

THIRD = "controls/reports/report_2025-01-03.md"


@pytest.fixture
def logged(attested: Attested) -> Attested:
    """The trust files (leaves 0-2: root, signer, CRL), then three artefacts in two appends (leaves 3-5):
    checkpoints of size 3, 5 and 6."""
    (attested.workspace / THIRD).write_text("# day three\n", encoding="utf-8")
    attest_and_log(attested.workspace, [THIRD], attested.trust)
    return attested


def _vkey(ws: Path) -> str:
    return (ws / "attest/trust/log.vkey").read_text().strip()


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_entries_hash(ws: Path) -> None:
    path = ws / "tlog/entries.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["leaf_hash"] = "00" * 32
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def _edit_entries_name(ws: Path) -> None:
    path = ws / "tlog/entries.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[3])
    record["name"] = "logs/something_else.jsonl"
    lines[3] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def _corrupt_old_signature(ws: Path) -> None:
    path = ws / "tlog/checkpoints/000000000005"
    note = path.read_text()
    head, _, last = note.rstrip("\n").rpartition(" ")
    flipped = ("A" if last[10] != "A" else "B")
    path.write_text(f"{head} {last[:10]}{flipped}{last[11:]}\n")


def _extra_leaf_and_garbage_line(ws: Path) -> None:
    with open(ws / "tlog/leaves.bin", "ab") as handle:
        handle.write(b"\x42" * 32)
    with open(ws / "tlog/entries.jsonl", "a") as handle:
        handle.write("this is not json\n")


def _roll_back_checkpoint(ws: Path) -> None:
    shutil.copy(ws / "tlog/checkpoints/000000000005", ws / "tlog/checkpoint")


def _alter_entry_bundle(ws: Path) -> None:
    path = ws / "tlog/tile/entries/000.p/6"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


def _alter_tile(ws: Path) -> None:
    _flip(ws / "tlog/tile/0/000.p/6", 40)


def _truncate_leaves(ws: Path) -> None:
    path = ws / "tlog/leaves.bin"
    path.write_bytes(path.read_bytes()[:64])


TAMPERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped byte in levels/01.bin": (lambda ws: _flip(ws / "tlog/levels/01.bin", 3),
                                      "tlog/levels/01.bin node 0 (offset 0): is not the hash of its children"),
    "flipped byte in leaves.bin": (lambda ws: _flip(ws / "tlog/leaves.bin", 33),
                                   "tlog/leaves.bin leaf 1 (offset 32): does not hash from its entry"),
    "edited leaf_hash in entries.jsonl": (_edit_entries_hash,
                                          "tlog/entries.jsonl line 2: leaf_hash is not leaf 1's hash"),
    "edited name in entries.jsonl": (_edit_entries_name,
                                     "tlog/entries.jsonl line 4: name is not a subject of the envelope"),
    "corrupted signature on an older checkpoint": (
        _corrupt_old_signature, "tlog/checkpoints/000000000005: checkpoint does not verify"),
    "extra unsigned leaf and a garbage entries line": (
        _extra_leaf_and_garbage_line,
        "tlog/leaves.bin leaf 6 (offset 192): beyond the newest signed checkpoint and not marked pending"),
    "checkpoint rolled back to an older signed one": (
        _roll_back_checkpoint, "tlog/checkpoint: rolled back: older than the newest signed checkpoint"),
    "altered entry bundle": (_alter_entry_bundle, "tlog/leaves.bin leaf 5 (offset 160): does not hash from its entry"),
    "altered hash tile": (_alter_tile, "tlog/tile/0/000.p/6 hash 1 (offset 32): differs from the log's tree"),
    "leaves truncated": (_truncate_leaves, "tlog/leaves.bin leaf 2 (offset 64): ends before the newest signed"),
}


def test_untouched_log_passes_the_audit(logged: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    report = audit_log(logged.workspace / "tlog", _vkey(logged.workspace), ORIGIN)
    assert (report.leaves, report.entries, report.newest and report.newest.checkpoint.tree_size) == (6, 6, 6)
    assert [c.checkpoint.tree_size for c in report.checkpoints] == [3, 5, 6, 6]
    assert main(["tlog", "audit", "--workspace", str(logged.workspace)]) == 0
    out = capsys.readouterr().out
    assert "ok   6 leaves recomputed" in out and "not pinned" in out


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampered_log_fails_audit_and_verify_with_the_named_cause(
        logged: Attested, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    tamper, cause = TAMPERS[case]
    ws = logged.workspace
    tamper(ws)
    with pytest.raises(AuditError) as caught:
        audit_log(ws / "tlog", _vkey(ws), ORIGIN)
    assert str(caught.value).startswith(cause), str(caught.value)
    assert main(["tlog", "audit", "--workspace", str(ws), "--log-key", _vkey(ws)]) == 1
    assert f"FAIL {cause}" in capsys.readouterr().out
    assert main(["verify", str(logged.report), "--workspace", str(ws)]) == 1
    out = capsys.readouterr().out
    assert f"NOT VERIFIED: log: {cause}" in out, out


def test_newer_checkpoint_from_outside_exposes_a_rolled_back_workspace(
        logged: Attested, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole tlog folder rolled back (leaves, index, history) is caught by a checkpoint kept elsewhere."""
    ws = logged.workspace
    kept = tmp_path / "kept-checkpoint"
    shutil.copy(ws / "tlog/checkpoint", kept)
    old_state = tmp_path / "old-tlog"
    shutil.copytree(ws / "tlog", old_state)
    (ws / "more.md").write_text("more\n")
    attest_and_log(ws, ["more.md"], logged.trust)
    newer = tmp_path / "newer-checkpoint"
    shutil.copy(ws / "tlog/checkpoint", newer)
    shutil.rmtree(ws / "tlog")
    shutil.copytree(old_state, ws / "tlog")  # the operator restores yesterday's log
    assert main(["verify", str(logged.report), "--workspace", str(ws), "--checkpoint", str(kept)]) == 0
    capsys.readouterr()
    assert main(["verify", str(logged.report), "--workspace", str(ws), "--checkpoint", str(newer)]) == 1
    assert "log: tlog/checkpoint: rolled back: older than the newest signed checkpoint " + str(newer) \
        in capsys.readouterr().out


def test_checkpoint_signed_by_an_unpinned_key_fails(logged: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumen_assets.tlog.checkpoint import verifier_key

    other = verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    assert main(["verify", str(logged.report), "--workspace", str(logged.workspace), "--log-key", other]) == 1
    assert "NOT VERIFIED: inclusion: checkpoint: checkpoint carries no signature" in capsys.readouterr().out


def test_pending_leaves_are_accepted_only_when_marked(logged: Attested) -> None:
    tlog = logged.workspace / "tlog"
    with TransparencyLog.open(tlog, writer=True) as log:
        log.append(b"crashed before its checkpoint")
    with pytest.raises(AuditError, match="not marked pending"):
        audit_log(tlog, _vkey(logged.workspace), ORIGIN)
    (tlog / "pending.json").write_text(json.dumps({"first": 6, "count": 1, "names": ["x"]}))
    with pytest.raises(AuditError, match=r"tile/entries/000.p/7: missing"):
        audit_log(tlog, _vkey(logged.workspace), ORIGIN)


def test_incremental_audit_names_the_new_leaf_that_does_not_match(logged: Attested) -> None:
    tlog = logged.workspace / "tlog"
    vkey = _vkey(logged.workspace)
    previous = open_checkpoint((tlog / "checkpoints/000000000005").read_text(), vkey)
    current = open_checkpoint((tlog / "checkpoint").read_text(), vkey)
    assert audit_increment(tlog, previous, current) is None
    _edit_entries_hash_last(tlog)
    finding = audit_increment(tlog, previous, current)
    assert finding is not None and str(finding).startswith("tlog/entries.jsonl line 6: leaf_hash is not leaf 5's")


def _edit_entries_hash_last(tlog: Path) -> None:
    path = tlog / "entries.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[-1])
    record["leaf_hash"] = "11" * 32
    lines[-1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def test_a_crash_between_append_and_checkpoint_is_pending_then_recovered(logged: Attested,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from lumen_assets.tlog import publish

    ws, tlog = logged.workspace, logged.workspace / "tlog"
    (ws / "crash.md").write_text("crash\n")

    def power_cut(*args: object, **kwargs: object) -> str:
        raise OSError("power cut before the checkpoint was signed")

    monkeypatch.setattr(publish, "sign_checkpoint", power_cut)
    with pytest.raises(OSError, match="power cut"):
        attest_and_log(ws, ["crash.md"], logged.trust)
    monkeypatch.undo()
    report = audit_log(tlog, _vkey(ws), ORIGIN)  # leaf 6 is beyond checkpoint 6 but marked pending
    assert (report.leaves, report.pending, report.entries) == (7, 1, 6)
    (ws / "after.md").write_text("after\n")
    attest_and_log(ws, ["after.md"], logged.trust)
    report = audit_log(tlog, _vkey(ws), ORIGIN)
    assert (report.leaves, report.pending, report.entries, report.newest.checkpoint.tree_size) == (8, 0, 8, 8)
    assert json.loads((tlog / "entries.jsonl").read_text().splitlines()[6])["recovered"] is True


def test_a_log_from_before_tiles_is_backfilled_from_the_envelopes_on_disk(logged: Attested) -> None:
    from lumen_assets.tlog.publish import ProofError, backfill_tiles, trust_files

    ws, tlog = logged.workspace, logged.workspace / "tlog"
    shutil.rmtree(tlog / "tile")  # what a log written before entry bundles looks like
    with pytest.raises(AuditError, match=r"tlog/tile/entries/000.p/6: missing"):
        audit_log(tlog, _vkey(ws), ORIGIN)
    envelopes = sorted((ws / "attest").rglob("*.dsse.json"))
    trust = [(ws / rel).read_bytes() for rel, _ in trust_files(ws, "attest/trust")]
    with pytest.raises(ProofError, match=r"leaves \[5\] have no entry left to publish"):
        backfill_tiles(tlog, trust + [p.read_bytes() for p in envelopes if "01-03" not in p.name])
    assert not (tlog / "tile").exists()
    assert backfill_tiles(tlog, trust + [p.read_bytes() for p in envelopes]) == 6
    report = audit_log(tlog, _vkey(ws), ORIGIN)  # every checkpoint size has its partial tiles again
    assert report.leaves == 6 and (tlog / "tile/0/000.p/3").exists() and (tlog / "tile/entries/000.p/5").exists()


def test_outside_anchors_are_never_silently_ignored(logged: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    ws = logged.workspace
    assert main(["verify", str(logged.report), "--workspace", str(ws), "--no-log-audit",
                 "--checkpoint", str(ws / "tlog/checkpoint")]) == 1
    assert "--checkpoint and --witness are checked against the workspace log, which is skipped" in capsys.readouterr().out


def test_verify_names_its_anchors_and_pinned_ones_win_over_the_workspace(
        logged: Attested, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 §2: without --root/--log-key verify says it took the anchors from the workspace; pinned from
    outside, they are what counts: a workspace log.vkey swapped for another key fails unpinned, not pinned."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumen_assets.tlog.checkpoint import verifier_key

    ws = logged.workspace
    root, vkey = logged.trust.root_dir / "root_cert.pem", _vkey(ws)
    assert main(["verify", str(logged.report), "--workspace", str(ws)]) == 0
    assert "anchors: root from the workspace attest/trust/root.pem, log key from the workspace attest/trust/log.vkey " \
           "(pin them with --root/--log-key)" in capsys.readouterr().out
    pinned = ["--root", str(root), "--log-key", vkey]
    assert main(["verify", str(logged.report), "--workspace", str(ws), *pinned]) == 0
    out = capsys.readouterr().out
    assert f"anchors: root --root {root}, log key --log-key\n" in out and "VERIFIED" in out
    (ws / "attest/trust/log.vkey").write_text(verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key()) + "\n")
    assert main(["verify", str(logged.report), "--workspace", str(ws)]) == 1
    assert "NOT VERIFIED: inclusion: checkpoint" in capsys.readouterr().out
    assert main(["verify", str(logged.report), "--workspace", str(ws), *pinned]) == 0


@pytest.mark.parametrize("node", [2, 0])
def test_a_flipped_index_node_and_the_next_trust_run(logged: Attested, node: int) -> None:
    """Issue 13's first case (a flipped byte of levels/01.bin, after which the next trust run passed): a node the
    next append builds on (node 2, leaves 4-5) makes the append refuse to sign a checkpoint that does not extend
    the previous one; one the append never reads (node 0, under the stored level-2 node) leaves the new
    checkpoint correct and is named by the full audit, which runs nightly (`log_audit`), in `lumen tlog audit`
    and in every `lumen verify`."""
    from lumen_assets.tlog.publish import ProofError

    ws, tlog = logged.workspace, logged.workspace / "tlog"
    vkey = _vkey(ws)
    _flip(tlog / "levels/01.bin", node * 32 + 3)
    previous = open_checkpoint((tlog / "checkpoint").read_text(), vkey)
    (ws / "next.md").write_text("next\n")
    if node == 2:
        with pytest.raises(ProofError, match=r"not signing size 7: the index under .* no longer yields the root of "
                                             r"the previous checkpoint \(size 6\)"):
            attest_and_log(ws, ["next.md"], logged.trust)
        assert open_checkpoint((tlog / "checkpoint").read_text(), vkey) == previous  # nothing signed
    else:
        attest_and_log(ws, ["next.md"], logged.trust)
        current = open_checkpoint((tlog / "checkpoint").read_text(), vkey)
        assert current.tree_size == 7 and audit_increment(tlog, previous, current) is None
    with pytest.raises(AuditError, match=rf"tlog/levels/01.bin node {node} \(offset {node * 32}\): is not the hash"):
        audit_log(tlog, vkey, ORIGIN)
