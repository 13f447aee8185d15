"""Each pipeline step records its own in-toto link body (materials and products with sha256) when it runs.

Why (issue 14 §2): an in-toto link says what a step read and wrote *when it ran*; a link recorded after the
fact from the files as they stand then would claim inputs a step never saw. So every asset of the day's
chain calls `record_step` from its Dagster layer as it materialises, and the trust asset `in_toto_links`
later signs what the steps recorded (`intoto.sign_day_links`) with the pipeline's signer. Steps never
open the keystore: they keep running when trust is not set up, and only the trust assets hold the key
(the way Tekton Chains or a SLSA build platform signs what the build steps report).

Steps and the assets that record them (materials -> products, workspace paths from config):

    ingest      rule_events      rules_history.jsonl -> rules_history.jsonl (validated, passed on)
                metrics          (metrics.csv: see below) -> the metrics store (.lumen/metrics/*: Parquet, cursor)
    effects     rule_effects     rules_history.jsonl, the metrics store -> rules_effects.csv, effects.parquet
    posteriors  effect_posteriors rules_effects.csv  -> bayes_posterior.jsonl
    evidence    quote_bank       rules_effects.csv   -> quotes_bank.jsonl
                risk_ledger      rules_effects.csv   -> risk_ledger.jsonl
                rhythm_sync      the environment and metrics stores -> rhythm_sync.jsonl, rhythm_effects.csv, quotes_bank.jsonl
                                 (its day messages go into the quote bank)
    report      daily_report     the digests it prints under "sources" -> report_<day>.md, .pdf
    archive     archive_bundle   the manifest's files (as tarred) -> archive/<day>/*

How partitions fold into one link per step per day: ingest, effects, posteriors and evidence write
workspace-wide cumulative files (effects runs per reporting day, one run often covering many days), so their
record is the step's *latest run*, kept under `records/latest/`. The day's report, when it materialises,
freezes the latest records of those four steps into `records/<day>/` beside its own: the day's chain is the
runs whose outputs that report read. The archive adds its record for the day. A step with several assets
(ingest, evidence) is one link: the union of its assets' latest records. A file two assets of the step wrote
(the quote bank) is the step's product as the later one left it; should two assets of a step have *read*
different versions of one file, the link names both (`path (as read by asset)`), which the layout's
`DISALLOW *` then refuses. Files a step appends to (the JSONL ledgers) are recorded as its products.

Cost: steps run on every rule event, and the inputs grow large (a year: a 9.5 GB metrics.csv, ~1.5 GB of
Parquet). Two measures keep a record cheap. (1) metrics.csv is an append-only stream the loop writes while
Lumen reads it incrementally: a whole-file digest would cost a full read per run and be stale as soon as it
is taken, so the `metrics` asset does not list it as a material; its link's environment names the byte range
it read this run with the sha256 of those bytes (`byte_range_sha256`), and its products, the store, are
hashed. (2) Digests are cached per file in `records/digests.json`, keyed by inode, size, mtime and ctime (as
git's index does): the store's Parquet parts are written once, so a run hashes only what changed. Changing a
file's content changes its ctime, which user-space tools cannot set back.

Pure module: no dagster import; standard library only (steps call it on every run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumen_assets.atomic import atomic_write_text
from lumen_assets.digests import file_identity, sha256_file

STEPS = ("ingest", "effects", "posteriors", "evidence", "report", "archive")
UPSTREAM_STEPS = ("ingest", "effects", "posteriors", "evidence")  # frozen into a day by its report
ASSET_STEP = {
    "rule_events": "ingest",
    "metrics": "ingest",
    "rule_effects": "effects",
    "effect_posteriors": "posteriors",
    "quote_bank": "evidence",
    "risk_ledger": "evidence",
    "rhythm_sync": "evidence",
    "daily_report": "report",
    "archive_bundle": "archive",
}
LINKS_DIR = "in-toto"  # under attest/
RECORDS_DIR = "records"  # under attest/in-toto/: what the steps recorded, before the signer signs it
LATEST_DIR = "latest"  # under records/: each workspace-wide step's latest run
DIGEST_CACHE = "digests.json"  # under records/: {path: [inode, size, mtime_ns, ctime_ns, sha256]}


class StepRecordError(ValueError):
    """A step record that cannot be written or read as asked."""


@dataclass(frozen=True)
class ChainPaths:
    """The workspace files the steps read and write (workspace-relative, from config)."""

    metrics_csv: str
    rules_history: str
    metrics_store: str
    environment_store: str
    effects_csv: str
    effects_store: str
    posterior_jsonl: str
    conjugate_jsonl: str
    resonance_json: str
    quotes_bank: str
    risk_ledger: str
    rhythm_output: str
    rhythm_effects: str
    reports_dir: str
    archive_dir: str
    links_dir: str

    def report_files(self, day: str) -> list[str]:
        return [f"{self.reports_dir}/report_{day}.md", f"{self.reports_dir}/report_{day}.pdf"]

    def asset_files(self, asset: str, day: str | None = None) -> tuple[list[str], list[str]]:
        """(materials, products) as paths or globs for an asset of the chain (report/archive: products only)."""
        store = [f"{self.metrics_store}/_ingest_state.json", f"{self.metrics_store}/date=*/*.parquet"]
        files: dict[str, tuple[list[str], list[str]]] = {
            "rule_events": ([self.rules_history], [self.rules_history]),
            "metrics": ([], store),  # metrics.csv: the byte range read, in the environment
            "rule_effects": ([self.rules_history, *store], [self.effects_csv, self.effects_store]),
            "effect_posteriors": ([self.effects_csv], [self.posterior_jsonl]),
            "quote_bank": ([self.effects_csv], [self.quotes_bank]),
            "risk_ledger": ([self.effects_csv], [self.risk_ledger]),
            "rhythm_sync": ([f"{self.environment_store}/_ingest_state.json", f"{self.environment_store}/date=*/*.parquet",
                             *store], [self.rhythm_output, self.rhythm_effects, self.quotes_bank]),
            "daily_report": ([], self.report_files(day or "*")),
            "archive_bundle": ([], [f"{self.archive_dir}/{day or '*'}/*"]),
        }
        if asset not in files:
            raise StepRecordError(f"{asset!r} is not a step of the in-toto chain ({', '.join(ASSET_STEP)})")
        return files[asset]


def chain_paths(config: Any) -> ChainPaths:
    """The chain's files from a loaded LumenConfig (duck-typed: this module does not import config)."""
    state = config.paths.state_dir.rstrip("/")
    return ChainPaths(
        metrics_csv=config.paths.metrics_csv, rules_history=config.paths.rules_history,
        metrics_store=f"{state}/metrics", environment_store=f"{state}/environment", effects_csv=config.paths.effects_csv,
        effects_store=f"{state}/effects.parquet", posterior_jsonl=config.reports.posterior_jsonl,
        conjugate_jsonl="logs/bayes_posterior_conjugate.jsonl", resonance_json=config.reports.resonance_json,
        quotes_bank=config.evidence.quotes_bank, risk_ledger=config.evidence.risk_ledger,
        rhythm_output=config.rhythm.output, rhythm_effects=config.rhythm.effects_output,
        reports_dir=config.reports.reports_dir.rstrip("/"), archive_dir=config.archive.archive_dir.rstrip("/"),
        links_dir=f"{config.attest.attest_dir.rstrip('/')}/{LINKS_DIR}",
    )


def byte_range_sha256(path: Path, start: int, end: int) -> str:
    """sha256 of bytes [start, end) of a file (what an incremental reader read this run)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(start)
        left = max(0, end - start)
        while left and (chunk := handle.read(min(left, 1 << 20))):
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _cached_sha256(path: Path, rel: str, cache: dict[str, list[Any]] | None) -> str:
    if cache is None:
        return sha256_file(path)
    key = file_identity(path)
    hit = cache.get(rel)
    if isinstance(hit, list) and len(hit) == 5 and hit[:4] == key:
        return str(hit[4])
    digest = sha256_file(path)
    cache[rel] = [*key, digest]
    return digest


def record(workspace: Path, patterns: Iterable[str],
           cache: dict[str, list[Any]] | None = None) -> dict[str, dict[str, str]]:
    """{rel: {"sha256": hex}} for the existing files named (globs allowed), as in-toto records artifacts;
    `cache` (path -> [inode, size, mtime_ns, ctime_ns, sha256]) skips files unchanged since last hashed."""
    workspace = Path(workspace)
    found: dict[str, dict[str, str]] = {}
    for pattern in patterns:
        paths = sorted(workspace.glob(pattern)) if any(c in pattern for c in "*?[") else [workspace / pattern]
        for path in paths:
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(workspace).as_posix()
                found[rel] = {"sha256": _cached_sha256(path, rel, cache)}
    return found


def _load_cache(path: Path) -> dict[str, list[Any]]:
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache, or a damaged one: everything is hashed again
    return cache if isinstance(cache, dict) else {}


def _save_cache(workspace: Path, path: Path, cache: dict[str, list[Any]]) -> None:
    kept = {rel: entry for rel, entry in sorted(cache.items()) if (Path(workspace) / rel).is_file()}
    atomic_write_text(path, json.dumps(kept, separators=(",", ":")) + "\n")


def cached_record(workspace: Path, paths: ChainPaths, patterns: Iterable[str]) -> dict[str, dict[str, str]]:
    """`record` through the chain's digest cache (records/digests.json): files unchanged since they were last
    hashed (same inode, size, mtime and ctime) are not read again."""
    cache_path = records_dir(workspace, paths).parent / DIGEST_CACHE
    cache = _load_cache(cache_path)
    found = record(workspace, patterns, cache)
    _save_cache(workspace, cache_path, cache)
    return found


def records_dir(workspace: Path, paths: ChainPaths, day: str | None = None) -> Path:
    return Path(workspace) / paths.links_dir / RECORDS_DIR / (day or LATEST_DIR)


def _record_name(step: str, asset: str) -> str:
    return f"{step}.{asset}.json"


def record_step(workspace: Path, paths: ChainPaths, asset: str, *, day: str | None = None,
                materials: Mapping[str, str] | None = None, environment: Mapping[str, Any] | None = None,
                now: dt.datetime | None = None) -> Path:
    """Record what `asset` read and wrote, now; returns the record's path.

    `materials` ({path: sha256}) are the digests the asset itself computed as it read (report, archive);
    otherwise its materials are hashed here. Products are always hashed here, after the asset wrote them.
    Workspace-wide steps go to records/latest/; the report and archive (pass `day`) to records/<day>/."""
    step = ASSET_STEP.get(asset)
    if step is None:
        raise StepRecordError(f"{asset!r} is not a step of the in-toto chain ({', '.join(ASSET_STEP)})")
    if step in ("report", "archive") and not day:
        raise StepRecordError(f"{asset} records a day's link: pass the day")
    material_patterns, product_patterns = paths.asset_files(asset, day)
    cache_path = records_dir(workspace, paths).parent / DIGEST_CACHE
    cache = _load_cache(cache_path)
    body = {
        "step": step,
        "asset": asset,
        "materials": {p: {"sha256": d} for p, d in sorted(materials.items())} if materials is not None
        else record(workspace, material_patterns, cache),
        "products": record(workspace, product_patterns, cache),
        "environment": {"recorded_at": (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(),
                        **(environment or {})},
    }
    target = records_dir(workspace, paths, day if step in ("report", "archive") else None) / _record_name(step, asset)
    atomic_write_text(target, json.dumps(body, indent=1, sort_keys=True) + "\n")
    _save_cache(workspace, cache_path, cache)
    return target


def freeze_upstream(workspace: Path, paths: ChainPaths, day: str) -> list[Path]:
    """Copy the latest records of ingest, effects, posteriors and evidence into the day (the report calls it
    as it reads their outputs); the day's earlier upstream records are replaced. Returns the copies."""
    source, target = records_dir(workspace, paths), records_dir(workspace, paths, day)
    for stale in target.glob("*.json") if target.exists() else []:
        if stale.name.split(".")[0] in UPSTREAM_STEPS:
            stale.unlink()
    copied = []
    for step in UPSTREAM_STEPS:
        for latest in sorted(source.glob(f"{step}.*.json")) if source.exists() else []:
            atomic_write_text(target / latest.name, latest.read_text(encoding="utf-8"))
            copied.append(target / latest.name)
    return copied


def read_day_records(workspace: Path, paths: ChainPaths, day: str) -> dict[str, list[dict[str, Any]]]:
    """step -> the records of its assets for the day (raises naming the file on an unreadable record)."""
    folder = records_dir(workspace, paths, day)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            step, asset = body["step"], body["asset"]
            materials, products = dict(body["materials"]), dict(body["products"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StepRecordError(f"{path}: not a step record ({exc})") from exc
        if ASSET_STEP.get(asset) != step:
            raise StepRecordError(f"{path}: asset {asset!r} is not part of step {step!r}")
        found.setdefault(step, []).append({**body, "materials": materials, "products": products})
    return found


def _union(records: list[dict[str, Any]], field: str) -> dict[str, dict[str, str]]:
    """The union of one field over a step's asset records. Products: a file two assets wrote is as the later
    one left it. Materials: a path two assets read with different digests is kept under both names,
    `path (as read by asset)`, so that the layout's DISALLOW * names it."""
    ordered = sorted(records, key=lambda body: str(body.get("environment", {}).get("recorded_at", "")))
    seen: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for body in ordered:
        for path, digest in body[field].items():
            seen.setdefault(path, []).append((body["asset"], digest))
    merged: dict[str, dict[str, str]] = {}
    for path, sightings in seen.items():
        if field == "products" or len({d["sha256"] for _, d in sightings}) == 1:
            merged[path] = sightings[-1][1]
        else:
            for asset, digest in sightings:
                merged[f"{path} (as read by {asset})"] = digest
    return merged


def link_fields(step: str, records: list[dict[str, Any]], day: str) -> dict[str, Any]:
    """The in-toto link fields (name, materials, products, environment) of one step for one day."""
    return {
        "name": step,
        "materials": _union(records, "materials"),
        "products": _union(records, "products"),
        "environment": {"day": day, "recorded_by": {b["asset"]: b.get("environment", {}) for b in records}},
    }
