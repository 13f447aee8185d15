"""The pipeline as an in-toto supply chain: one signed link per step per reporting day, a root-signed layout.

Why (issue 14, design card "attestations"): the DSSE statements say *what* each artefact is; in-toto says
*how the day's evidence was made*, step by step, and stock `in-toto-verify` checks it offline:

    in-toto-verify --layout attest/in-toto/root.layout --verification-keys attest/trust/layout.pub.pem \\
      --link-dir attest/in-toto/<day>

Steps, in order (materials -> products, workspace paths from config):

    ingest      metrics.csv, rules_history.jsonl          -> the same files, validated and passed on
    effects     ingest's products                         -> rules_effects.csv
    posteriors  rules_effects.csv                         -> bayes_posterior.jsonl
    evidence    rules_effects.csv, bayes_posterior.jsonl  -> quotes_bank.jsonl, risk_ledger.jsonl
    report      the four files above                      -> controls/reports/report_<day>.{md,pdf}
    archive     the day's report files                    -> archive/<day>/*

Rule-event partitions fold into the day: `effects` and `evidence` run once per rule event, but their outputs
are the cumulative files above, so the day's link records those files as they stand when the day's links are
written (after the day's report and archive), and names the day's rule events in its `environment`. All six
links of a day are recorded from one snapshot, so each step's materials MATCH the previous step's products.

The layout (`lumen keys sign-layout`, root key, offline) lists the functionary keys (every signer that is
valid now: the current one and any still in its rotation overlap), each step's rules (ALLOW exactly its
files, MATCH each material WITH PRODUCTS FROM the step that made it, DISALLOW the rest) and one inspection,
`on-disk`: its command (standard-library Python, part of the signed layout) compares every day's
report/archive link products with the files on disk and marks each difference as an empty file
`attest/in-toto/changed/<path>`; the inspection's rule `DISALLOW attest/in-toto/changed/*` then fails naming
the changed file. (In-toto's MATCH alone cannot fail on a changed file: an unmatched file falls through to
the next rule, and a day-agnostic layout must ALLOW the other days' files.) Stock in-toto-verify also leaves
the inspection's own link, `on-disk.link`, in the folder it runs in. Links are the classic in-toto link format in a signed Metablock, signed with the
pipeline's signer key (ECDSA P-256 or Ed25519); the layout is signed by the root key.

Pure module: no dagster import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lumen_assets.atomic import atomic_write_bytes

if TYPE_CHECKING:  # in-toto is imported where it is used: loading it costs ~0.7 s at definitions import
    from in_toto.models.layout import Layout
    from in_toto.models.metadata import Metablock
    from securesystemslib.signer import CryptoSigner

LINK_FILENAME = "{step_name}.{keyid:.8}.link"  # in_toto.models.link.FILENAME_FORMAT
STEPS = ("ingest", "effects", "posteriors", "evidence", "report", "archive")
LINKS_DIR = "in-toto"  # under attest/
LAYOUT_FILE = "root.layout"
TRUST_LAYOUT_KEY = "layout.pub.pem"
INSPECTION = "on-disk"

CHANGED_DIR = "changed"  # under the links folder: the inspection marks changed files here for its rule
# Compares every day's report/archive link products with the files on disk (stdlib only) and marks each
# difference as an empty file <links>/changed/<path>, which the inspection's DISALLOW rule then names.
ON_DISK_CHECK = (
    "import glob,hashlib,json,os,shutil\n"
    "marks=os.path.join({links!r},{changed!r})\n"
    "shutil.rmtree(marks,ignore_errors=True)\n"
    "for link in sorted(glob.glob(os.path.join({links!r},'*','*.link'))):\n"
    "    step=os.path.basename(link).split('.')[0]\n"
    "    if step not in ('report','archive'): continue\n"
    "    for path,digest in json.load(open(link))['signed']['products'].items():\n"
    "        h=hashlib.sha256()\n"
    "        try:\n"
    "            with open(path,'rb') as f:\n"
    "                for chunk in iter(lambda: f.read(1<<20), b''): h.update(chunk)\n"
    "            found=h.hexdigest()\n"
    "        except OSError: found='missing'\n"
    "        if found!=digest['sha256']:\n"
    "            mark=os.path.join(marks,path)\n"
    "            os.makedirs(os.path.dirname(mark),exist_ok=True)\n"
    "            open(mark,'w').close()\n"
)


class InTotoError(ValueError):
    """A link or layout that cannot be written as asked."""


@dataclass(frozen=True)
class ChainPaths:
    """The workspace files the steps read and write (from config)."""

    metrics_csv: str
    rules_history: str
    effects_csv: str
    posterior_jsonl: str
    quotes_bank: str
    risk_ledger: str
    reports_dir: str
    archive_dir: str


def chain_paths(config: Any) -> ChainPaths:
    """The chain's files from a loaded LumenConfig (duck-typed: this module does not import config)."""
    return ChainPaths(config.paths.metrics_csv, config.paths.rules_history, config.paths.effects_csv,
                      config.reports.posterior_jsonl, config.evidence.quotes_bank, config.evidence.risk_ledger,
                      config.reports.reports_dir.rstrip("/"), config.archive.archive_dir.rstrip("/"))


def layout_for_workspace(config: Any, workspace: Path, root_key: Any, days: int,
                         now: dt.datetime | None = None) -> Path:
    """Build and sign attest/in-toto/root.layout for a workspace (valid `days` days); returns its path."""
    now = now or dt.datetime.now(dt.UTC)
    workspace = Path(workspace)
    trust_dir = workspace / config.attest.trust_dir
    links_rel = f"{config.attest.attest_dir}/{LINKS_DIR}"
    layout = build_layout(chain_paths(config), valid_functionaries(trust_dir, now), now + dt.timedelta(days=days),
                          links_rel=links_rel)
    return sign_layout(layout, root_key, workspace / links_rel / LAYOUT_FILE, trust_dir)


def day_files(paths: ChainPaths, day: str) -> dict[str, tuple[list[str], list[str]]]:
    """step -> (materials, products) as workspace-relative paths for one reporting day."""
    inputs = [paths.metrics_csv, paths.rules_history]
    evidence = [paths.quotes_bank, paths.risk_ledger]
    reports = [f"{paths.reports_dir}/report_{day}.md", f"{paths.reports_dir}/report_{day}.pdf"]
    return {
        "ingest": (inputs, inputs),
        "effects": (inputs, [paths.effects_csv]),
        "posteriors": ([paths.effects_csv], [paths.posterior_jsonl]),
        "evidence": ([paths.effects_csv, paths.posterior_jsonl], evidence),
        "report": ([paths.effects_csv, paths.posterior_jsonl, *evidence], reports),
        "archive": (reports, [f"{paths.archive_dir}/{day}/*"]),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def record(workspace: Path, patterns: Iterable[str]) -> dict[str, dict[str, str]]:
    """{rel: {"sha256": hex}} for the existing files named (globs allowed), as in-toto records artifacts."""
    workspace = Path(workspace)
    found: dict[str, dict[str, str]] = {}
    for pattern in patterns:
        paths = sorted(workspace.glob(pattern)) if any(c in pattern for c in "*?[") else [workspace / pattern]
        for path in paths:
            if path.is_file() and not path.name.startswith("."):
                found[path.relative_to(workspace).as_posix()] = {"sha256": _sha256(path)}
    return found


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


def write_day_links(workspace: Path, day: str, paths: ChainPaths, signer_key: Any, links_dir: Path,
                    events: Sequence[str] = (), run_id: str | None = None) -> list[Path]:
    """Record and sign the six links of `day` from one snapshot of the workspace; returns their paths.

    Old links of the day (by any key) are replaced, so a day's directory holds one link per step."""
    from in_toto.models.link import Link
    from in_toto.models.metadata import Metablock

    signer, keyid = _signer(signer_key)
    day_dir = Path(links_dir) / day
    written = []
    for step, (materials, products) in day_files(paths, day).items():
        link = Link(name=step, materials=record(workspace, materials), products=record(workspace, products),
                    byproducts={}, command=[], environment={"day": day, "rule_events": list(events),
                                                             "run_id": run_id})
        metablock = Metablock(signed=link)
        metablock.create_signature(signer)
        target = link_path(links_dir, day, step, keyid)
        for stale in day_dir.glob(f"{step}.*.link"):
            if stale != target:
                stale.unlink()
        atomic_write_bytes(target, _dumps(metablock))
        written.append(target)
    return written


def _dumps(metablock: Metablock) -> bytes:
    return (json.dumps(metablock.to_dict(), indent=1, sort_keys=True) + "\n").encode()


def _rules(paths: ChainPaths) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    """step -> (expected_materials, expected_products), day-agnostic."""
    report_files = f"{paths.reports_dir}/report_*"

    def match(pattern: str, step: str) -> list[str]:
        return ["MATCH", pattern, "WITH", "PRODUCTS", "FROM", step]

    return {
        "ingest": ([["ALLOW", paths.metrics_csv], ["ALLOW", paths.rules_history], ["DISALLOW", "*"]],
                   [["ALLOW", paths.metrics_csv], ["ALLOW", paths.rules_history], ["DISALLOW", "*"]]),
        "effects": ([match(paths.metrics_csv, "ingest"), match(paths.rules_history, "ingest"), ["DISALLOW", "*"]],
                    [["ALLOW", paths.effects_csv], ["DISALLOW", "*"]]),
        "posteriors": ([match(paths.effects_csv, "effects"), ["DISALLOW", "*"]],
                       [["ALLOW", paths.posterior_jsonl], ["DISALLOW", "*"]]),
        "evidence": ([match(paths.effects_csv, "effects"), match(paths.posterior_jsonl, "posteriors"), ["DISALLOW", "*"]],
                     [["ALLOW", paths.quotes_bank], ["ALLOW", paths.risk_ledger], ["DISALLOW", "*"]]),
        "report": ([match(paths.effects_csv, "effects"), match(paths.posterior_jsonl, "posteriors"),
                    match(paths.quotes_bank, "evidence"), match(paths.risk_ledger, "evidence"), ["DISALLOW", "*"]],
                   [["ALLOW", report_files], ["DISALLOW", "*"]]),
        "archive": ([match(report_files, "report"), ["DISALLOW", "*"]],
                    [["ALLOW", f"{paths.archive_dir}/*"], ["DISALLOW", "*"]]),
    }


def build_layout(paths: ChainPaths, functionaries: Sequence[Any], expires: dt.datetime,
                 links_rel: str = "attest/in-toto") -> Layout:
    """The day-agnostic layout: six steps, their functionary keys, the MATCH chain, the on-disk inspection."""
    from in_toto.models.layout import Inspection, Layout, Step

    if not functionaries:
        raise InTotoError("no valid signer to name as functionary (issue a signer first)")
    keys = [functionary_key(public) for public in functionaries]
    layout = Layout(expires=expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    readme="Lumen: one reporting day's evidence, step by step (links in attest/in-toto/<day>/)")
    for key in keys:
        layout.keys[key["keyid"]] = key
    for name, (materials, products) in _rules(paths).items():
        layout.steps.append(Step(name=name, pubkeys=[k["keyid"] for k in keys], threshold=1,
                                 expected_materials=materials, expected_products=products, expected_command=[]))
    layout.inspect.append(Inspection(
        name=INSPECTION, run=["python3", "-c", ON_DISK_CHECK.format(links=links_rel, changed=CHANGED_DIR)],
        expected_materials=[["MATCH", f"{paths.reports_dir}/report_*", "WITH", "PRODUCTS", "FROM", "report"],
                            ["MATCH", f"{paths.archive_dir}/*", "WITH", "PRODUCTS", "FROM", "archive"],
                            ["ALLOW", "*"]],
        expected_products=[["DISALLOW", f"{links_rel}/{CHANGED_DIR}/*"], ["ALLOW", "*"]],
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
