"""C2SP tlog-checkpoint bodies inside C2SP signed notes, signed with an Ed25519 log key.

Why: the seed published a bare root over HTTP and clients trusted whatever the server said (segD §7.8 #10,
§8.6 #2). A checkpoint (signed tree head) binds origin, size and root under the log key, so a verifier can
check an inclusion proof offline and a monitor can demand consistency between two checkpoints.

Formats (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note):

    <origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines\n]
    \n
    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\n

key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]; the signature covers the note
text (everything before the blank line, including its final newline). A verifier key is written
`<name>+<key id hex>+<base64(0x01 || public key)>` (the Go `note` package's vkey encoding).

Pure module: no dagster import.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash + space


class CheckpointError(ValueError):
    """A checkpoint or signed note that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint body: which log, how many leaves, which root."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text: origin, size, base64 root, then extension lines, each ending in a newline."""
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line:
                raise CheckpointError(f"checkpoint line {line!r} must be non-empty and single-line")
        lines = [self.origin, str(self.tree_size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def key_id(name: str, public_key: Ed25519PublicKey, alg: int = ALG_ED25519) -> bytes:
    """The signed-note key id: first 4 bytes of SHA-256(name || \\n || alg || key). `alg` is the signature
    type: 0x01 a log's Ed25519 note signature, 0x04 a witness's cosignature/v1."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + raw).digest()[:4]


def strict_b64decode(text: str) -> bytes:
    """Standard base64 in its one canonical spelling: Go's note writer emits it, and a second spelling of the
    same bytes (other unused padding bits) would let a changed byte of a signed note go unnoticed."""
    blob = base64.b64decode(text, validate=True)
    if base64.b64encode(blob).decode() != text:
        raise ValueError(f"{text[:16]}...: not canonical base64")
    return blob


def encode_vkey(name: str, public_key: Ed25519PublicKey, alg: int, error: type[ValueError], what: str) -> str:
    """`<name>+<key id hex>+<base64(alg || public key)>` (Go note.NewVerifier format) for a key of type `alg`;
    `error(...)` names `what` when the name cannot be written."""
    if not name or any(c in name for c in "+ \n\t"):
        raise error(f"{what} {name!r} must be non-empty without '+' or whitespace")
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return f"{name}+{key_id(name, public_key, alg).hex()}+{base64.b64encode(bytes([alg]) + raw).decode()}"


def decode_vkey(vkey: str, alg: int, error: type[ValueError], what: str, kind: str) -> tuple[str, Ed25519PublicKey]:
    """(name, public key) from a vkey string of type `alg`; the embedded key id must match. `error(...)` says
    what is wrong, naming `what` ("verifier key") and, for another key type, the `kind` expected."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise error(f"{what} {vkey!r} is not name+keyid+base64key")
    name, id_hex, key_b64 = parts
    try:
        blob = strict_b64decode(key_b64)
    except ValueError as exc:
        raise error(f"{what} for {name!r}: bad base64") from exc
    if len(blob) != 33 or blob[0] != alg:
        raise error(f"{what} for {name!r}: not {kind}")
    public_key = Ed25519PublicKey.from_public_bytes(blob[1:])
    if key_id(name, public_key, alg).hex() != id_hex.lower():
        raise error(f"{what} for {name!r}: key id {id_hex} does not match the key")
    return name, public_key


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The vkey string that pins a log key for verifiers (Go note.NewVerifier format)."""
    return encode_vkey(name, public_key, ALG_ED25519, CheckpointError, "key name")


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """(name, public key) from a vkey string; the embedded key id must match."""
    return decode_vkey(vkey, ALG_ED25519, CheckpointError, "verifier key", "an Ed25519 key")


def split_note(note: str) -> tuple[str, list[str]]:
    """(body including its final newline, signature lines) of a signed note."""
    split = note.find("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointError("signed note has no blank line before its signatures")
    return note[: split + 1], note[split + 2 : -1].split("\n")


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """The full signed note text for `checkpoint`, signed by the log key `name`."""
    body = checkpoint.body()
    signature = private_key.sign(body.encode())
    blob = key_id(name, private_key.public_key()) + signature
    return f"{body}\n{SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


def parse_checkpoint_body(body: str) -> Checkpoint:
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, tree size and root hash lines")
    origin, size_text, root_b64, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"checkpoint tree size {size_text!r} is not a canonical decimal")
    try:
        root_hash = strict_b64decode(root_b64)
    except ValueError as exc:
        raise CheckpointError("checkpoint root hash is not base64") from exc
    if len(root_hash) != 32:
        raise CheckpointError(f"checkpoint root hash has {len(root_hash)} bytes, expected 32")
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def open_checkpoint(note: str, vkey: str, origin: str | None = None) -> Checkpoint:
    """Verify a signed note with the pinned log key and return its checkpoint.

    Raises CheckpointError naming what failed: format, missing signature by this key, bad signature,
    or an origin other than the expected one.
    """
    name, public_key = parse_verifier_key(vkey)
    body, signature_lines = split_note(note)
    expected_id = key_id(name, public_key)
    found = False
    for line in signature_lines:
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError(f"signed note line {line!r} is not a signature line")
        try:
            signer_name, blob_b64 = line[len(SIG_PREFIX):].split(" ")
            blob = strict_b64decode(blob_b64)
        except ValueError as exc:
            raise CheckpointError(f"signature line {line!r} is malformed") from exc
        if signer_name != name or blob[:4] != expected_id:
            continue  # a signature by another key (e.g. a witness): not ours to check
        found = True
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature as exc:
            raise CheckpointError(f"checkpoint signature by log key {name!r} does not verify") from exc
    if not found:
        raise CheckpointError(f"checkpoint carries no signature by log key {name!r}")
    checkpoint = parse_checkpoint_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return checkpoint
