"""Dagster definitions contributed by the evidence area: `quote_bank` and `risk_ledger` (seed segB §1).

Both read logs/rules_effects.csv whole and upsert one record per complete rule event, keyed by event id,
so re-running (or a sensor run for a later event) never duplicates a record (seed segB §1.8).
"""


from typing import TYPE_CHECKING

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.atomic import upsert_jsonl
from lumen_assets.attest.step_records import chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.evidence.ledger import ledger_problems, read_ledger
from lumen_assets.tables import metadata_table

if TYPE_CHECKING:
    from lumen_assets.evidence.mapper import Evidence


def _map_workspace(workspace: LumenWorkspace) -> "Evidence":
    from lumen_assets.effects.table import read_effects_csv
    from lumen_assets.evidence.mapper import map_evidence, rows_from_records

    config = workspace.config
    effects = read_effects_csv(workspace.layout.effects_csv)
    rows, rejected = rows_from_records(effects.to_dict("records"), config.tz)
    evidence = map_evidence(rows, config.evidence)
    evidence.rejected = rejected + evidence.rejected
    return evidence


def _common_metadata(evidence: "Evidence", workspace: LumenWorkspace) -> dict:
    rejected = evidence.rejected
    return {
        "effects_csv": dg.MetadataValue.path(workspace.rel(workspace.layout.effects_csv)),
        "not_yet_evidence": dg.MetadataValue.json(evidence.not_evidence),
        "rejected_rows": len(rejected),
        "rejected": metadata_table([("event", "string"), ("reason", "string")], rejected, limit=50)
        if rejected else "none",
    }


@dg.asset(
    group_name="evidence",
    kinds={"json"},
    owners=["team:lumen"],
    deps=[dg.AssetDep("rule_effects", partition_mapping=dg.AllPartitionMapping())],
    description=(
        "Quote bank (controls/quotes_bank.jsonl): one quote per complete rule effect, the seed's evidence "
        "mapper (confidence 0.4/0.65/0.8/0.92 by good-signal count), keyed by event id, never duplicated."
    ),
)
def quote_bank(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    from lumen_assets.evidence.mapper import record_key

    evidence = _map_workspace(workspace)
    path = workspace.path(workspace.config.evidence.quotes_bank)
    added, total = upsert_jsonl(path, evidence.quotes, record_key)
    context.log.info(f"quote bank: {added} added, {total} in {workspace.rel(path)}")
    record_step(workspace.root_path, chain_paths(workspace.config), "quote_bank",  # the in-toto evidence step
                environment={"run_id": context.run.run_id, "added": added})
    latest = read_ledger(path).records[::-1]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(workspace.rel(path)),
            "added": added,
            "total": total,
            "latest": metadata_table(
                [("ts", "string"), ("rule", "string"), ("confidence", "float"), ("quote", "string"),
                 ("event_id", "string")],
                [(q.get("ts"), q.get("rule"), q.get("confidence"), q.get("quote"), q.get("event_id")) for q in latest],
                limit=200,
            ),
            **_common_metadata(evidence, workspace),
        }
    )


@dg.asset(
    group_name="evidence",
    kinds={"json"},
    owners=["team:lumen"],
    deps=[dg.AssetDep("rule_effects", partition_mapping=dg.AllPartitionMapping())],
    description=(
        "Risk ledger (controls/risk_ledger.jsonl): an instability record when phase and entropy rose together "
        "after a rule change (seed +0.03/+0.03 -> warn; crit and info by config), keyed by event id."
    ),
)
def risk_ledger(context: dg.AssetExecutionContext, workspace: LumenWorkspace) -> dg.MaterializeResult:
    from lumen_assets.evidence.mapper import record_key

    evidence = _map_workspace(workspace)
    path = workspace.path(workspace.config.evidence.risk_ledger)
    added, total = upsert_jsonl(path, evidence.risks, record_key)
    context.log.info(f"risk ledger: {added} added, {total} in {workspace.rel(path)}")
    record_step(workspace.root_path, chain_paths(workspace.config), "risk_ledger",  # the in-toto evidence step
                environment={"run_id": context.run.run_id, "added": added})
    records = read_ledger(path).records
    severities: dict[str, int] = {}
    for record in records:
        severities[record.get("severity", "info")] = severities.get(record.get("severity", "info"), 0) + 1
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(workspace.rel(path)),
            "added": added,
            "total": total,
            "severities": dg.MetadataValue.json(severities),
            "latest": metadata_table(
                [("ts", "string"), ("severity", "string"), ("rule", "string"), ("d_phase", "float"),
                 ("d_entropy", "float"), ("event_id", "string")],
                [
                    (r.get("ts"), r.get("severity"), r.get("rule"), r.get("signal", {}).get("phase"),
                     r.get("signal", {}).get("entropy"), r.get("event_id"))
                    for r in records[::-1]
                ],
                limit=200,
            ),
            **_common_metadata(evidence, workspace),
        }
    )


def _ledger_check(workspace: LumenWorkspace, relative: str, kind: str) -> dg.AssetCheckResult:
    path = workspace.path(relative)
    problems = ledger_problems(path, kind)
    records = len(read_ledger(path).records)
    if not records and not problems:
        description = nothing_to_compare(f"{relative} has no {kind} records yet (no complete rule effect maps "
                                         "to one)")
    else:
        description = described(
            not problems, f"{records} {kind} records, each valid and keyed by a distinct event id",
            f"{len(problems)} problem(s) in {relative}; first: {problems[0] if problems else ''}",
            f"fix or remove the named lines of {relative} (it is append-only evidence: keep a copy), then "
            f"re-materialise {'quote_bank' if kind == 'quote' else 'risk_ledger'}; the report waits for this",
        )
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "path": dg.MetadataValue.path(workspace.rel(path)),
            "records": records,
            "problems": len(problems),
            "first_problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:20]) or "none"),
        },
    )


@dg.asset_check(
    asset=quote_bank,
    blocking=True,
    description="Every line is a quote record with a tz-aware ts, confidence in [0, 1], and no event id twice.",
)
def quote_bank_unique_and_valid(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    return _ledger_check(workspace, workspace.config.evidence.quotes_bank, "quote")


@dg.asset_check(
    asset=risk_ledger,
    blocking=True,
    description="Every line is a risk record with a tz-aware ts, severity info/warn/crit, and no event id twice.",
)
def risk_ledger_unique_and_valid(workspace: LumenWorkspace) -> dg.AssetCheckResult:
    return _ledger_check(workspace, workspace.config.evidence.risk_ledger, "risk")
