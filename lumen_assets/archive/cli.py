"""`lumen archive verify|restore|prune|decrypt`: the seed's snapshot_verify / snapshot_restore / retention_policy, fixed.

Exit codes: 0 intact / done, 1 a check failed or the restore was refused (the failing file is named),
2 a usage or config error. Secrets (archive key, S3 credentials) come only from the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def _context(args: argparse.Namespace) -> tuple[Path, Any]:
    from lumen_assets.config import ConfigError, load_config, resolve_config_path

    root = Path(args.workspace).expanduser().resolve()
    if not root.is_dir():
        raise SystemExit(_usage(f"workspace {root} is not a folder"))
    try:
        return root, load_config(resolve_config_path(root, args.config))
    except ConfigError as exc:
        raise SystemExit(_usage(str(exc))) from None


def _usage(message: str) -> int:
    print(f"lumen archive: {message}", file=sys.stderr)
    return 2


@contextmanager
def _archive_store(args: argparse.Namespace, root: Path, config: Any) -> Iterator[Any]:
    """The `archive_store` resource the assets use, initialised as Dagster does (secrets as `dg.EnvVar`s)."""
    from lumen.resources.archive_store import archive_store_resource
    from lumen.resources.workspace import LumenWorkspace

    workspace = LumenWorkspace(root=str(root), config_path=str(args.config) if args.config else None)
    with archive_store_resource(workspace, config.archive.encryption.env_key, config.archive.store).process_config_and_initialize_cm() as store:
        yield store


def _verify(root: Path, config: Any, day: str, remote: bool, archive: Any) -> tuple[bool, list[str], Any]:
    from lumen_assets.archive.index import read_index
    from lumen_assets.archive.verify import verify_day

    archive_root = root / config.archive.archive_dir
    day_dir = archive_root / day
    if not day_dir.is_dir():
        return False, [f"{config.archive.archive_dir}/{day}: no bundle for this day"], None
    secret = archive.encryption_key
    report = verify_day(day_dir, read_index(archive_root / "index.jsonl").get(day), secret)
    lines = [f"{p.name}: {p.reason}" for p in report.problems]
    notes = list(report.notes)
    if remote and report.manifest is not None:
        from lumen_assets.archive.remote import object_key, stored_file, verify_remote

        store = archive.store()
        if store is None:
            lines.append("remote: no store configured (archive.store.kind: none)")
        else:
            key = object_key(config.archive.store.prefix, day, stored_file(report.manifest)[0])
            problems, remote_notes = verify_remote(store, key, report.manifest, secret)
            lines += [f"{store.description}/{p.name}: {p.reason}" for p in problems]
            notes += remote_notes
    for note in notes:
        print(f"[verify] note: {note}")
    return not lines, lines, report


def cmd_verify(args: argparse.Namespace) -> int:
    root, config = _context(args)
    with _archive_store(args, root, config) as archive:
        ok, failures, report = _verify(root, config, args.date, args.remote, archive)
    if not ok:
        print(f"[verify] FAIL {config.archive.archive_dir}/{args.date}:")
        for line in failures:
            print(f" - {line}")
        return 1
    where = " and remote copy" if args.remote else ""
    print(f"[verify] OK {config.archive.archive_dir}/{args.date}{where}: {report.files} files, "
          f"merkle root {report.manifest['merkle']['root']}")  # fmt: skip
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a day into --to. From the local day folder when it is there (verified first; a sealed-only
    bundle is decrypted into a private temp folder), else (or with --remote) from the remote store: the
    object is downloaded, checked against archive/index.jsonl (or its own metadata), decrypted and its
    members checked, all in a private temp folder, before anything is written into --to."""
    import shutil
    import stat
    import tempfile

    from lumen_assets.archive.restore import RestoreError, restore_bundle

    root, config = _context(args)
    archive_root = root / config.archive.archive_dir
    day_dir = archive_root / args.date
    dest = Path(args.to).expanduser()
    archive_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".restore-", dir=archive_root))  # 0700, same disk as the archive
    try:
        with _archive_store(args, root, config) as archive:
            if args.remote or not day_dir.is_dir():
                bundle, mode, origin = _fetch_remote(root, config, args.date, archive, workdir)
            else:
                bundle, mode, origin = _local_bundle(root, config, args.date, archive, workdir)
        if bundle is None:
            return 1
        restored = restore_bundle(bundle, dest, force=args.force, mode=stat.S_IMODE(mode) & 0o666)
    except RestoreError as exc:
        print(f"[restore] {exc}")
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the decrypted plaintext never stays behind
    for name in restored:
        print(f"[restore] {dest / name}")
    print(f"[restore] restored {len(restored)} files from {origin} into {dest}")
    return 0


def _local_bundle(root: Path, config: Any, day: str, archive: Any, workdir: Path) -> tuple[Path | None, int, str]:
    from lumen_assets.archive.encryption import EncryptionError, iter_decrypt

    ok, failures, report = _verify(root, config, day, False, archive)
    if not ok:
        print(f"[restore] refused: {config.archive.archive_dir}/{day} does not verify:")
        for line in failures:
            print(f" - {line}")
        return None, 0, ""
    day_dir = root / config.archive.archive_dir / day
    bundle = day_dir / report.manifest["bundle"]["name"]
    encrypted = report.manifest.get("encrypted")
    if bundle.exists() or not encrypted:
        return bundle, bundle.stat().st_mode, str(bundle)
    sealed = day_dir / encrypted["name"]
    secret = archive.encryption_key
    if not secret:
        print(f"[restore] refused: {sealed} is encrypted and {config.archive.encryption.env_key} is not set")
        return None, 0, ""
    plain = workdir / report.manifest["bundle"]["name"]
    try:
        with open(sealed, "rb") as source, open(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            for segment in iter_decrypt(source, secret):
                out.write(segment)
    except EncryptionError as exc:
        print(f"[restore] refused: {sealed}: {exc}")
        return None, 0, ""
    return plain, sealed.stat().st_mode, str(sealed)


def _fetch_remote(root: Path, config: Any, day: str, archive: Any, workdir: Path) -> tuple[Path | None, int, str]:
    from lumen_assets.archive.freeze import ENCRYPTED_SUFFIX
    from lumen_assets.archive.index import read_index
    from lumen_assets.archive.remote import object_key
    from lumen_assets.archive.restore import fetch_verified_bundle, remote_anchor
    from lumen_assets.archive.tarball import BUNDLE_NAMES

    store = archive.store()
    if store is None:
        print(f"[restore] refused: {config.archive.archive_dir}/{day} is not here and no remote store is configured "
              "(archive.store.kind: none)")
        return None, 0, ""
    record = read_index(root / config.archive.archive_dir / "index.jsonl").get(day)
    if record and (record.get("remote") or {}).get("key"):
        keys = [record["remote"]["key"]]
    else:
        name = record.get("stored") if record else None
        plain_name = BUNDLE_NAMES[config.archive.compression]
        names = [name] if name else [plain_name + ENCRYPTED_SUFFIX, plain_name]
        keys = [object_key(config.archive.store.prefix, day, n) for n in names]
    for key in keys:
        metadata = store.head(key)
        if metadata is not None:
            break
    else:
        print(f"[restore] refused: {day} is neither in {config.archive.archive_dir}/ nor in {store.description} "
              f"(looked for {', '.join(keys)})")
        return None, 0, ""
    anchor = remote_anchor(record, metadata, key)
    print(f"[restore] {config.archive.archive_dir}/{day} is not used: fetching {store.description}/{key} "
          f"(checked against {anchor.source})")
    bundle = fetch_verified_bundle(store, anchor, archive.encryption_key, workdir)
    return bundle, 0o600, f"{store.description}/{key}"  # the remote copy carries no mode: the strictest


def cmd_prune(args: argparse.Namespace) -> int:
    from lumen_assets.archive.prune import prune

    root, config = _context(args)
    today = date.fromisoformat(args.today) if args.today else datetime.now(config.tz).date()
    with _archive_store(args, root, config) as archive:
        store = archive.store()
    outcome = prune(root, config, store, today=today, apply=args.apply)
    r = config.archive.retention
    print(f"[retention] policy {r.keep_days} daily / {r.keep_weekly} weekly / {r.keep_monthly} monthly, today {today}")
    for day, reasons in sorted(outcome.plan.keep.items()):
        print(f"[retention] keep   {day} ({', '.join(reasons)})")
    verb = "removed" if outcome.applied else "would remove"
    for day in outcome.all_remove:
        where = [w for w, hit in (("local", day in outcome.local_remove), ("remote", day in outcome.remote_remove)) if hit]
        print(f"[retention] {verb} {day} ({' + '.join(where)})")
    if not outcome.applied and outcome.all_remove:
        print("[retention] dry run: nothing deleted; add --apply to delete")
    return 0


def cmd_decrypt(args: argparse.Namespace) -> int:
    """Open a LUMENENC v1 (seed) or v2 file; the plaintext appears only once it has fully authenticated."""
    from lumen.resources.secrets import MissingSecret, require_secret
    from lumen_assets.archive.encryption import EncryptionError, iter_decrypt
    from lumen_assets.atomic import atomic_open

    try:
        secret = require_secret(args.key_env, "the archive encryption key")
    except MissingSecret as exc:
        return _usage(str(exc))
    source, target = Path(args.file), Path(args.out)
    if target.exists() and not args.force:
        print(f"[decrypt] refused: {target} exists; use --force")
        return 1
    try:
        with open(source, "rb") as handle, atomic_open(target, "wb") as out:
            for chunk in iter_decrypt(handle, secret):
                out.write(chunk)
    except (OSError, EncryptionError) as exc:
        print(f"[decrypt] FAIL {source}: {exc}")
        return 1
    print(f"[decrypt] {source} -> {target}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True, help="the workspace folder")
    parser.add_argument("--config", help="config file (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")


def register(subparsers: argparse._SubParsersAction) -> None:
    archive = subparsers.add_parser("archive", help="verify, restore and prune daily archive bundles")
    sub = archive.add_subparsers(dest="archive_command", required=True, metavar="ACTION")

    verify = sub.add_parser("verify", help="check a day's bundle against its manifest, SHA256SUMS and Merkle root")
    verify.add_argument("date", type=_day, help="the day, YYYY-MM-DD")
    _common(verify)
    verify.add_argument("--remote", action="store_true", help="also download and check the stored copy")
    verify.set_defaults(func=cmd_verify)

    restore = sub.add_parser("restore", help="verify, then safely extract a day's bundle (local, else remote) into a folder")
    restore.add_argument("date", type=_day, help="the day, YYYY-MM-DD")
    _common(restore)
    restore.add_argument("--to", required=True, help="destination folder")
    restore.add_argument("--force", action="store_true", help="overwrite files that already exist in DEST")
    restore.add_argument("--remote", action="store_true",
                         help="restore from the remote store even if the local day folder is there "
                              "(the default when it is gone)")
    restore.set_defaults(func=cmd_restore)

    prune_parser = sub.add_parser("prune", help="grandfather-father-son retention, local and remote (dry run by default)")
    _common(prune_parser)
    prune_parser.add_argument("--apply", action="store_true", help="really delete (default: only print the plan)")
    prune_parser.add_argument("--today", type=_day, help="plan as of this day (default: today in the reporting timezone)")
    prune_parser.set_defaults(func=cmd_prune)

    decrypt = sub.add_parser("decrypt", help="decrypt a .lumen.enc file (seed v1 or Lumen v2) with the key from the environment")
    decrypt.add_argument("file", help="the encrypted file")
    decrypt.add_argument("--out", required=True, help="where to write the plaintext")
    decrypt.add_argument("--key-env", default="LUMEN_ARCHIVE_KEY", help="env var holding the key (default LUMEN_ARCHIVE_KEY)")
    decrypt.add_argument("--force", action="store_true", help="overwrite OUT")
    decrypt.set_defaults(func=cmd_decrypt)
