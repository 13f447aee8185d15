"""C2SP signed-note / tlog-checkpoint: the Go reference vector and tamper cases."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lumen_assets.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
)
from lumen_assets.tlog.merkle import merkle_root

# golang.org/x/mod/sumdb/note note_test.go
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="


def _go_private_key() -> Ed25519PrivateKey:
    blob = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert blob[0] == 1
    return Ed25519PrivateKey.from_private_bytes(blob[1:])


def test_go_reference_key_and_signature() -> None:
    key = _go_private_key()
    assert verifier_key("PeterNeumann", key.public_key()) == GO_VKEY
    name, public = parse_verifier_key(GO_VKEY)
    assert name == "PeterNeumann"
    blob = base64.b64decode(GO_SIG)
    assert blob[:4].hex() == "c74f20a3"
    assert key.sign(GO_TEXT.encode()) == blob[4:]  # Ed25519 is deterministic: same bytes as Go
    public.verify(blob[4:], GO_TEXT.encode())


def test_checkpoint_round_trip_and_format() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key("lumen.test/log", key.public_key())
    root = merkle_root([b"a", b"b", b"c"])
    note = sign_checkpoint(Checkpoint("lumen.test/log", 3, root), "lumen.test/log", key)
    lines = note.split("\n")
    assert lines[0] == "lumen.test/log" and lines[1] == "3" and base64.b64decode(lines[2]) == root
    assert lines[3] == "" and lines[4].startswith("\u2014 lumen.test/log ")
    opened = open_checkpoint(note, vkey, origin="lumen.test/log")
    assert opened.tree_size == 3 and opened.root_hash == root


@pytest.mark.parametrize("position", ["size", "root", "origin", "signature"])
def test_tampered_checkpoint_is_rejected(position: str) -> None:
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key("log", key.public_key())
    note = sign_checkpoint(Checkpoint("log", 5, merkle_root([b"x"] * 5)), "log", key)
    lines = note.split("\n")
    if position == "size":
        lines[1] = "6"
    elif position == "root":
        lines[2] = base64.b64encode(merkle_root([b"y"])).decode()
    elif position == "origin":
        lines[0] = "other"
    else:
        sig = bytearray(base64.b64decode(lines[4].split(" ")[-1]))
        sig[10] ^= 1
        lines[4] = lines[4].rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(sig)).decode()
    with pytest.raises(CheckpointError):
        open_checkpoint("\n".join(lines), vkey)


def test_checkpoint_signed_by_another_key_is_rejected() -> None:
    note = sign_checkpoint(Checkpoint("log", 1, merkle_root([b"x"])), "log", Ed25519PrivateKey.generate())
    vkey = verifier_key("log", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(CheckpointError, match="no signature"):
        open_checkpoint(note, vkey)


def test_wrong_origin_is_rejected() -> None:
    key = Ed25519PrivateKey.generate()
    note = sign_checkpoint(Checkpoint("a/log", 1, merkle_root([b"x"])), "k", key)
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, verifier_key("k", key.public_key()), origin="b/log")


def _respelled(b64: str) -> str:
    """The same bytes in another base64 spelling: the last character before '=' padding with its unused
    low bit set (what a single flipped bit of a signed note can do without changing the decoded bytes)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stem = b64.rstrip("=")
    last = alphabet.index(stem[-1]) | 1
    respelled = stem[:-1] + alphabet[last] + b64[len(stem):]
    assert respelled != b64 and base64.b64decode(respelled) == base64.b64decode(b64)
    return respelled


@pytest.mark.parametrize("line", [2, 4])  # the root hash (32 bytes) and the signature (4 + 64 bytes): both padded
def test_another_base64_spelling_of_the_same_bytes_is_rejected(line: int) -> None:
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key("log", key.public_key())
    note = sign_checkpoint(Checkpoint("log", 5, merkle_root([b"x"] * 5)), "log", key)
    lines = note.split("\n")
    head, _, b64 = lines[line].rpartition(" ")
    lines[line] = (head + " " if head else "") + _respelled(b64)
    with pytest.raises(CheckpointError):
        open_checkpoint("\n".join(lines), vkey)
