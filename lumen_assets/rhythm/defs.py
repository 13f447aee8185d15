"""Dagster definitions of the rhythm area (seed segC §C1): the `environment` input (ingest group) and the
`rhythm_sync` corrections. Thin layer over `lumen_assets.ingest.environment` and `lumen_assets.rhythm.sync`.

The seed's 200 ms blend loop is part of the control loop and stays outside Dagster; these assets are the
batch record of the same formulas (one record per `rhythm.step_s`), for the graph, the exporter and reports.
"""


import time
from typing import TYPE_CHECKING, Any

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.attest.step_records import chain_paths, record_step
from lumen_assets.check_words import described, nothing_to_compare
from lumen_assets.humanize import duration
from lumen_assets.ingest.quarantine import record_quarantine, write_quarantine
from lumen_assets.tables import metadata_table

if TYPE_CHECKING:
    import pandas as pd

ENVIRONMENT_CHECKS = [
    dg.AssetCheckSpec("environment_schema_range_order", asset="environment", blocking=True,
                      description="Cleaned environment samples: the four columns, values within the configured "
                      "physical ranges or missing, time-sorted."),
    dg.AssetCheckSpec("environment_quarantine_rate", asset="environment",
                      description="Share of quarantined rows stays under rhythm.environment.quarantine_max_fraction."),
    dg.AssetCheckSpec("environment_freshness", asset="environment",
                      description="The newest sample is younger than rhythm.environment.freshness_max_age_s."),
]


def ranges_of(workspace: LumenWorkspace) -> dict[str, tuple[float, float]]:
    from lumen_assets.ingest.environment import ENV_SIGNALS

    env = workspace.config.rhythm.environment
    return {name: (getattr(env, name).min, getattr(env, name).max) for name in ENV_SIGNALS}


@dg.asset(
    group_name="ingest",
    kinds={"pandas", "parquet"},
    owners=["team:lumen"],
    check_specs=ENVIRONMENT_CHECKS,
    description="The rhythm sensors' 1 Hz stream from logs/environment.csv (lux, °C, dB): typed, validated, "
    "sorted, bad rows quarantined by line, stored as Parquet split by UTC day. Incremental like metrics: each "
    "run parses only the lines appended since the saved offset (a truncated, rotated or rewritten file is read "
    "again from the start).",
)
def environment(context: dg.AssetExecutionContext, workspace: LumenWorkspace):
    import pandas as pd

    from lumen_assets.ingest.environment import (
        ENV_COLUMNS,
        ENV_SIGNALS,
        ENVIRONMENT,
        EnvironmentFormatError,
        ingest_environment,
        write_environment_store,
    )
    from lumen_assets.ingest.metrics_store import read_newest_day, stored_days

    config = workspace.config
    settings = config.rhythm.environment
    source = workspace.layout.environment_csv
    store = workspace.layout.environment_store
    legacy = workspace.layout.legacy_environment_store
    quarantine = workspace.layout.quarantine_dir / "environment.jsonl"
    ranges = ranges_of(workspace)
    if not source.exists():  # a workspace without rhythm sensors: nothing to read, said plainly
        context.log.info(f"{workspace.rel(source)}: no environment file; the rhythm assets have no input")
        frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in ENV_COLUMNS})
        frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
        write_environment_store(frame, store)
        if legacy.exists():
            legacy.unlink()
        write_quarantine(quarantine, workspace.rel(source), [])
        yield dg.MaterializeResult(metadata={"dagster/row_count": 0, "source": "missing: " + workspace.rel(source)})
        nothing = nothing_to_compare(f"{config.paths.environment_csv} does not exist (no rhythm sensors)")
        yield dg.AssetCheckResult(check_name="environment_schema_range_order", passed=True,
                                  severity=dg.AssetCheckSeverity.ERROR, metadata={"rows": 0}, description=nothing)
        yield dg.AssetCheckResult(check_name="environment_quarantine_rate", passed=True,
                                  severity=dg.AssetCheckSeverity.WARN, metadata={"rows": 0}, description=nothing)
        yield dg.AssetCheckResult(
            check_name="environment_freshness", passed=False, severity=dg.AssetCheckSeverity.WARN,
            metadata={"problem": f"{workspace.rel(source)} does not exist"},
            description=described(False, "", f"{config.paths.environment_csv} does not exist",
                                  "if the loop has rhythm sensors, point paths.environment_csv at their CSV; "
                                  "otherwise ignore this warning"))
        return
    try:
        run = ingest_environment(source, store, ranges, settings.sample_rate_hz, settings.gap_factor, legacy=legacy)
    except EnvironmentFormatError as exc:
        raise dg.Failure(description=workspace.scrub(str(exc))) from None
    state = run.state
    record_quarantine(quarantine, workspace.rel(source), run.quarantined, bool(run.reset_reason))
    if run.reset_reason:
        if run.reset_reason not in ("new", "migrated"):
            context.log.warning(f"{workspace.rel(source)} was {run.reset_reason}: the environment store was rebuilt "
                                "from its first line")
    for line_no, reason, _ in run.quarantined[:20]:
        context.log.warning(f"{workspace.rel(source)}:{line_no}: quarantined: {reason}")
    days = stored_days(store)
    newest_day = read_newest_day(store, ENVIRONMENT)  # the signals table: one day
    summary = [
        (s, *(float(getattr(newest_day[s], f)()) if newest_day[s].notna().any() else None
              for f in ("mean", "min", "max")),
         state.missing_cells.get(s, 0))
        for s in ENV_SIGNALS
    ]
    yield dg.MaterializeResult(
        metadata={
            **run.figures(),
            "days": len(days),
            "store": dg.MetadataValue.path(workspace.rel(store)),
            "quarantine_file": dg.MetadataValue.path(workspace.rel(quarantine)),
            "signals": metadata_table([("signal", "string"), ("mean", "float", "newest stored day"),
                                       ("min", "float", "newest stored day"), ("max", "float", "newest stored day"),
                                       ("missing", "int", "blank cells, whole store")], summary),
        }
    )
    problems = run.problems
    yield dg.AssetCheckResult(
        check_name="environment_schema_range_order", passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
        description=nothing_to_compare("no new environment rows were read") if not run.rows_added else described(
            not problems, f"{run.rows_added} new rows: columns, ranges and time order as configured",
            "the cleaned environment data breaks the schema: " + "; ".join(problems),
            "this is a bug in the environment reader (bad rows should have been quarantined): "
            "report it with the run id"),
        metadata={"problems": "; ".join(problems) or "none", "rows": run.rows_added},
    )
    fraction = state.quarantine_fraction
    quarantine_ok = fraction <= settings.quarantine_max_fraction
    yield dg.AssetCheckResult(
        check_name="environment_quarantine_rate",
        passed=quarantine_ok,
        severity=dg.AssetCheckSeverity.WARN,
        description=described(
            quarantine_ok, f"{state.quarantined} of {state.rows_read} rows quarantined",
            f"{fraction:.2%} of {config.paths.environment_csv} rows were quarantined (bound "
            f"{settings.quarantine_max_fraction:.2%})",
            f"read the reasons in {config.paths.quarantine_dir}/environment.jsonl, fix what writes the bad rows, "
            "then re-materialise environment"),
        metadata={"quarantined_fraction": fraction, "bound": settings.quarantine_max_fraction,
                  "quarantined_rows": state.quarantined},
    )
    age_s = (time.time_ns() - state.last_ts_ns) / 1e9 if state.last_ts_ns is not None else float("inf")
    fresh = age_s <= settings.freshness_max_age_s
    yield dg.AssetCheckResult(
        check_name="environment_freshness", passed=fresh,
        severity=dg.AssetCheckSeverity.WARN,
        description=described(
            fresh, f"the newest sample is {duration(age_s)} old (limit {duration(settings.freshness_max_age_s)})",
            f"the newest environment sample is {duration(age_s)} old (limit {duration(settings.freshness_max_age_s)})",
            "check that the rhythm sensors still write their CSV, then re-materialise environment; for a "
            "historical workspace this warning is expected"),
        metadata={"newest_sample_age": duration(age_s), "newest_sample_age_s": age_s,
                  "max_age_s": settings.freshness_max_age_s},
    )


def _rhythm_across_events(workspace: LumenWorkspace) -> "pd.DataFrame":
    """Each complete rule effect with and without the rhythm (pure: `rhythm_across_events`) over the whole
    synchronised output, written to `rhythm.effects_output` (atomically, rewritten whole each run like
    rules_effects.csv)."""
    from lumen_assets.atomic import atomic_open
    from lumen_assets.effects.table import read_effects_csv
    from lumen_assets.rhythm.sync import read_sync_file, rhythm_across_events, rhythm_gains

    config = workspace.config
    effects = read_effects_csv(workspace.layout.effects_csv)
    if len(effects):
        effects = effects[effects["status"] == "complete"]
    sync = read_sync_file(workspace.path(config.rhythm.output))
    across = rhythm_across_events(effects, sync, config.effects.pre_s, config.effects.post_s, config.effects.guard_s,
                                  gains=rhythm_gains(sync, config.rhythm.gain_min_steps))
    with atomic_open(workspace.path(config.rhythm.effects_output), "w") as handle:
        across.round(6).to_csv(handle, index=False, lineterminator="\n")
    return across


def compute_rhythm_sync(workspace: LumenWorkspace) -> tuple[Any, dict[str, Any]]:
    """Bring logs/rhythm_sync.jsonl up to date a local day at a time, recomputing only the days whose
    environment or metrics changed (`lumen_assets.rhythm.incremental`), and put the recomputed days' messages
    into the quote bank. Returns (run, figures)."""
    from lumen_assets.rhythm.incremental import synchronize_incrementally
    from lumen_assets.rhythm.messages import rhythm_quotes, upsert_quotes

    config = workspace.config
    layout = workspace.layout
    output = workspace.path(config.rhythm.output)
    quotes: dict[str, dict[str, Any]] = {}

    def day_messages(records: list[dict[str, Any]]) -> None:
        # a chunk is a local day; with a step_s that does not divide the day, its first step may belong to the
        # day before: the message of that day keeps the chunk that had most of its steps
        for quote in rhythm_quotes(records, config.tz, config.evidence.language):
            known = quotes.get(quote["event_id"])
            if known is None or quote["summary"]["steps"] >= known["summary"]["steps"]:
                quotes[quote["event_id"]] = quote

    run = synchronize_incrementally(layout.environment_store, layout.metrics_store, output,
                                    layout.rhythm_sync_state, config.rhythm, config.tz, on_chunk=day_messages)
    upsert_quotes(workspace.path(config.evidence.quotes_bank), list(quotes.values()))
    return run, {"steps": run.steps, "output": output, "rhythm_quotes": len(quotes)}


@dg.asset(
    group_name="rhythm",
    kinds={"json"},
    owners=["team:lumen"],
    deps=["environment", "metrics", dg.AssetDep("rule_effects", partition_mapping=dg.AllPartitionMapping())],
    check_specs=[dg.AssetCheckSpec(
        "rhythm_blend_coverage", asset="rhythm_sync",
        description="Share of steps with a blend (at least one input covering min_coverage) is at least 90 %.",
    )],
    description="The resonance synchronizer (seed segC §C1): per step, the four corrections of the seed's mapping "
    "table (light→phase_diff, temperature→entropy_rate, sound→creative_band, time_cycle→risk_band), their "
    "weighted blend, each input's coverage and the metrics' means in the same step -> logs/rhythm_sync.jsonl.",
)
def rhythm_sync(context: dg.AssetExecutionContext, workspace: LumenWorkspace):
    import pandas as pd

    from lumen_assets.rhythm.sync import bands_of

    config = workspace.config
    sync, figures = compute_rhythm_sync(workspace)
    record_step(workspace.root_path, chain_paths(config), "rhythm_sync",  # the in-toto evidence step
                environment={"run_id": context.run.run_id, "steps": sync.steps})
    steps, with_blend = sync.steps, sync.steps_with_blend
    share = with_blend / steps if steps else 0.0
    latest = sync.latest
    across = _rhythm_across_events(workspace)
    recomputed = sync.recomputed
    context.log.info(f"rhythm_sync: {sum(c.steps for c in recomputed)} steps of {len(recomputed)} day(s) recomputed, "
                     f"{steps} in all -> {workspace.rel(figures['output'])}")
    yield dg.MaterializeResult(
        metadata={
            "steps": steps,
            "steps_with_blend": with_blend,
            "steps_recomputed": sum(c.steps for c in recomputed),
            "days_recomputed": len(recomputed),
            "recomputed_from": str(pd.Timestamp(recomputed[0].start_ns, tz="UTC").tz_convert(config.tz))
            if recomputed else "nothing changed",
            "rebuilt": sync.rebuilt or "no",
            "step_s": config.rhythm.step_s,
            "bands": dg.MetadataValue.json(bands_of(config.rhythm)),
            "weights": dg.MetadataValue.json(config.rhythm.weights.model_dump()),
            "blend_mean": sync.blend_mean,
            "rhythm_messages_updated": figures["rhythm_quotes"],
            "output": dg.MetadataValue.path(workspace.rel(figures["output"])),
            "rhythm_effects": dg.MetadataValue.path(workspace.rel(workspace.path(config.rhythm.effects_output))),
            "rule_events_with_rhythm": metadata_table(
                [("rule_ts", "string"), ("rule", "string"), ("d_phase", "float"),
                 ("d_phase_without_rhythm", "float", "Δphase with the rhythm's part taken out"),
                 ("d_risk", "float"), ("d_risk_without_rhythm", "float", "Δrisk with the rhythm's part taken out"),
                 ("rhythm_d_blend", "float", "rhythm Δblend across the effect windows")],
                [(r.rule_ts, r.rule, r.d_phase, r.d_phase_without_rhythm, r.d_risk, r.d_risk_without_rhythm,
                  r.rhythm_d_blend) for r in across.tail(20).itertuples()],
            ) if len(across) else "no rule events inside the rhythm data",
            "latest": metadata_table(
                [("ts", "string"), ("d_light", "float"), ("d_temp", "float"), ("d_sound", "float"), ("d_time", "float"),
                 ("blend", "float")],
                [(r["ts"], r["d_light"], r["d_temp"], r["d_sound"], r["d_time"], r["blend"]) for r in latest],
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="rhythm_blend_coverage",
        passed=share >= 0.9 or not steps,
        severity=dg.AssetCheckSeverity.WARN,
        description=nothing_to_compare("no rhythm steps (no environment data)") if not steps else described(
            share >= 0.9, f"{share:.0%} of {steps} steps have a blend",
            f"only {share:.0%} of {steps} steps have a blend (at least 90 % expected)",
            "look for gaps in the environment and metrics data over the same minutes (their gaps figures) "
            "and for sensors that stopped"),
        metadata={"steps": steps, "with_blend": with_blend, "share": share},
    )
