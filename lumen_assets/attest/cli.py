"""`lumen keys ...`, `lumen verify ...`, `lumen custody ...` (seed segD §2-§5, §8.3)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _config(workspace: Path | None, config: str | None):
    from lumen_assets.config import load_config, resolve_config_path

    return load_config(resolve_config_path(workspace or Path.cwd(), config))


def _secret(name: str, purpose: str = "the key passphrase") -> str:
    """A passphrase through lumen.resources.secrets: a missing one stops the command naming the variable."""
    from lumen.resources.secrets import MissingSecret, require_secret

    try:
        return require_secret(name, purpose)
    except MissingSecret as exc:
        raise SystemExit(f"lumen: {exc}") from None


def _err(message: str) -> int:
    print(f"lumen: {message}", file=sys.stderr)
    return EXIT_FAIL


# -- keys -------------------------------------------------------------------------------------------


def cmd_init_root(args: argparse.Namespace) -> int:
    from lumen_assets.attest.keys import TrustError, fingerprint, init_root, load_cert

    settings = _config(args.workspace, args.config).attest
    try:
        paths = init_root(Path(args.out), _secret(settings.root_passphrase_env), common_name=args.name,
                          years=args.years or settings.root_years, workspace=args.workspace,
                          algorithm=args.algorithm)
    except TrustError as exc:
        return _err(str(exc))
    print(f"root CA created in {paths.directory} (key encrypted, 0600); keep this folder offline")
    print(f"root fingerprint sha256 {fingerprint(load_cert(paths.cert))}")
    return EXIT_OK


def cmd_issue_signer(args: argparse.Namespace) -> int:
    from lumen_assets.attest.keys import TrustError, init_log_key, issue_signer

    config = _config(args.workspace, args.config)
    settings = config.attest
    keystore = _keystore(args.workspace, settings.keystore_dir)
    try:
        cert = issue_signer(Path(args.root), _secret(settings.root_passphrase_env), keystore,
                            _secret(settings.passphrase_env), args.workspace / settings.trust_dir,
                            days=args.days or settings.signer_days, overlap_days=settings.overlap_days
                            if args.overlap_days is None else args.overlap_days,
                            identity=settings.sigstore.identity, oidc_issuer=settings.sigstore.issuer,
                            rotate_root=args.rotate_root)
        if not (keystore / "log" / "key.pem").exists():
            init_log_key(keystore, _secret(settings.passphrase_env), args.workspace / settings.trust_dir,
                         config.tlog.origin)
    except TrustError as exc:
        return _err(str(exc))
    print(f"signer {cert.serial_number:x} issued, valid until {cert.not_valid_after_utc.isoformat()}; "
          f"public certificate in {settings.trust_dir}/signers/")
    _publish_sigstore(args.workspace, settings)
    from lumen_assets.attest.intoto import InTotoError, layout_for_workspace
    from lumen_assets.attest.keys import ROOT_KEY, load_private_key

    try:  # the new signer must be a functionary of the layout: re-sign it while the root is at hand
        layout = layout_for_workspace(config, args.workspace, load_private_key(
            Path(args.root) / ROOT_KEY, _secret(settings.root_passphrase_env)), settings.signer_days)
    except (TrustError, InTotoError) as exc:
        return _err(f"signer issued, but the in-toto layout was not re-signed: {exc}")
    print(f"in-toto layout re-signed with the new signer as functionary: {layout}")
    return EXIT_OK


def cmd_sign_layout(args: argparse.Namespace) -> int:
    from lumen_assets.attest.intoto import InTotoError, layout_for_workspace
    from lumen_assets.attest.keys import ROOT_KEY, TrustError, load_private_key

    config = _config(args.workspace, args.config)
    try:
        root_key = load_private_key(Path(args.root) / ROOT_KEY, _secret(config.attest.root_passphrase_env))
        path = layout_for_workspace(config, args.workspace, root_key, args.days)
    except (TrustError, InTotoError) as exc:
        return _err(str(exc))
    print(f"in-toto layout signed by the root, valid {args.days} days: {path}; verification key "
          f"{config.attest.trust_dir}/layout.pub.pem")
    return EXIT_OK


def _publish_sigstore(workspace: Path, settings) -> None:  # noqa: ANN001 - AttestSettings
    """Refresh attest/trust/trust_config.json + sigstore.json; say why not when the trust is not ready."""
    from lumen_assets.attest.keys import TrustError
    from lumen_assets.attest.sigstore_bundle import publish_sigstore_trust

    try:
        path = publish_sigstore_trust(workspace / settings.trust_dir, settings.sigstore.identity,
                                      settings.sigstore.issuer, trust_rel=settings.trust_dir)
    except TrustError as exc:
        print(f"no Sigstore trust root yet: {exc}")
        return
    print(f"Sigstore trust root: {path}")


def cmd_revoke(args: argparse.Namespace) -> int:
    from lumen_assets.attest.keys import TrustError, revoke

    settings = _config(args.workspace, args.config).attest
    try:
        revoke(Path(args.root), _secret(settings.root_passphrase_env), args.serial, reason=args.reason,
               trust_dir=args.workspace / settings.trust_dir if args.workspace else None)
    except (TrustError, ValueError) as exc:
        return _err(str(exc))
    print(f"serial {args.serial} revoked; CRL re-signed" + (" and published to the workspace" if args.workspace else ""))
    return EXIT_OK


def cmd_init_log(args: argparse.Namespace) -> int:
    from lumen_assets.attest.keys import TrustError, init_log_key

    config = _config(args.workspace, args.config)
    try:
        vkey = init_log_key(_keystore(args.workspace, config.attest.keystore_dir),
                            _secret(config.attest.passphrase_env), args.workspace / config.attest.trust_dir,
                            args.name or config.tlog.origin)
    except TrustError as exc:
        return _err(str(exc))
    print(f"log verifier key: {vkey}")
    _publish_sigstore(args.workspace, config.attest)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from lumen_assets.attest.keys import read_keystore

    settings = _config(args.workspace, args.config).attest
    meta = read_keystore(_keystore(args.workspace, settings.keystore_dir))
    print(json.dumps(meta, indent=2, sort_keys=True))
    return EXIT_OK


def cmd_retire(args: argparse.Namespace) -> int:
    from lumen_assets.attest.keys import retire_signers

    settings = _config(args.workspace, args.config).attest
    retired = retire_signers(_keystore(args.workspace, settings.keystore_dir))
    print(f"retired {len(retired)} signer key(s): {', '.join(retired) or '-'}")
    return EXIT_OK


def _keystore(workspace: Path, rel: str) -> Path:
    path = Path(rel).expanduser()
    return path if path.is_absolute() else workspace / path


# -- verify -----------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from lumen_assets.attest.verifier import TrustLayout, verify_artifact

    workspace = (args.workspace or _guess_workspace(Path(args.path))).resolve()
    config = _config(workspace, args.config)
    layout = TrustLayout(config.attest.attest_dir, config.attest.trust_dir, config.tlog.dir, config.tlog.origin)
    if args.sigstore_bundle:
        code = _verify_sigstore(Path(args.path), Path(args.sigstore_bundle), args,
                                workspace / config.attest.trust_dir, config.attest.sigstore)
        if code != EXIT_OK:
            return code
        code = _check_bundle_strictly(Path(args.path), Path(args.sigstore_bundle), workspace, layout)
        if code != EXIT_OK:
            return code
        print("and what sigstore leaves to Lumen (CRL, checkpoint origin and size, the log audit):")
    try:
        pins = _pins(args, workspace, layout)
    except (OSError, ValueError) as exc:
        return _err(f"cannot read a pinned anchor: {exc}")
    report = verify_artifact(Path(args.path), workspace, layout, root_cert=Path(args.root) if args.root else None,
                             audit_log=not args.no_log_audit, pins=pins)
    if not args.json:
        print(f"anchors: root {'--root ' + args.root if args.root else 'from the workspace ' + layout.trust_dir + '/root.pem'}"
              f", log key {'--log-key' if args.log_key else 'from the workspace ' + layout.trust_dir + '/log.vkey'}"
              f"{'' if args.root and args.log_key else ' (pin them with --root/--log-key)'}")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for step in report.steps:
            print(f"{'ok  ' if step['ok'] else 'FAIL'} {step['step']:<12} {step['detail']}")
        print(f"{report.artifact}: {'VERIFIED' if report.ok else 'NOT VERIFIED: ' + str(report.failure)}")
    return EXIT_OK if report.ok else EXIT_FAIL


def _pins(args: argparse.Namespace, workspace: Path, layout):
    """Anchors from outside the workspace: --log-key, --checkpoint FILE/URL, --witness VKEY (issue 13 §2-§3)."""
    from lumen_assets.attest.verifier import Pins
    from lumen_assets.tlog.cli import read_outside_checkpoints
    from lumen_assets.tlog.witness import parse_witness_vkey

    def text_or_file(value: str) -> str:
        return Path(value).read_text().strip() if Path(value).is_file() else value.strip()

    witnesses = tuple(text_or_file(w) for w in args.witness or [])
    for vkey in witnesses:
        parse_witness_vkey(vkey)
    if args.witness_threshold is not None and not 1 <= args.witness_threshold <= len(witnesses):
        raise ValueError(f"--witness-threshold {args.witness_threshold} needs 1..{len(witnesses)} --witness keys")
    return Pins(log_key=text_or_file(args.log_key) if args.log_key else None,
                checkpoints=tuple(read_outside_checkpoints(args.checkpoint)), witnesses=witnesses,
                witness_threshold=args.witness_threshold)


def _guess_workspace(path: Path) -> Path:
    """The nearest parent holding attest/trust (so `lumen verify FILE` works from anywhere)."""
    for parent in path.resolve().parents:
        if (parent / "attest" / "trust").is_dir():
            return parent
    return Path.cwd()


def _verify_sigstore(path: Path, bundle: Path, args: argparse.Namespace, trust_dir: Path, sigstore) -> int:  # noqa: ANN001
    """The bundle through sigstore-python's own verifier, with the workspace's trust root (as the stock CLI)."""
    try:
        from sigstore.dsse import Statement
        from sigstore.hashes import Hashed
        from sigstore.models import Bundle, ClientTrustConfig
        from sigstore.verify import Verifier, policy
        from sigstore_models.common.v1 import HashAlgorithm
    except ImportError:
        return _err("--sigstore-bundle needs the `sigstore` package (pip install sigstore)")
    import hashlib

    from lumen_assets.attest.sigstore_bundle import TRUST_CONFIG

    try:
        config = ClientTrustConfig.from_json((trust_dir / TRUST_CONFIG).read_text())
        verifier = Verifier(trusted_root=config.trusted_root)
        parsed = Bundle.from_json(bundle.read_bytes())
        kind, payload = verifier.verify_dsse(parsed, policy.Identity(identity=args.identity or sigstore.identity,
                                                                     issuer=args.issuer or sigstore.issuer))
        digest = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=hashlib.sha256(path.read_bytes()).digest())
        if kind != "application/vnd.in-toto+json" or not Statement(payload)._matches_digest(digest):
            raise ValueError("the bundle's in-toto statement has no subject with this file's sha256")
    except Exception as exc:  # noqa: BLE001 - sigstore raises several types; the message is what matters
        return _err(f"sigstore bundle does not verify: {exc}")
    print(f"{path}: sigstore bundle VERIFIED (offline, the workspace's trust root {trust_dir / TRUST_CONFIG})")
    return EXIT_OK


def _check_bundle_strictly(path: Path, bundle: Path, workspace: Path, layout) -> int:  # noqa: ANN001
    """The bundle's bytes, envelope, body and checkpoint against the workspace's envelope and pinned log key."""
    from lumen_assets.attest.keys import TRUST_LOG_VKEY, TrustError
    from lumen_assets.attest.sigstore_bundle import check_bundle
    from lumen_assets.attest.verifier import envelope_path

    try:
        rel = path.resolve().relative_to(workspace).as_posix()
        index = check_bundle(bundle.read_bytes(), envelope_path(workspace, rel, layout).read_bytes(),
                             (workspace / layout.trust_dir / TRUST_LOG_VKEY).read_text().strip(), layout.log_origin)
    except (TrustError, OSError, ValueError) as exc:
        return _err(f"sigstore bundle rejected by Lumen's checks: {exc}")
    print(f"{path}: bundle bytes, envelope, dsse entry and checkpoint (origin, size, log key) match; leaf {index}")
    return EXIT_OK


# -- custody ----------------------------------------------------------------------------------------


def cmd_custody_record(args: argparse.Namespace) -> int:
    from lumen_assets.attest.custody import CustodyError, write_record
    from lumen_assets.attest.keys import TRUST_ROOT, fingerprint, load_cert

    settings = _config(args.workspace, args.config).attest
    root_pem = args.workspace / settings.trust_dir / TRUST_ROOT
    try:
        path, digest = write_record(
            args.workspace / settings.custody.records_dir, args.event,
            [w.strip() for w in args.witnesses.split(",") if w.strip()], notes=args.notes,
            root_fingerprint=fingerprint(load_cert(root_pem)) if root_pem.exists() else None,
            auditors=[a.strip() for a in (args.auditors or "").split(",") if a.strip()],
            seal_ok=args.seal_ok, photos=[Path(p) for p in args.photo or []],
        )
    except (CustodyError, OSError) as exc:
        return _err(str(exc))
    print(json.dumps({"path": str(path), "sha256": digest}))
    return EXIT_OK


def cmd_custody_packet(args: argparse.Namespace) -> int:
    from lumen_assets.attest.custody import render_packet
    from lumen_assets.attest.keys import TRUST_ROOT, TrustError, fingerprint, load_cert

    settings = _config(args.workspace, args.config).attest
    try:
        root = load_cert(Path(args.root_cert) if args.root_cert else args.workspace / settings.trust_dir / TRUST_ROOT)
    except TrustError as exc:
        return _err(str(exc))
    out = Path(args.out) if args.out else args.workspace / settings.custody.prints_dir / "ceremony_packet.pdf"
    render_packet(out, fingerprint(root), root.subject.rfc4514_string())
    print(f"ceremony packet: {out}")
    return EXIT_OK


# -- registration ---------------------------------------------------------------------------------


def _workspace_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--workspace", type=lambda s: Path(s).expanduser().resolve(), required=required,
                        help="the workspace folder")
    parser.add_argument("--config", help="config file (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")


def register(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="root CA, signer certificates, CRL, log key")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    p = sub.add_parser("init-root", help="create the offline root CA (passphrase: $LUMEN_ROOT_PASS)")
    p.add_argument("--out", required=True, help="an offline folder OUTSIDE the workspace")
    p.add_argument("--name", default="Lumen Root CA")
    p.add_argument("--years", type=int)
    p.add_argument("--algorithm", choices=("ecdsa-p256", "ed25519"), default="ecdsa-p256",
                   help="root key type; ecdsa-p256 (default) also makes the CT key Sigstore clients need")
    _workspace_arg(p, required=False)
    p.set_defaults(func=cmd_init_root)

    p = sub.add_parser("issue-signer", help="issue (or rotate to) a new signer certificate from the root")
    p.add_argument("--root", required=True, help="the root folder made by init-root")
    p.add_argument("--days", type=int)
    p.add_argument("--overlap-days", type=int, help="how long the previous signer stays usable")
    p.add_argument("--rotate-root", action="store_true",
                   help="--root is a NEW root (e.g. P-256 replacing Ed25519): pin it, keep the old root trusted")
    _workspace_arg(p)
    p.set_defaults(func=cmd_issue_signer)

    p = sub.add_parser("sign-layout", help="sign the in-toto layout (attest/in-toto/root.layout) with the root key")
    p.add_argument("--root", required=True, help="the root folder made by init-root")
    p.add_argument("--days", type=int, default=180, help="how long the layout stays valid (default 180)")
    _workspace_arg(p)
    p.set_defaults(func=cmd_sign_layout)

    p = sub.add_parser("revoke", help="revoke a certificate serial (hex) in the root-signed CRL")
    p.add_argument("serial")
    p.add_argument("--root", required=True)
    p.add_argument("--reason", default="unspecified")
    _workspace_arg(p, required=False)
    p.set_defaults(func=cmd_revoke)

    p = sub.add_parser("init-log", help="create the transparency log's checkpoint key")
    p.add_argument("--name", help="key name (default: tlog.origin)")
    _workspace_arg(p)
    p.set_defaults(func=cmd_init_log)

    p = sub.add_parser("list", help="show the keystore: current signer, rotations, log key")
    _workspace_arg(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("retire", help="delete private keys of rotated-out signers whose overlap ended")
    _workspace_arg(p)
    p.set_defaults(func=cmd_retire)

    v = subparsers.add_parser("verify", help="verify an artefact: digest, DSSE, chain, CRL, inclusion, log")
    v.add_argument("path")
    _workspace_arg(v, required=False)
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--root", help="pin this root certificate instead of WORKSPACE/attest/trust/root.pem")
    v.add_argument("--log-key", help="pin the log's C2SP verifier key (string or file) instead of the workspace's")
    v.add_argument("--checkpoint", action="append", help="a signed checkpoint seen elsewhere (FILE or URL, "
                   "repeatable): the log must be consistent with it and not older")
    v.add_argument("--witness", action="append", help="a witness's cosignature/v1 vkey (string or file, repeatable)")
    v.add_argument("--witness-threshold", type=int, help="how many --witness cosignatures are required (default: all)")
    v.add_argument("--no-log-audit", action="store_true", help="skip the full audit of the workspace log")
    v.add_argument("--sigstore-bundle", help="verify a Sigstore bundle offline with sigstore-python and the "
                   "workspace's trust root (attest/trust/trust_config.json) instead")
    v.add_argument("--identity", help="with --sigstore-bundle: expected signer identity (default: config)")
    v.add_argument("--issuer", help="with --sigstore-bundle: expected OIDC issuer (default: config)")
    v.set_defaults(func=cmd_verify)

    custody = subparsers.add_parser("custody", help="root custody: ceremony records and the printable packet")
    csub = custody.add_subparsers(dest="custody_command", required=True, metavar="ACTION")
    p = csub.add_parser("record", help="write a ceremony record (its sha256 goes into records.jsonl)")
    p.add_argument("--event", required=True, help="initial, quarterly_audit, offline_signing, incident, restore_drill")
    p.add_argument("--witnesses", default="", help="comma-separated names")
    p.add_argument("--auditors", default="")
    p.add_argument("--seal-ok", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--photo", action="append", help="a photo file to hash into the record (repeatable)")
    p.add_argument("--notes", default="")
    _workspace_arg(p)
    p.set_defaults(func=cmd_custody_record)
    p = csub.add_parser("packet", help="render the ceremony checklist PDF with the root fingerprint QR")
    p.add_argument("--out", help="PDF path (default: custody.prints_dir/ceremony_packet.pdf)")
    p.add_argument("--root-cert", help="root certificate (default: the workspace trust folder's)")
    _workspace_arg(p)
    p.set_defaults(func=cmd_custody_packet)
