"""`lumen tlog audit|serve` and `lumen witness init|cosign` (issue 13)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAIL = 0, 1
WITNESS_KEY = "witness_key.pem"
WITNESS_VKEY = "witness.vkey"
WITNESS_PASS_ENV = "LUMEN_WITNESS_PASS"


def _config(workspace: Path, config: str | None):
    from lumen_assets.config import load_config, resolve_config_path

    return load_config(resolve_config_path(workspace, config))


def _err(message: str) -> int:
    print(f"lumen: {message}", file=sys.stderr)
    return EXIT_FAIL


def read_outside_checkpoints(files: list[str] | None) -> list[tuple[str, str]]:
    """(source, note) of each --checkpoint FILE (a URL is fetched)."""
    notes = []
    for item in files or []:
        if item.startswith(("http://", "https://")):
            import urllib.request

            with urllib.request.urlopen(item, timeout=30) as response:  # noqa: S310
                notes.append((item, response.read().decode()))
        else:
            notes.append((item, Path(item).read_text()))
    return notes


def pinned_log_key(args: argparse.Namespace, workspace: Path, trust_dir: str) -> tuple[str, str]:
    """(vkey, where it came from): --log-key wins; else the workspace's own (which the output says)."""
    if args.log_key:
        value = args.log_key
        if Path(value).is_file():
            return Path(value).read_text().strip(), f"--log-key {value}"
        return value.strip(), "--log-key"
    path = workspace / trust_dir / "log.vkey"
    return path.read_text().strip(), f"the workspace's {trust_dir}/log.vkey (not pinned: pass --log-key)"


def cmd_audit(args: argparse.Namespace) -> int:
    from lumen_assets.tlog.audit import AuditError, audit_log
    from lumen_assets.tlog.checkpoint import CheckpointError, parse_verifier_key

    config = _config(args.workspace, args.config)
    try:
        vkey, source = pinned_log_key(args, args.workspace, config.attest.trust_dir)
        outside = read_outside_checkpoints(args.checkpoint)
    except OSError as exc:
        return _err(f"cannot read an anchor: {exc}")
    try:
        parse_verifier_key(vkey)
    except CheckpointError as exc:
        return _err(f"log key from {source}: {exc}")
    print(f"log key: {source}")
    try:
        report = audit_log(args.workspace / config.tlog.dir, vkey, config.tlog.origin, outside, label=config.tlog.dir)
    except AuditError as exc:
        print(f"FAIL {exc}")
        return EXIT_FAIL
    print(f"ok   {report.summary()}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from lumen_assets.tlog.serve import serve

    config = _config(args.workspace, args.config)
    serve(args.workspace, config, host=args.host, port=args.port)
    return EXIT_OK


def _witness_passphrase() -> str:
    """The witness key's passphrase through lumen.resources.secrets; missing, the command stops naming it."""
    from lumen.resources.secrets import MissingSecret, require_secret

    try:
        return require_secret(WITNESS_PASS_ENV, "the witness key passphrase")
    except MissingSecret as exc:
        raise SystemExit(f"lumen: {exc}") from None


def _witness_key(state: Path):
    from lumen_assets.attest.keys import load_private_key

    return load_private_key(state / WITNESS_KEY, _witness_passphrase())


def cmd_witness_init(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumen_assets.atomic import atomic_write_text
    from lumen_assets.attest.keys import _write_private
    from lumen_assets.tlog.witness import witness_vkey

    state = Path(args.state)
    if (state / WITNESS_KEY).exists():
        return _err(f"{state / WITNESS_KEY} exists; a witness keeps its key")
    passphrase = _witness_passphrase()
    key = Ed25519PrivateKey.generate()
    _write_private(state / WITNESS_KEY, key, passphrase)
    vkey = witness_vkey(args.name, key.public_key())
    atomic_write_text(state / WITNESS_VKEY, vkey + "\n")
    print(f"witness verifier key: {vkey}")
    return EXIT_OK


def cmd_witness_cosign(args: argparse.Namespace) -> int:
    from lumen_assets.tlog.checkpoint import CheckpointError
    from lumen_assets.tlog.witness import WitnessError, cosign, fetcher, parse_witness_vkey

    state = Path(args.state)
    if not (state / WITNESS_VKEY).exists():
        return _err(f"{state} holds no witness key: run `lumen witness init --state {state} --name NAME` first")
    source = args.checkpoint
    try:
        (_, note), = read_outside_checkpoints([source])
    except OSError as exc:
        return _err(f"cannot read the checkpoint {source}: {exc}")
    tiles = args.tiles or (source.rsplit("/", 1)[0] if source.startswith(("http://", "https://"))
                           else str(Path(source).resolve().parent))
    log_key = Path(args.log_key).read_text().strip() if Path(args.log_key).is_file() else args.log_key
    name, _ = parse_witness_vkey((state / WITNESS_VKEY).read_text())
    try:
        result = cosign(note, log_key, state, name, _witness_key(state), fetcher(tiles), int(time.time()))
    except (WitnessError, CheckpointError) as exc:
        return _err(f"witness {name}: {exc}")
    if args.out:
        from lumen_assets.atomic import atomic_write_text

        atomic_write_text(Path(args.out), result.note)
    else:
        sys.stdout.write(result.note)
    seen = "first sight" if result.previous_size is None else f"consistent with size {result.previous_size}"
    print(f"witness {name}: cosigned {result.checkpoint.origin} size {result.checkpoint.tree_size} ({seen})",
          file=sys.stderr)
    return EXIT_OK


def _workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", type=lambda s: Path(s).expanduser().resolve(), required=True)
    parser.add_argument("--config", help="config file (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")


def register(subparsers: argparse._SubParsersAction) -> None:
    tlog = subparsers.add_parser("tlog", help="the transparency log: full audit, read-only tile server")
    sub = tlog.add_subparsers(dest="tlog_command", required=True, metavar="ACTION")
    p = sub.add_parser("audit", help="recompute the whole log from its leaf data; exit 1 at the first inconsistency")
    _workspace_arg(p)
    p.add_argument("--log-key", help="pinned C2SP verifier key (string or file) instead of the workspace's")
    p.add_argument("--checkpoint", action="append", help="a signed checkpoint seen elsewhere (FILE or URL; repeatable)")
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("serve", help="serve the log read-only: C2SP tlog-tiles plus JSON proof look-ups")
    _workspace_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.set_defaults(func=cmd_serve)

    witness = subparsers.add_parser("witness", help="a witness: cosign checkpoints consistent with what it saw")
    wsub = witness.add_subparsers(dest="witness_command", required=True, metavar="ACTION")
    p = wsub.add_parser("init", help=f"create the witness key in --state (passphrase: ${WITNESS_PASS_ENV})")
    p.add_argument("--state", required=True)
    p.add_argument("--name", required=True, help="the witness name, e.g. witness.example.com/w1")
    p.set_defaults(func=cmd_witness_init)
    p = wsub.add_parser("cosign", help="check a checkpoint's consistency with what this witness saw; cosign it")
    p.add_argument("--checkpoint", required=True, help="URL or FILE of the log's checkpoint")
    p.add_argument("--state", required=True, help="the witness folder (key, newest checkpoint per log)")
    p.add_argument("--log-key", required=True, help="the log's C2SP verifier key (string or file)")
    p.add_argument("--tiles", help="tlog-tiles prefix (URL or folder; default: beside the checkpoint)")
    p.add_argument("--out", help="write the cosigned checkpoint here (default: stdout)")
    p.set_defaults(func=cmd_witness_cosign)
