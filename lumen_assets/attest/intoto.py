"""The pipeline as an in-toto supply chain: one signed link per step per reporting day, a root-signed layout.

Why (issue 14, design card "attestations"): the DSSE statements say *what* each artefact is; in-toto says
*how the day's evidence was made*, step by step, and stock `in-toto-verify` checks it offline:

    cd "$(mktemp -d)" && LUMEN_WORKSPACE=WS in-toto-verify --layout WS/attest/in-toto/root.layout \
      --verification-keys WS/attest/trust/layout.pub.pem --link-dir WS/attest/in-toto/<day>

The steps record their own links as they run (`step_records`: what each asset read and wrote, and how
partitions fold into one link per step per day); `sign_day_links` (the trust asset `in_toto_links`) signs the
day's records with the pipeline's signer into `attest/in-toto/<day>/<step>.<keyid>.link`, the classic link
format in a signed Metablock (ECDSA P-256 or Ed25519).

The layout (`lumen keys sign-layout`, root key, offline) lists the functionary keys (every signer that is
valid now: the current one and any still in its rotation overlap), each step's rules (ALLOW exactly its
files, MATCH each material WITH PRODUCTS FROM the step that made it, DISALLOW the rest) and one inspection,
`on-disk`: its command (standard-library Python 3, part of the signed layout) compares every day's
report/archive link products with the files of the workspace (`$LUMEN_WORKSPACE`, else the current folder)
and marks each difference as an empty file `attest/in-toto/changed/<path>` under the current folder (an
unreadable or unsafe link as `changed/unreadable/<day>/<link>`); the inspection's rule
`DISALLOW attest/in-toto/changed/*` then fails naming it. (In-toto's MATCH alone cannot fail on a changed
file: an unmatched file falls through to the next rule, and a day-agnostic layout must ALLOW the other days'
files.) A workspace without an attest/in-toto folder makes the command exit 1, so a verification run from the
wrong folder fails instead of passing with nothing compared. Stock in-toto-verify records the current
folder's files as the inspection's materials and products and writes `on-disk.link` there: run it from an
empty temporary folder with LUMEN_WORKSPACE set, and neither the workspace is hashed whole nor written to.

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lumen_assets.atomic import atomic_write_bytes
from lumen_assets.attest.step_records import (
    LINKS_DIR,
    STEPS,
    ChainPaths,
    chain_paths,
    link_fields,
    read_day_records,
)

if TYPE_CHECKING:  # in-toto is imported where it is used: loading it costs ~0.7 s at definitions import
    from in_toto.models.layout import Layout
    from in_toto.models.metadata import Metablock
    from securesystemslib.signer import CryptoSigner

__all__ = ["LINKS_DIR", "STEPS", "ChainPaths", "chain_paths"]

LINK_FILENAME = "{step_name}.{keyid:.8}.link"  # in_toto.models.link.FILENAME_FORMAT
LAYOUT_FILE = "root.layout"
TRUST_LAYOUT_KEY = "layout.pub.pem"
INSPECTION = "on-disk"

CHANGED_DIR = "changed"  # under the links folder of the current folder: the inspection's marks for its rule
# Compares every day's report/archive link products with the workspace's files (stdlib only, Python 3.8+)
# and marks each difference as an empty file <links>/changed/<path> under the current folder, which the
# inspection's DISALLOW rule then names. Fails closed: an unreadable link, or one naming a path outside the
# workspace, is marked too (as changed/unreadable/<day>/<link name>, no ".link" in it: in-toto excludes
# "*.link*" from what it records); no links folder at all exits 1.
ON_DISK_CHECK = (
    "import glob,hashlib,json,os,shutil,sys\n"
    "ws=os.environ.get('LUMEN_WORKSPACE') or '.'\n"
    "links=os.path.join(ws,{links!r})\n"
    "if not os.path.isdir(links):\n"
    "    sys.exit('on-disk: no '+links+' folder: run in-toto-verify in the workspace folder or set LUMEN_WORKSPACE')\n"
    "marks=os.path.join({links!r},{changed!r})\n"
    "shutil.rmtree(marks,ignore_errors=True)\n"
    "def mark(rel):\n"
    "    m=os.path.join(marks,rel)\n"
    "    os.makedirs(os.path.dirname(m),exist_ok=True)\n"
    "    open(m,'w').close()\n"
    "for link in sorted(glob.glob(os.path.join(links,'*','*.link'))):\n"
    "    name=os.path.basename(link)\n"
    "    if name.split('.')[0] not in ('report','archive'): continue\n"
    "    try:\n"
    "        with open(link) as f: products=json.load(f)['signed']['products']\n"
    "        items=[(os.path.normpath(p),d['sha256']) for p,d in products.items()]\n"
    "        if any(os.path.isabs(p) or p.split(os.sep)[0]=='..' for p,_ in items): raise ValueError(link)\n"
    "    except Exception:\n"
    "        mark(os.path.join('unreadable',os.path.basename(os.path.dirname(link)),name[:-len('.link')]))\n"
    "        continue\n"
    "    for path,digest in items:\n"
    "        h=hashlib.sha256()\n"
    "        try:\n"
    "            with open(os.path.join(ws,path),'rb') as f:\n"
    "                for chunk in iter(lambda: f.read(1<<20), b''): h.update(chunk)\n"
    "            found=h.hexdigest()\n"
    "        except OSError: found='missing'\n"
    "        if found!=digest: mark(path)\n"
)


class InTotoError(ValueError):
    """A link or layout that cannot be written as asked."""


def layout_for_workspace(config: Any, workspace: Path, root_key: Any, days: int,
                         now: dt.datetime | None = None) -> Path:
    """Build and sign attest/in-toto/root.layout for a workspace (valid `days` days); returns its path."""
    now = now or dt.datetime.now(dt.UTC)
    workspace = Path(workspace)
    trust_dir = workspace / config.attest.trust_dir
    paths = chain_paths(config)
    layout = build_layout(paths, valid_functionaries(trust_dir, now), now + dt.timedelta(days=days))
    return sign_layout(layout, root_key, workspace / paths.links_dir / LAYOUT_FILE, trust_dir)


def _signer(private_key: Any) -> tuple[CryptoSigner, str]:
    from securesystemslib.signer import CryptoSigner, SSlibKey

    public = SSlibKey.from_crypto(private_key.public_key())
    return CryptoSigner(private_key, public), public.keyid


def functionary_key(public_key: Any) -> dict[str, Any]:
    """The in-toto key dict (with keyid) for a public key, as `in-toto-verify` loads a PEM."""
    from securesystemslib.signer import SSlibKey

    key = SSlibKey.from_crypto(public_key)
    return {**key.to_dict(), "keyid": key.keyid}


def link_path(links_dir: Path, day: str, step: str, keyid: str) -> Path:
    return Path(links_dir) / day / LINK_FILENAME.format(step_name=step, keyid=keyid)


def sign_day_links(workspace: Path, paths: ChainPaths, day: str, signer_key: Any) -> tuple[list[Path], list[str]]:
    """Sign what the steps recorded for `day` into attest/in-toto/<day>/<step>.<keyid>.link, one link per step.

    The day's folder is rebuilt from the records: links of other keys, and of steps with no record (which
    in-toto-verify then reports as missing), are removed; a day with no record at all is left as it is.
    Returns (links written, steps without a record)."""
    from in_toto.models.link import Link
    from in_toto.models.metadata import Metablock

    records = read_day_records(workspace, paths, day)
    if not records:
        return [], list(STEPS)
    signer, keyid = _signer(signer_key)
    links_dir = Path(workspace) / paths.links_dir
    day_dir = links_dir / day
    written = []
    for step in STEPS:
        target = link_path(links_dir, day, step, keyid)
        for stale in day_dir.glob(f"{step}.*.link") if day_dir.exists() else []:
            if stale != target or step not in records:
                stale.unlink()
        if step not in records:
            continue
        fields = link_fields(step, records[step], day)
        metablock = Metablock(signed=Link(byproducts={}, command=[], **fields))
        metablock.create_signature(signer)
        atomic_write_bytes(target, _dumps(metablock))
        written.append(target)
    return written, [step for step in STEPS if step not in records]


def _dumps(metablock: Metablock) -> bytes:
    return (json.dumps(metablock.to_dict(), indent=1, sort_keys=True) + "\n").encode()


def _rules(paths: ChainPaths) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    """step -> (expected_materials, expected_products), day-agnostic (see step_records for what each reads)."""
    report_files = f"{paths.reports_dir}/report_*"
    store = f"{paths.metrics_store}/*"

    def match(pattern: str, step: str) -> list[str]:
        return ["MATCH", pattern, "WITH", "PRODUCTS", "FROM", step]

    def allow(*patterns: str) -> list[list[str]]:
        return [["ALLOW", pattern] for pattern in patterns] + [["DISALLOW", "*"]]

    return {
        "ingest": (allow(paths.metrics_csv, paths.rules_history), allow(paths.rules_history, store)),
        "effects": ([match(paths.rules_history, "ingest"), match(store, "ingest"), ["DISALLOW", "*"]],
                    allow(paths.effects_csv, paths.effects_store)),
        "posteriors": ([match(paths.effects_csv, "effects"), ["DISALLOW", "*"]], allow(paths.posterior_jsonl)),
        "evidence": ([match(paths.effects_csv, "effects"), match(store, "ingest"), ["ALLOW", f"{paths.environment_store}/*"],
                      ["DISALLOW", "*"]],
                     allow(paths.quotes_bank, paths.risk_ledger, paths.rhythm_output, paths.rhythm_effects)),
        # the conjugate posterior log (the report's fallback) and resonance scores are read, not chained
        "report": ([match(paths.effects_csv, "effects"), match(paths.posterior_jsonl, "posteriors"),
                    match(paths.quotes_bank, "evidence"), match(paths.risk_ledger, "evidence"),
                    ["ALLOW", paths.conjugate_jsonl], ["ALLOW", paths.resonance_json], ["DISALLOW", "*"]],
                   allow(report_files)),
        # the archive bundles the day's sources as they stand then: the report must be the one the report
        # step made; the other sources (metrics, configs, ...) legitimately move on and are listed as read
        "archive": ([match(report_files, "report"), ["ALLOW", "*"]], allow(f"{paths.archive_dir}/*")),
    }


def build_layout(paths: ChainPaths, functionaries: Sequence[Any], expires: dt.datetime) -> Layout:
    """The day-agnostic layout: six steps, their functionary keys, the MATCH chain, the on-disk inspection."""
    from in_toto.models.layout import Inspection, Layout, Step

    if not functionaries:
        raise InTotoError("no valid signer to name as functionary (issue a signer first)")
    keys = [functionary_key(public) for public in functionaries]
    layout = Layout(expires=expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    readme="Lumen: one reporting day's evidence, step by step (links in attest/in-toto/<day>/). "
                           "Run in-toto-verify from an empty folder with LUMEN_WORKSPACE=<workspace> (or from "
                           "the workspace folder); the on-disk inspection needs python3 on PATH.")
    for key in keys:
        layout.keys[key["keyid"]] = key
    for name, (materials, products) in _rules(paths).items():
        layout.steps.append(Step(name=name, pubkeys=[k["keyid"] for k in keys], threshold=1,
                                 expected_materials=materials, expected_products=products, expected_command=[]))
    layout.inspect.append(Inspection(
        name=INSPECTION, run=["python3", "-c", ON_DISK_CHECK.format(links=paths.links_dir, changed=CHANGED_DIR)],
        expected_materials=[["ALLOW", "*"]],
        expected_products=[["DISALLOW", f"{paths.links_dir}/{CHANGED_DIR}/*"], ["ALLOW", "*"]],
    ))
    layout.validate()
    return layout


def valid_functionaries(trust_dir: Path, now: dt.datetime) -> list[Any]:
    """Public keys of signer certificates in the trust folder that are valid now and not revoked."""
    from lumen_assets.attest.keys import load_cert, trusted_roots

    crls = []
    for root, crl_path in trusted_roots(trust_dir):
        if crl_path.exists():
            crls.append(x509.load_pem_x509_crl(crl_path.read_bytes()))
        del root
    keys = []
    for pem in sorted((Path(trust_dir) / "signers").glob("*.pem")):
        cert = load_cert(pem)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            continue
        if any(crl.get_revoked_certificate_by_serial_number(cert.serial_number) for crl in crls):
            continue
        keys.append(cert.public_key())
    return keys


def sign_layout(layout: Layout, root_key: Any, out: Path, trust_dir: Path) -> Path:
    """Sign the layout with the root key, write it to `out`, publish the root's public key as layout.pub.pem."""
    from in_toto.models.metadata import Metablock

    signer, _ = _signer(root_key)
    metablock = Metablock(signed=layout)
    metablock.create_signature(signer)
    atomic_write_bytes(Path(out), _dumps(metablock))
    atomic_write_bytes(Path(trust_dir) / TRUST_LAYOUT_KEY, root_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return Path(out)
