"""AES-256-GCM: the seed's v1 files open; Lumen's streaming v2 detects every tampering and stays bounded."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumen_assets.archive import encryption as enc
from tests.archive import seed_v1
from tests.archive.conftest import RAW_KEY_B64

SEG = 4096
RAW = enc.KeyMaterial(raw_key=b"0123456789abcdef0123456789abcdef")


def seal(plaintext: bytes, material: enc.KeyMaterial = RAW, segment_size: int = SEG) -> bytes:
    return enc.encrypt_bytes(plaintext, material, segment_size=segment_size, scrypt_log2_n=10)


def segments(blob: bytes, segment_size: int = SEG) -> tuple[bytes, list[bytes]]:
    header, body = blob[: enc.V2_HEADER_SIZE], blob[enc.V2_HEADER_SIZE :]
    step = segment_size + enc.TAG_SIZE
    return header, [body[i : i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize("secret", [RAW_KEY_B64, "correct horse battery staple", "short"])
@pytest.mark.parametrize("size", [0, 1, 100_000])
def test_seed_v1_file_decrypts_with_lumen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str, size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    src, dst = tmp_path / "bundle.tar.gz", tmp_path / "bundle.tar.gz.lumen.enc"
    src.write_bytes(plaintext)
    monkeypatch.setenv("LUMEN_ARCHIVE_KEY", secret)
    meta = seed_v1.encrypt_aes_gcm(src, dst, "LUMEN_ARCHIVE_KEY")
    blob = dst.read_bytes()
    assert len(blob) == size + 53 and meta["len"] == size + 16
    assert enc.decrypt_bytes(blob, secret) == plaintext
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(blob, "totally-wrong-key")


def test_seed_kdf_is_rfc5869_hkdf_info_key() -> None:
    salt = bytes(range(16))
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"key").derive(b"pass")
    assert enc.seed_v1_key("pass", salt) == derived


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.sampled_from([0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 7]), chunk=st.integers(1, 3 * SEG))
def test_v2_roundtrip_any_size_and_write_pattern(size: int, chunk: int) -> None:
    plaintext = (b"lumen" * (size // 5 + 1))[:size]
    out = io.BytesIO()
    writer = enc.StreamEncryptor(out, RAW, segment_size=SEG)
    for start in range(0, size, chunk):
        writer.write(plaintext[start : start + chunk])
    writer.close()
    blob = out.getvalue()
    expected_segments = max(1, -(-size // SEG))
    assert len(blob) == enc.V2_HEADER_SIZE + size + expected_segments * enc.TAG_SIZE
    assert enc.decrypt_bytes(blob, RAW_KEY_B64) == plaintext


def test_passphrase_uses_scrypt_and_header_records_it() -> None:
    material = enc.resolve_key_material("correct horse battery staple")
    assert material.passphrase is not None
    blob = seal(b"secret bundle", material)
    header = enc.V2Header.unpack(blob)
    assert header.kdf == enc.KDF_SCRYPT and header.log2_n == 10 and header.r == 8
    assert enc.decrypt_bytes(blob, "correct horse battery staple") == b"secret bundle"
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(blob, "wrong horse")


def test_raw_key_needs_canonical_base64_of_32_bytes() -> None:
    assert enc.resolve_key_material(RAW_KEY_B64).raw_key == b"0123456789abcdef0123456789abcdef"
    # the seed's non-strict decode would have taken this (junk chars dropped) as a raw key
    assert enc.resolve_key_material(RAW_KEY_B64[:10] + "!" + RAW_KEY_B64[10:]).passphrase is not None
    with pytest.raises(enc.EncryptionError):
        enc.resolve_key_material("not base64", "raw")


def test_truncation_at_a_segment_boundary_is_detected() -> None:
    blob = seal(b"a" * (3 * SEG))
    header, parts = segments(blob)
    assert len(parts) == 3
    for keep in (0, 1, 2):
        with pytest.raises(enc.EncryptionError):
            enc.decrypt_bytes(header + b"".join(parts[:keep]), RAW_KEY_B64)


def test_truncation_inside_a_segment_and_trailing_bytes_are_detected() -> None:
    blob = seal(b"b" * (2 * SEG + 100))
    for cut in (1, 15, 16, 117, SEG + 16):
        with pytest.raises(enc.EncryptionError):
            enc.decrypt_bytes(blob[:-cut], RAW_KEY_B64)
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(blob + b"\x00", RAW_KEY_B64)


def test_reordered_segments_are_detected() -> None:
    plaintext = b"".join(bytes([i]) * SEG for i in range(3)) + b"tail"
    header, parts = segments(seal(plaintext))
    with pytest.raises(enc.EncryptionError, match="segment 0"):
        enc.decrypt_bytes(header + parts[1] + parts[0] + parts[2] + parts[3], RAW_KEY_B64)


def test_splicing_segments_between_files_with_the_same_key_is_detected() -> None:
    header_a, parts_a = segments(seal(b"A" * 2 * SEG))
    header_b, parts_b = segments(seal(b"B" * 2 * SEG))
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(header_a + parts_b[0] + parts_a[1], RAW_KEY_B64)
    with pytest.raises(enc.EncryptionError):  # a whole foreign body under our header
        enc.decrypt_bytes(header_a + b"".join(parts_b), RAW_KEY_B64)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_fails(data: st.DataObject) -> None:
    blob = bytearray(seal(b"payload-" * 1200))
    position = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.integers(0, 7))
    blob[position] ^= 1 << bit
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(bytes(blob), RAW_KEY_B64)


def test_raw_key_file_refuses_a_passphrase_and_vice_versa() -> None:
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(seal(b"x"), "some passphrase")
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(seal(b"x", enc.resolve_key_material("pw")), RAW_KEY_B64)


def test_header_cannot_ask_for_unbounded_scrypt_memory() -> None:
    blob = bytearray(seal(b"x", enc.resolve_key_material("pw")))
    blob[10] = 30  # log2_n
    with pytest.raises(enc.EncryptionError, match="scrypt parameters"):
        enc.decrypt_bytes(bytes(blob), "pw")


def test_encryptor_memory_is_one_segment_whatever_the_input() -> None:
    class Sink:
        def __init__(self) -> None:
            self.largest = 0
            self.total = 0

        def write(self, data: bytes) -> None:
            self.largest = max(self.largest, len(data))
            self.total += len(data)

    sink = Sink()
    writer = enc.StreamEncryptor(sink, RAW, segment_size=SEG)  # type: ignore[arg-type]
    for _ in range(1000):
        writer.write(b"z" * 3000)
        assert writer.buffered <= SEG  # never more than one segment held back
    writer.close()
    assert sink.largest == SEG + enc.TAG_SIZE and sink.total == enc.V2_HEADER_SIZE + 3_000_000 + 733 * enc.TAG_SIZE


def test_nonce_layout_is_prefix_counter_final_flag() -> None:
    assert enc._nonce(b"P" * 7, 5, True) == b"P" * 7 + struct.pack(">I", 5) + b"\x01"
    assert len(enc._nonce(b"P" * 7, 0, False)) == 12


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(whole=st.integers(0, 4), tail=st.integers(0, SEG), per_chunk=st.integers(1, 3))
def test_more_follows_seals_whole_segments_from_the_callers_buffer_with_the_same_layout(whole: int, tail: int, per_chunk: int) -> None:
    """The freeze pipeline hands over chunks of whole segments and says whether bytes follow; the file it
    gets must have exactly the segment layout of the plain write path (only the last segment final)."""
    plaintext = (b"segment!" * ((whole * SEG + tail) // 8 + 1))[: whole * SEG + tail]
    hinted_out = io.BytesIO()
    writer = enc.StreamEncryptor(hinted_out, RAW, segment_size=SEG)
    chunk = per_chunk * SEG
    starts = list(range(0, len(plaintext), chunk))
    for number, start in enumerate(starts):
        writer.write(plaintext[start : start + chunk], more_follows=number < len(starts) - 1)
    writer.close()
    blob = hinted_out.getvalue()
    assert len(blob) == len(seal(plaintext))  # same segment count: no empty trailing segment
    assert enc.decrypt_bytes(blob, RAW_KEY_B64) == plaintext
    header, parts = segments(blob)
    cut = header + b"".join(parts[:-1])  # dropping the final segment must still be caught
    if len(parts) > 1:
        with pytest.raises(enc.EncryptionError):
            enc.decrypt_bytes(cut, RAW_KEY_B64)


def test_a_wrong_more_follows_hint_only_costs_an_empty_final_segment() -> None:
    """A caller that says more follows and then closes: the stream ends with an empty final segment, which
    still authenticates (and truncation before it is still detected)."""
    out = io.BytesIO()
    writer = enc.StreamEncryptor(out, RAW, segment_size=SEG)
    writer.write(b"x" * (2 * SEG), more_follows=True)
    writer.close()
    blob = out.getvalue()
    assert len(blob) == enc.V2_HEADER_SIZE + 2 * SEG + 3 * enc.TAG_SIZE
    assert enc.decrypt_bytes(blob, RAW_KEY_B64) == b"x" * (2 * SEG)
    with pytest.raises(enc.EncryptionError):
        enc.decrypt_bytes(blob[: -enc.TAG_SIZE], RAW_KEY_B64)
