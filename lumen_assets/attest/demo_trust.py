"""Throwaway trust for `lumen demo`: a demo root outside the workspace, a signer and a log key inside.

The pipeline never creates a root (seed segD §3.7: the seed's CI regenerated it on every run). Only the
demo does, outside the workspace, and says so. Everything demo-only about trust lives here, including the
demo's public passphrase (never a real secret); `lumen demo` (lumen_assets/runner.py) hands it to the run.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lumen_assets.attest.intoto import layout_for_workspace
from lumen_assets.attest.keys import (
    DEFAULT_IDENTITY,
    DEFAULT_ISSUER,
    ROOT_CERT,
    ROOT_CT_KEY,
    ROOT_KEY,
    TRUST_ROOT,
    fingerprint,
    init_log_key,
    init_root,
    issue_signer,
    load_cert,
    load_private_key,
    read_keystore,
)
from lumen_assets.attest.sigstore_bundle import publish_sigstore_trust
from lumen_assets.config import LumenConfig

DEMO_PASSPHRASE = "lumen-demo-only-not-secret"
"""The demo keystore's passphrase: public on purpose, used only when the variable is not set."""


@dataclass(frozen=True)
class DemoTrust:
    root_dir: Path
    keystore: Path
    trust_dir: Path
    signer_serial: str
    log_vkey: str
    passphrase: str
    root_fingerprint: str


def bootstrap_demo_trust(workspace_root: Path, outside_dir: Path, passphrase: str = DEMO_PASSPHRASE,
                         keystore_rel: str = ".lumen/keys", trust_rel: str = "attest/trust",
                         log_name: str = "lumen.local/tlog", identity: str = DEFAULT_IDENTITY,
                         oidc_issuer: str = DEFAULT_ISSUER, algorithm: str = "ecdsa-p256") -> DemoTrust:
    """Throwaway trust for `lumen demo`: a root OUTSIDE the workspace, a signer and a log key inside it.

    The demo passphrase is public; the caller should say so and export it as LUMEN_SIGNER_PASS (and
    LUMEN_ROOT_PASS) for the run. Re-running reuses an existing demo root and signer.
    """
    workspace_root, outside_dir = Path(workspace_root).resolve(), Path(outside_dir).resolve()
    keystore, trust_dir = workspace_root / keystore_rel, workspace_root / trust_rel
    root_dir = outside_dir
    if algorithm == "ecdsa-p256" and (outside_dir / ROOT_KEY).exists() and not (outside_dir / ROOT_CT_KEY).exists():
        # an Ed25519 demo root from an earlier Lumen: move to a P-256 root beside it (a root rotation)
        root_dir = outside_dir.parent / (outside_dir.name + "-p256")
    if not (root_dir / ROOT_KEY).exists():
        init_root(root_dir, passphrase, common_name="Lumen DEMO Root CA (throwaway)", workspace=workspace_root,
                  algorithm=algorithm)
    root = load_cert(root_dir / ROOT_CERT)
    meta = read_keystore(keystore)
    current = meta.get("current_signer")
    if not current or load_cert(keystore / "signers" / current / "cert.pem").issuer != root.subject \
            or (trust_dir / TRUST_ROOT).exists() and load_cert(trust_dir / TRUST_ROOT) != root:
        issue_signer(root_dir, passphrase, keystore, passphrase, trust_dir, identity=identity,
                     oidc_issuer=oidc_issuer, rotate_root=bool(current))
        meta = read_keystore(keystore)
    vkey = init_log_key(keystore, passphrase, trust_dir, log_name)
    return DemoTrust(root_dir, keystore, trust_dir, meta["current_signer"], vkey, passphrase,
                     fingerprint(root))


def demo_root_dir(workspace: Path) -> Path:
    """A per-workspace folder under the system temp dir: outside the workspace, and obviously disposable."""
    tag = hashlib.sha256(str(Path(workspace).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"lumen-demo-root-{tag}"


def set_up_demo_trust(workspace: Path, config: LumenConfig, passphrase: str = DEMO_PASSPHRASE,
                      outside_dir: Path | None = None) -> str:
    """Create (or reuse) the demo trust of `workspace` under `config`'s attest/tlog settings; returns a
    message for the user. The caller decides the passphrase (the demo's, unless the user set their own)."""
    settings = config.attest
    outside = Path(outside_dir) if outside_dir else demo_root_dir(workspace)
    trust = bootstrap_demo_trust(Path(workspace), outside, passphrase=passphrase, keystore_rel=settings.keystore_dir,
                                 trust_rel=settings.trust_dir, log_name=config.tlog.origin,
                                 identity=settings.sigstore.identity, oidc_issuer=settings.sigstore.issuer)
    publish_sigstore_trust(trust.trust_dir, settings.sigstore.identity, settings.sigstore.issuer,
                           trust_rel=settings.trust_dir)
    layout_for_workspace(config, Path(workspace), load_private_key(trust.root_dir / ROOT_KEY, passphrase),
                         settings.signer_days)
    return (f"demo trust: THROWAWAY root CA at {trust.root_dir} (outside the workspace, sha256 "
            f"{trust.root_fingerprint[:16]}…), signer {trust.signer_serial[:12]}… and log key in "
            f"{trust.keystore}, public trust material in {trust.trust_dir}. Never use the demo root in production.")
