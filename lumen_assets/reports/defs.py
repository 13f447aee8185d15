"""Dagster definitions contributed by the reports area: `daily_report`, `report_distribution`, the 09:05 job.

daily_report (daily partitions, reporting timezone) writes controls/reports/report_YYYY-MM-DD.{md,pdf}
(seed segB §2-3) and checks itself (blocking, ERROR) before report_distribution may send it (§4).
"""

import hashlib
import json
import os
import urllib.parse
from datetime import datetime
from pathlib import Path

import dagster as dg

from lumen.resources.notifiers import ReportNotifier
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.atomic import atomic_write_bytes, atomic_write_text
from lumen_assets.attest.step_records import chain_paths, freeze_upstream, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.digests import sha256_file_or_none
from lumen_assets.evidence.ledger import read_ledger
from lumen_assets.ingest.coverage import no_data_reason
from lumen_assets.keys import asset_key
from lumen_assets.partitions import (
    DAILY_FRESHNESS,
    daily_partitions,
    skipped_checks,
)
from lumen_assets.tables import metadata_table

SECTIONS_CHECK = "daily_report_sections"
PDF_CHECK = "daily_report_pdf_readable"
COVERS_CHECK = "daily_report_covers_day"
DELIVERED_CHECK = "report_delivered"


def report_paths(workspace: LumenWorkspace, day: str) -> tuple[Path, Path, Path]:
    """(markdown, pdf, facts json) for a day; the facts sidecar lives in Lumen's state folder."""
    folder = workspace.path(workspace.config.reports.reports_dir)
    facts = workspace.layout.report_facts(day)
    return folder / f"report_{day}.md", folder / f"report_{day}.pdf", facts


def _rhythm_sync(workspace: LumenWorkspace, start: datetime, end: datetime):
    """The rhythm steps of the report's day (a step before it too: its last minutes), never the whole output."""
    import pandas as pd

    from lumen_assets.rhythm.incremental import read_sync_span

    step_ns = int(workspace.config.rhythm.step_s * 1e9)
    return read_sync_span(workspace.path(workspace.config.rhythm.output), workspace.layout.rhythm_sync_state,
                          pd.Timestamp(start).value - step_ns, pd.Timestamp(end).value)


PREVIEW_CHARS = 30_000  # the inline Markdown preview; the whole report is behind the link / in the file


def report_url(workspace: LumenWorkspace, path: Path) -> str | None:
    """An HTTP URL of a report file when reports_dir is served (config reports.url or $LUMEN_REPORTS_URL)."""
    base = workspace.config.reports.url or os.environ.get("LUMEN_REPORTS_URL", "").strip()
    if not base:
        return None
    return f"{base.rstrip('/')}/{urllib.parse.quote(path.name)}"


def report_page_metadata(workspace: LumenWorkspace, md_path: Path, pdf_path: Path, markdown: str,
                         headline: dict[str, str]) -> dict:
    """What the daily_report page shows first: links the browser opens (or, without a served folder, the
    Markdown inline), the headline figures under their names in the report's language, and where the
    signature and log status appear."""
    metadata: dict = {}
    for label, path in (("pdf_link", pdf_path), ("markdown_link", md_path)):
        url = report_url(workspace, path)
        if url:
            metadata[label] = dg.MetadataValue.url(url)
    preview = markdown if len(markdown) <= PREVIEW_CHARS else (
        markdown[:PREVIEW_CHARS] + f"\n\n_… {len(markdown) - PREVIEW_CHARS} more characters in {md_path.name}_")
    metadata["preview"] = dg.MetadataValue.md(preview)
    metadata.update({name: value for name, value in headline.items()})
    metadata["signed_and_logged"] = (
        "after this report: attestations signs it and transparency_log logs it, then records the envelope "
        "digest, log index, checkpoint size and verification on this partition (its observations)")
    metadata["attestations"] = dg.MetadataValue.asset(asset_key("attestations"))
    metadata["transparency_log"] = dg.MetadataValue.asset(asset_key("transparency_log"))
    return metadata


def _thresholds(workspace: LumenWorkspace) -> dict[str, float]:
    t = workspace.config.thresholds
    return {"creative_band_min": t.creative_band_min, "risk_band_max": t.risk_band_max}


@dg.asset(
    group_name="reporting",
    kinds={"pdf", "markdown"},
    owners=["team:lumen"],
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    deps=[
        "quote_bank",
        "risk_ledger",
        "metrics",
        dg.AssetDep("rule_effects", partition_mapping=dg.AllPartitionMapping()),
        "effect_posteriors",
        "effect_posteriors_conjugate",
    ],
    output_required=False,  # a day with no metrics and no rule events is skipped, never reported empty
    check_specs=[
        dg.AssetCheckSpec(SECTIONS_CHECK, asset="daily_report", blocking=True,
                          description="The Markdown has the seed's four sections."),
        dg.AssetCheckSpec(PDF_CHECK, asset="daily_report", blocking=True,
                          description="The PDF opens, has >= 1 page, and its text layer holds the title and headline figures."),
        dg.AssetCheckSpec(COVERS_CHECK, asset="daily_report", blocking=True,
                          description="The report names its partition's day and prints only that day's records."),
    ],
    description=(
        "The day's report (controls/reports/report_YYYY-MM-DD.md and .pdf): quote highlights, risk overview, "
        "observation memo, references, effects / signal / posterior / resonance tables, and a rhythm chart; "
        "Korean set in an embedded NanumGothic."
    ),
)
def daily_report(context: dg.AssetExecutionContext, workspace: LumenWorkspace):
    from lumen_assets.effects.table import read_effects_csv
    from lumen_assets.reports.build import build_report, choose_posterior, read_json, read_metrics_day
    from lumen_assets.reports.checks import coverage_problems, missing_sections, pdf_problems, pdf_text
    from lumen_assets.reports.content import DayWindow

    config = workspace.config
    settings = config.reports
    # Dagster's own [start, end) of the daily partition, in the reporting timezone (DST-length days honoured)
    span = context.partition_time_window
    start, end = span.start.astimezone(config.tz), span.end.astimezone(config.tz)
    window = DayWindow(start.date(), config.tz, start, end)
    quotes_path = workspace.path(config.evidence.quotes_bank)
    risks_path = workspace.path(config.evidence.risk_ledger)
    effects_path = workspace.layout.effects_csv
    metrics_path = workspace.layout.metrics_store
    if not (metrics_path / "_ingest_state.json").exists():
        raise dg.Failure(description=f"{workspace.rel(metrics_path)} not found: materialise `metrics` first")
    skipped = no_data_reason(window.key, metrics_path, workspace.path(config.paths.rules_history), start, end)
    if skipped:  # no output: report_distribution and archive_bundle for the day are skipped in the same run
        context.log.info(skipped)
        yield dg.AssetObservation(asset_key=asset_key("daily_report"), partition=window.key, metadata={"skipped": skipped})
        yield from skipped_checks(asset_key("daily_report"), (SECTIONS_CHECK, PDF_CHECK, COVERS_CHECK), skipped)
        return
    # An unconverged newest PyMC fit never silences the day: the report shows the last converged fit (or
    # the conjugate one) and says so; the failing posterior_convergence check alerts on its own.
    posterior_line, posterior_newest, posterior_problem = choose_posterior(
        workspace.path(settings.posterior_jsonl), workspace.layout.conjugate_posterior_log)
    resonance, resonance_problem = read_json(workspace.path(settings.resonance_json))
    for problem in (posterior_problem, resonance_problem):
        if problem:
            context.log.warning(workspace.scrub(problem))
    sources = {
        name: digest
        for name, digest in (
            (config.evidence.quotes_bank, sha256_file_or_none(quotes_path)),
            (config.evidence.risk_ledger, sha256_file_or_none(risks_path)),
            (config.paths.effects_csv, sha256_file_or_none(effects_path)),
            (settings.posterior_jsonl, sha256_file_or_none(workspace.path(settings.posterior_jsonl))),
            (workspace.rel(workspace.layout.conjugate_posterior_log), sha256_file_or_none(workspace.layout.conjugate_posterior_log)),
            (settings.resonance_json, sha256_file_or_none(workspace.path(settings.resonance_json))),
        )
        if digest
    }
    # the in-toto chain of this day: the upstream steps' latest records are the runs whose outputs this reads
    chain = chain_paths(config)
    freeze_upstream(workspace.root_path, chain, window.key)
    built = build_report(
        window=window,
        settings=settings,
        thresholds=_thresholds(workspace),
        quotes=read_ledger(quotes_path).records,
        risks=read_ledger(risks_path).records,
        effects=read_effects_csv(effects_path),
        metrics=read_metrics_day(metrics_path, window),
        generated_at=datetime.now(config.tz),
        posterior_line=posterior_line,
        posterior_newest=posterior_newest,
        resonance=resonance,
        sources=sources,
        rhythm_sync=_rhythm_sync(workspace, start, end) if settings.rhythm_overlay else None,
    )
    md_path, pdf_path, facts_path = report_paths(workspace, window.key)
    atomic_write_text(md_path, built.markdown)
    atomic_write_bytes(pdf_path, built.pdf)
    pdf_sha = hashlib.sha256(built.pdf).hexdigest()
    md_sha = hashlib.sha256(built.markdown.encode("utf-8")).hexdigest()
    content = built.content
    facts = {
        "day": window.key,
        "timezone": config.loop.timezone,
        "title": content.title,
        "language": content.language,
        "headline": content.headline,
        "md": workspace.rel(md_path),
        "pdf": workspace.rel(pdf_path),
        "md_sha256": md_sha,
        "pdf_sha256": pdf_sha,
    }
    atomic_write_text(facts_path, json.dumps(facts, ensure_ascii=False, indent=2) + "\n")
    record_step(workspace.root_path, chain, "daily_report", day=window.key, materials=sources,  # in-toto report step
                environment={"run_id": context.run.run_id})

    try:
        pages = pdf_text(built.pdf)[0]
    except ValueError:
        pages = 0
    yield dg.MaterializeResult(
        metadata={
            "markdown": dg.MetadataValue.path(workspace.rel(md_path)),
            "pdf": dg.MetadataValue.path(workspace.rel(pdf_path)),
            "pdf_sha256": pdf_sha,
            "md_sha256": md_sha,
            "pages": pages,
            "pdf_bytes": len(built.pdf),
            "events": len(content.effects),
            "posterior_shown": " ".join(content.posterior_notes) or "none",
            "quotes": len(content.quotes),
            "risks": len(content.risks),
            "metric_samples": built.samples,
            "posterior_included": content.posterior is not None,
            "resonance_included": content.resonance is not None,
            "memo": dg.MetadataValue.md("\n".join(f"> {line}" for line in content.memo)),
            **report_page_metadata(workspace, md_path, pdf_path, built.markdown, content.headline),
        }
    )
    missing = missing_sections(built.markdown, content.language)
    rebuild = (f"this is a bug in the report builder: report it with the run id; report_distribution will not "
               f"send the {window.key} report until this passes")
    yield dg.AssetCheckResult(
        check_name=SECTIONS_CHECK,
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=described(not missing, f"{md_path.name} has the seed's four sections",
                              f"{md_path.name} lacks section(s): {', '.join(missing)}", rebuild),
        metadata={"missing": dg.MetadataValue.json(missing)},
    )
    problems = pdf_problems(built.pdf, content.headline, content.title)
    yield dg.AssetCheckResult(
        check_name=PDF_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=described(
            not problems, f"{pdf_path.name} opens ({pages} page(s)) and its text holds the title and headline",
            f"{pdf_path.name} is not readable as expected: " + "; ".join(str(p) for p in problems[:3]),
            "if the Korean text is missing, set reports.font_path to a Korean TrueType font (or reinstall "
            "koreanize-matplotlib) and re-materialise daily_report; otherwise " + rebuild),
        metadata={"pages": pages, "problems": dg.MetadataValue.json(problems)},
    )
    timestamps = [e["ts"] for e in content.effects]
    coverage = coverage_problems(built.markdown, window, timestamps)
    yield dg.AssetCheckResult(
        check_name=COVERS_CHECK,
        passed=not coverage,
        severity=dg.AssetCheckSeverity.ERROR,
        description=described(
            not coverage,
            f"the report names {window.key} and prints only that day's {len(timestamps)} event(s)"
            if timestamps else f"the report names {window.key}; no rule event fell on that day, and it says so",
            f"the {window.key} report strays from its day: " + "; ".join(str(p) for p in coverage[:3]),
            f"check loop.timezone ({config.loop.timezone}) against the workspace's timestamps; " + rebuild),
        metadata={"day": window.key, "start": window.start.isoformat(), "end": window.end.isoformat(),
                  "problems": dg.MetadataValue.json(coverage)},
    )


@dg.asset(
    group_name="reporting",
    kinds={"email"},
    owners=["team:lumen"],
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    deps=["daily_report"],
    output_required=False,  # nothing is sent for a day without data (daily_report skipped it)
    check_specs=[
        dg.AssetCheckSpec(DELIVERED_CHECK, asset="report_distribution",
                          description="Every configured recipient has a `sent` receipt for the day."),
    ],
    description=(
        "Sends the day's PDF to the configured recipients (outbox folder, SMTP, webhook) and records a receipt "
        "per recipient in controls/reports/receipts.jsonl; a recipient already sent that day is never sent again."
    ),
)
def report_distribution(context: dg.AssetExecutionContext, workspace: LumenWorkspace, report_notifier: ReportNotifier):
    from lumen_assets.reports.distribution import Report, distribute, sent_recipients

    config = workspace.config
    settings = config.reports.distribution
    day = context.partition_key
    md_path, pdf_path, facts_path = report_paths(workspace, day)
    span = context.partition_time_window
    skipped = no_data_reason(day, workspace.layout.metrics_store, workspace.path(config.paths.rules_history),
                             span.start, span.end)
    if skipped and not pdf_path.exists():
        context.log.info(skipped)
        yield dg.AssetObservation(asset_key=asset_key("report_distribution"), partition=day, metadata={"skipped": skipped})
        yield from skipped_checks(asset_key("report_distribution"), (DELIVERED_CHECK,), skipped)
        return
    if not (pdf_path.exists() and facts_path.exists()):
        raise dg.Failure(description=f"{workspace.rel(pdf_path)} not found: materialise daily_report for {day} first", allow_retries=False)
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    if sha256_file_or_none(pdf_path) != facts.get("pdf_sha256"):
        raise dg.Failure(
            description=f"{workspace.rel(pdf_path)} does not match the digest daily_report recorded; rebuild it", allow_retries=False
        )
    report = Report(day, pdf_path, md_path, facts["title"], facts["headline"], facts.get("language", "ko"))
    targets, secrets = report_notifier.targets()
    receipts_path = workspace.path(config.reports.receipts)
    outcome = distribute(
        report,
        targets,
        receipts_path,
        max_attempts=settings.max_attempts,
        backoff_s=settings.backoff_s,
        backoff_max_s=settings.backoff_max_s,
        secrets=secrets,
        log=context.log.info,
    )
    sent = sent_recipients(receipts_path, day)
    wanted = [delivery.recipient_id for delivery, _ in targets]
    rows = [(r.recipient, r.status, r.attempts, r.reason or r.detail) for r in outcome.receipts]
    rows += [(recipient, "already sent", 0, "") for recipient in outcome.skipped]
    yield dg.MaterializeResult(
        metadata={
            "receipts": dg.MetadataValue.path(workspace.rel(receipts_path)),
            "sent_now": sum(1 for r in outcome.receipts if r.status == "sent"),
            "failed_now": sum(1 for r in outcome.receipts if r.status == "failed"),
            "already_sent": len(outcome.skipped),
            "pdf_sha256": report.pdf_sha256,
            "deliveries": metadata_table([("recipient", "string"), ("status", "string"), ("attempts", "int"),
                                          ("detail", "string")], rows),
        }
    )
    missing = [recipient for recipient in wanted if recipient not in sent]
    failed_reasons = "; ".join(f"{r.recipient}: {r.reason or r.detail}" for r in outcome.receipts
                               if r.status == "failed")[:400]
    yield dg.AssetCheckResult(
        check_name=DELIVERED_CHECK,
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=nothing_to_compare("reports.distribution.recipients is empty: the report goes nowhere")
        if not wanted else described(
            not missing, f"all {len(wanted)} recipient(s) have a sent receipt for {day}",
            f"{len(missing)} of {len(wanted)} recipient(s) got no {day} report ({', '.join(missing)})"
            + (f": {failed_reasons}" if failed_reasons else ""),
            f"fix the channel named in the reason (SMTP host/credentials, webhook URL), then re-materialise "
            f"report_distribution for {day}: recipients already sent are skipped"),
        metadata={"not_delivered": dg.MetadataValue.json(missing), "recipients": len(wanted)},
    )
