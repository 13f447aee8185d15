"""Go's own sumdb packages accept Lumen's log (issue 13: "keep that compatibility").

tests/tlog/go_verifier/main.go is built with the Debian Go toolchain against Debian's golang.org/x/mod source
(packages golang-go and golang-golang-x-mod-dev, installed by scripts/system-deps.sh; offline: GOPATH mode,
GOPROXY=off) and run on a log of 306 leaves (full and partial tiles on two levels): `note.Open` opens the
signed checkpoints with the log's verifier key, `tlog.CheckRecord` checks Lumen's inclusion proofs,
`tlog.CheckTree` Lumen's consistency proof, and `TileHashReader` + `ProveRecord` / `ProveTree` re-derive the
same proofs from the published tiles. One flipped byte in any of them makes it fail."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE
from lumen_assets.attest.keys import log_key
from lumen_assets.tlog.log import TransparencyLog
from lumen_assets.tlog.publish import append_entries
from tests.attest.conftest import ORIGIN, Attested, attest_and_log

SOURCE = Path(__file__).parent / "go_verifier" / "main.go"
GOPATH = Path("/usr/share/gocode")
X_MOD = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"
INSTALL = "scripts/system-deps.sh installs them (apt-get install golang-go golang-golang-x-mod-dev)"
REPORT = "controls/reports/report_2025-01-02.md"
LATE = "controls/reports/report_2025-01-09.md"


@pytest.fixture(scope="module")
def go_verifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not X_MOD.is_dir():
        missing = "the Go toolchain (`go`)" if go is None else f"golang.org/x/mod source under {GOPATH}"
        pytest.skip(f"NOT RUN: Go compatibility of the log is unchecked here: {missing} is not installed; {INSTALL}")
    out = tmp_path_factory.mktemp("go") / "go_verifier"
    env = {**os.environ, "GOPATH": str(GOPATH), "GO111MODULE": "off", "GOPROXY": "off", "GOFLAGS": "",
           "GOCACHE": str(out.parent / "cache"), "CGO_ENABLED": "0"}
    build = subprocess.run([go, "build", "-o", str(out), str(SOURCE)], env=env, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, f"go build failed:\n{build.stdout}{build.stderr}"
    return out


@pytest.fixture
def big_log(attested: Attested) -> Attested:
    """The attested workspace (certificates, CRL and 2 envelopes: checkpoints of size 3 and 5), then 300 more
    leaves in three appends, then one more attested report: a log of 306 leaves with a full level-0 tile,
    partial tiles and several checkpoints."""
    ws = attested.workspace
    name, key = log_key(attested.trust.keystore, DEMO_PASSPHRASE)
    for batch in range(3):
        append_entries(ws / "tlog", [(f"filler/{batch}/{i}", f"filler entry {batch}/{i}\n".encode())
                                     for i in range(100)], ORIGIN, name, key)
    (ws / LATE).write_text("# late report\n")
    attest_and_log(ws, [LATE], attested.trust)
    return attested


def _run(binary: Path, ws: Path, consistency: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(binary), "-vkey", (ws / "attest/trust/log.vkey").read_text().strip(), "-log", str(ws / "tlog")]
    for rel in (REPORT, LATE):
        args += ["-proof", str(ws / "attest" / f"{rel}.proof.json"), "-entry", str(ws / "attest" / f"{rel}.dsse.json")]
    if consistency is not None:
        args += ["-old", str(ws / "tlog/checkpoints/000000000005"), "-consistency", str(consistency)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def _consistency_file(ws: Path) -> Path:
    with TransparencyLog(ws / "tlog") as log:
        proof = log.consistency_proof(5, log.size)
    path = ws / "consistency-5.hex"
    path.write_text("".join(h.hex() + "\n" for h in proof))
    return path


def test_go_sumdb_accepts_lumens_checkpoint_proofs_and_tiles(go_verifier: Path, big_log: Attested) -> None:
    ws = big_log.workspace
    result = _run(go_verifier, ws, _consistency_file(ws))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ok checkpoint {ORIGIN} size 306 signed by ")
    assert lines[1].startswith("ok inclusion leaf 3 in size 5 ")
    assert lines[2].startswith("ok inclusion leaf 305 in size 306 ")
    assert lines[3] == "ok consistency size 5 -> 306: CheckTree, same proof from the tiles"


def _flip_hex(text: str, at: int) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


@pytest.mark.parametrize(("target", "cause"), [
    ("inclusion", "tlog.CheckRecord leaf 305 in size 306"),
    ("old inclusion", "tlog.CheckRecord leaf 3 in size 5"),
    ("consistency", "tlog.CheckTree 5 -> 306"),
    ("checkpoint signature", "checkpoint: note.Open"),
    ("tile", "the tiles give a proof that does not verify (a tile altered?)"),
    ("partial tile", "tiles for size 306: downloaded inconsistent tile"),
])
def test_go_verifier_fails_on_one_flipped_byte(go_verifier: Path, big_log: Attested, target: str, cause: str) -> None:
    ws = big_log.workspace
    consistency = _consistency_file(ws)
    if target in ("inclusion", "old inclusion"):
        path = ws / "attest" / f"{LATE if target == 'inclusion' else REPORT}.proof.json"
        record = json.loads(path.read_text())
        record["hashes"][-1] = _flip_hex(record["hashes"][-1], 5)
        path.write_text(json.dumps(record))
    elif target == "consistency":
        consistency.write_text(_flip_hex(consistency.read_text(), 7))
    elif target == "checkpoint signature":
        path = ws / "tlog" / "checkpoint"
        body, signature = path.read_text().rsplit(" ", 1)
        raw = bytearray(base64.b64decode(signature))
        raw[10] ^= 0x01
        path.write_text(body + " " + base64.b64encode(bytes(raw)).decode() + "\n")
    else:
        path = ws / "tlog" / "tile" / "0" / ("000" if target == "tile" else "001.p/50")
        data = bytearray(path.read_bytes())
        data[100] ^= 0x01  # hash 3 of the tile
        path.write_bytes(bytes(data))
    result = _run(go_verifier, ws, consistency)
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[-1].startswith("FAIL "), result.stdout
    assert cause in result.stdout, result.stdout
