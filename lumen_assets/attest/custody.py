"""Root custody: ceremony records (with their sha256 kept in a ledger) and the printable ceremony packet.

Why (seed segD §4.5, §4.7, §5.2-§5.4): the seed printed a record's sha256 and threw it away, named files
inconsistently, rendered only unchecked checklist lines, and squeezed the QR into a lossy JPEG that
overlapped the text. Here a record has the seed's keys (ts_utc, event, witnesses, notes, plus the audit
keys auditors, seal_ok, photos, root_fingerprint), is written as `<event>_<YYYYmmddTHHMMSSZ>.json`, and its
sha256 goes into `records.jsonl` beside it; the packet is one PDF with a lossless QR of the root
fingerprint and every checklist item. Custody age = days since the newest record (seed §4.7 #5 left it open).

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from lumen_assets.atomic import atomic_write_bytes

EVENTS = ("initial", "quarterly_audit", "offline_signing", "incident", "restore_drill", "rehearsal")
LEDGER = "records.jsonl"

CHECKLISTS: dict[str, list[str]] = {
    "Initial Root Setup \u2014 Checklist": [
        "Air-gapped WS prepared (LTS OS, FDE on)",
        "USB whitelist tested",
        "Run `lumen keys init-root` (offline)",
        "Print root fingerprint + QR",
        "Seal packets prepared (ID recorded)",
        "Safe A/B deposit completed (witnessed)",
        "Record the ceremony with `lumen custody record --event initial` (2 custodians)",
    ],
    "Offline Signing \u2014 Checklist": [
        "Network confirmed off; unseal with two signatures (open record)",
        "Root key decrypted offline (passphrase entered by hand)",
        "Input verified: signer request or revocation serial",
        "Issue (`lumen keys issue-signer`) or revoke (`lumen keys revoke`)",
        "Output hashes printed; only certificates, CRL and hashes leave the room",
        "Key unmounted, resealed with a new seal ID (close record)",
    ],
    "Quarterly Audit \u2014 Checklist": [
        "Seal appearance and ID checked; timestamped photo hashed",
        "Safe access log reconciled",
        "Root fingerprint matches attest/trust/root.pem and the CRL issuer",
        "Transparency log checkpoint consistent with the previous audit",
        "Two witnesses sign; `lumen custody record --event quarterly_audit`",
    ],
    "Incident Response \u2014 Checklist": [
        "Root revocation declared and published",
        "New root created offline; new fingerprint published",
        "Signers reissued; verifiers told to pin the new root",
        "Sunset plan for the old root announced",
    ],
}


class CustodyError(ValueError):
    """A custody record that cannot be written as asked."""


def write_record(records_dir: Path, event: str, witnesses: list[str], notes: str = "",
                 root_fingerprint: str | None = None, auditors: list[str] | None = None,
                 seal_ok: bool | None = None, photos: list[Path] | None = None,
                 now: dt.datetime | None = None) -> tuple[Path, str]:
    """Write one ceremony record; returns (path, sha256 of the file bytes), also appended to the ledger."""
    if event not in EVENTS:
        raise CustodyError(f"event {event!r} is not one of {', '.join(EVENTS)}")
    if event in ("initial", "offline_signing") and len(witnesses) < 2:
        raise CustodyError(f"a {event} ceremony needs two witnesses (dual control, seed segD §4.2)")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    payload: dict[str, Any] = {
        "ts_utc": now.isoformat().replace("+00:00", "Z"),
        "event": event,
        "witnesses": witnesses,
        "notes": notes,
        "auditors": auditors or [],
        "seal_ok": seal_ok,
        "photos": [{"path": str(p), "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()} for p in photos or []],
        "root_fingerprint": root_fingerprint,
    }
    content = json.dumps(payload, ensure_ascii=False, indent=2).encode()
    records_dir = Path(records_dir)
    path = records_dir / f"{event}_{now:%Y%m%dT%H%M%SZ}.json"
    if path.exists():
        raise CustodyError(f"{path} already exists; records are never overwritten")
    atomic_write_bytes(path, content)
    digest = hashlib.sha256(content).hexdigest()
    with open(records_dir / LEDGER, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"path": path.name, "sha256": digest, "ts_utc": payload["ts_utc"], "event": event}) + "\n")
    return path, digest


def verify_ledger(records_dir: Path) -> list[str]:
    """Names of records whose bytes no longer match the sha256 recorded in the ledger."""
    ledger = Path(records_dir) / LEDGER
    if not ledger.exists():
        return []
    bad = []
    for line in ledger.read_text().splitlines():
        entry = json.loads(line)
        path = Path(records_dir) / entry["path"]
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            bad.append(entry["path"])
    return bad


def custody_age_days(records_dir: Path, now: dt.datetime | None = None) -> float | None:
    """Days since the newest ceremony record in the ledger; None when there is none (feeds resonance safety)."""
    ledger = Path(records_dir) / LEDGER
    if not ledger.exists():
        return None
    stamps = [dt.datetime.fromisoformat(json.loads(line)["ts_utc"].replace("Z", "+00:00"))
              for line in ledger.read_text().splitlines() if line.strip()]
    if not stamps:
        return None
    return ((now or dt.datetime.now(dt.UTC)) - max(stamps)).total_seconds() / 86400


def render_packet(out_path: Path, root_fingerprint: str, root_subject: str, crl_note: str = "",
                  now: dt.datetime | None = None) -> Path:
    """The printable ceremony packet: cover with the fingerprint QR, then every checklist."""
    import qrcode
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    now = now or dt.datetime.now(dt.UTC)
    qr_payload = json.dumps({"root_fp": root_fingerprint, "ts": now.isoformat()}, separators=(",", ":"))
    png = io.BytesIO()
    qrcode.make(qr_payload).save(png, format="PNG")  # lossless: a JPEG can make the code unscannable
    png.seek(0)

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    width, height = A4
    pdf.setTitle("Lumen Root Ceremony Packet")
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(20 * mm, height - 25 * mm, "Lumen Root Ceremony Packet")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(20 * mm, height - 35 * mm, "Includes: checklists, root fingerprint (QR), seal log")
    pdf.drawString(20 * mm, height - 42 * mm, f"Generated: {now.isoformat()}")
    pdf.drawString(20 * mm, height - 49 * mm, f"Root: {root_subject}")
    pdf.setFont("Courier", 9)
    pdf.drawString(20 * mm, height - 56 * mm, f"SHA-256 {root_fingerprint[:32]}")
    pdf.drawString(20 * mm, height - 61 * mm, f"        {root_fingerprint[32:]}")
    if crl_note:
        pdf.setFont("Helvetica", 10)
        pdf.drawString(20 * mm, height - 68 * mm, crl_note)
    pdf.drawImage(ImageReader(png), width - 20 * mm - 50 * mm, height - 85 * mm, 50 * mm, 50 * mm)
    pdf.setFont("Helvetica", 10)
    y = height - 100 * mm
    for line in ("Seal IDs: ______________________", "Witness 1: ______________________  signature: __________",
                 "Witness 2: ______________________  signature: __________"):
        pdf.drawString(20 * mm, y, line)
        y -= 9 * mm
    for title, items in CHECKLISTS.items():
        pdf.showPage()
        pdf.setFont("Helvetica-Bold", 16)
        pdf.drawString(20 * mm, height - 25 * mm, title)
        pdf.line(20 * mm, height - 31 * mm, width - 20 * mm, height - 31 * mm)
        y = height - 42 * mm
        for item in items:
            if y < 25 * mm:
                pdf.showPage()
                y = height - 25 * mm
            pdf.setFont("Helvetica", 11)  # reset after any page break (seed bug: stayed bold)
            pdf.rect(20 * mm, y - 1 * mm, 4 * mm, 4 * mm)
            pdf.drawString(27 * mm, y, item)
            y -= 9 * mm
    pdf.save()
    atomic_write_bytes(out_path, buffer.getvalue())
    return Path(out_path)
