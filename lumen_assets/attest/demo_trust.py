"""Throwaway trust for `lumen demo`: a demo root outside the workspace, a signer and a log key inside.

The pipeline never creates a root (seed segD §3.7: the seed's CI regenerated it on every run). Only the
demo does, outside the workspace, and says so.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from lumen_assets.attest.intoto import layout_for_workspace
from lumen_assets.attest.keys import DEMO_PASSPHRASE, ROOT_KEY, load_private_key
from lumen_assets.attest.keys import bootstrap_demo_trust as _bootstrap
from lumen_assets.attest.sigstore_bundle import publish_sigstore_trust


def demo_root_dir(workspace: Path) -> Path:
    """A per-workspace folder under the system temp dir: outside the workspace, and obviously disposable."""
    tag = hashlib.sha256(str(Path(workspace).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"lumen-demo-root-{tag}"


def bootstrap_demo_trust(workspace: Path, outside_dir: Path | None = None) -> str:
    """Create (or reuse) the demo trust and export the passphrases for this process; returns a message."""
    from lumen_assets.config import load_config, resolve_config_path

    config = load_config(resolve_config_path(Path(workspace), Path(os.environ["LUMEN_CONFIG"]) if os.environ.get("LUMEN_CONFIG") else None))
    settings = config.attest
    passphrase = os.environ.get(settings.passphrase_env) or DEMO_PASSPHRASE
    os.environ[settings.passphrase_env] = passphrase
    os.environ.setdefault(settings.root_passphrase_env, passphrase)
    outside = Path(outside_dir) if outside_dir else demo_root_dir(workspace)
    trust = _bootstrap(Path(workspace), outside, passphrase=passphrase, keystore_rel=settings.keystore_dir,
                       trust_rel=settings.trust_dir, log_name=config.tlog.origin,
                       identity=settings.sigstore.identity, oidc_issuer=settings.sigstore.issuer)
    publish_sigstore_trust(trust.trust_dir, settings.sigstore.identity, settings.sigstore.issuer,
                           trust_rel=settings.trust_dir)
    layout_for_workspace(config, Path(workspace), load_private_key(trust.root_dir / ROOT_KEY, passphrase),
                         settings.signer_days)
    return (f"demo trust: THROWAWAY root CA at {trust.root_dir} (outside the workspace, sha256 "
            f"{trust.root_fingerprint[:16]}…), signer {trust.signer_serial[:12]}… and log key in "
            f"{trust.keystore}, public trust material in {trust.trust_dir}. Never use the demo root in production.")
