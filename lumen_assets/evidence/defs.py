"""Dagster definitions contributed by the evidence area: `quote_bank` and `risk_ledger` (seed segB §1).

Both map the rows of logs/rules_effects.csv they have not mapped yet (`evidence.incremental`: a rule event's
run maps its own rows, not the year before it) and upsert one record per complete rule event, keyed by event
id, so re-running (or a sensor run for a later event) never duplicates a record (seed segB §1.8).
"""


from typing import TYPE_CHECKING

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.step_records import chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.evidence.ledger import latest_records, scan_ledger
from lumen_assets.tables import metadata_table

if TYPE_CHECKING:
    from lumen_assets.evidence.incremental import LedgerUpdate


LATEST_SHOWN = 200  # newest records in the metadata table (read from the end of the file)


def _update(workspace: LumenWorkspace, ledger_rel: str, kind: str) -> "LedgerUpdate":
    from lumen_assets.evidence.incremental import update_ledger

    config = workspace.config
    return update_ledger(workspace.layout.effects_csv, workspace.path(ledger_rel), kind, config.evidence,
                         config.tz, workspace.layout.evidence_state)


def _common_metadata(update: "LedgerUpdate", workspace: LumenWorkspace) -> dict:
    evidence = update.evidence
    rejected = evidence.rejected
    return {
        "effects_csv": dg.MetadataValue.path(workspace.rel(workspace.layout.effects_csv)),
        "effects_rows_mapped": update.rows_mapped,
        "mapped_whole_table": update.whole_table,
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
    update = _update(workspace, workspace.config.evidence.quotes_bank, "quote")
    path = workspace.path(workspace.config.evidence.quotes_bank)
    added, total = update.added, update.total
    context.log.info(f"quote bank: {added} added, {total} in {workspace.rel(path)} "
                     f"({update.rows_mapped} effects row(s) mapped)")
    record_step(workspace.root_path, chain_paths(workspace.config), "quote_bank",  # the in-toto evidence step
                environment={"run_id": context.run.run_id, "added": added})
    latest = latest_records(path, LATEST_SHOWN)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(workspace.rel(path)),
            "added": added,
            "total": total,
            "latest": metadata_table(
                [("ts", "string"), ("rule", "string"), ("confidence", "float"), ("quote", "string"),
                 ("event_id", "string")],
                [(q.get("ts"), q.get("rule"), q.get("confidence"), q.get("quote"), q.get("event_id")) for q in latest],
                limit=LATEST_SHOWN,
            ),
            **_common_metadata(update, workspace),
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
    update = _update(workspace, workspace.config.evidence.risk_ledger, "risk")
    path = workspace.path(workspace.config.evidence.risk_ledger)
    added, total = update.added, update.total
    context.log.info(f"risk ledger: {added} added, {total} in {workspace.rel(path)} "
                     f"({update.rows_mapped} effects row(s) mapped)")
    record_step(workspace.root_path, chain_paths(workspace.config), "risk_ledger",  # the in-toto evidence step
                environment={"run_id": context.run.run_id, "added": added})
    severities = dict(sorted(update.scan.severities.items()))
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
                    for r in latest_records(path, LATEST_SHOWN)
                ],
                limit=LATEST_SHOWN,
            ),
            **_common_metadata(update, workspace),
        }
    )


def _ledger_check(workspace: LumenWorkspace, relative: str, kind: str) -> dg.AssetCheckResult:
    path = workspace.path(relative)
    scan = scan_ledger(path, kind, workspace.layout.evidence_state / f"{path.name}.scan.json")
    problems = scan.problems(path)
    records = scan.records
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
