"""`lumen run` and `lumen demo`: materialise the graph in-process against a persistent DAGSTER_HOME.

Runs are real Dagster runs recorded in the instance under DAGSTER_HOME (default WORKSPACE/.dagster), so
`dagster dev` on the same workspace shows the same runs, materialisations and check results. The graph is
executed in batches of one partitioning kind at a time, in dependency order: unpartitioned assets, daily
assets with a single-run backfill policy (rule effects) in one run over every covered day, then one run per
reporting day for the other daily assets.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# The terminal gets one line per failure (print_summary); tracebacks stay in the run's event log.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
RUNS_DESPITE_UPSTREAM_TAG = "lumen/runs_despite_upstream"  # such an asset runs in its own batch, after the rest
TRUST_ASSETS = ("attestations", "transparency_log")
KIND_ORDER = ("unpartitioned", "day_range", "daily")


class UsageError(Exception):
    """A bad command-line argument or config; printed without a traceback, exit code 2."""


@dataclass
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    severity: str
    blocking: bool
    partition: str | None
    description: str = ""


@dataclass
class RunSummary:
    workspace: Path
    dagster_home: Path
    materialized: dict[str, int] = field(default_factory=dict)  # asset -> materialisation count
    checks: list[CheckOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line each: the asset (and partition) and why
    runs: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ui_workspace: Path | None = None  # the Dagster workspace file naming this workspace's code location

    @property
    def blocking_failures(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.blocking and c.severity == "ERROR"]

    @property
    def error_failures(self) -> list[CheckOutcome]:
        """Every failed ERROR check, blocking or not: a non-blocking one lets the day's outputs through, but
        the run still ends non-zero so an operator (or cron) sees it."""
        return [c for c in self.checks if not c.passed and c.severity == "ERROR"]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.error_failures


def prepare_environment(workspace: Path, config_path: Path | None, dagster_home: Path | None) -> Path:
    """Point Lumen's code location at this workspace and pick (and create) DAGSTER_HOME."""
    from lumen_assets.config import load_config

    config = load_config(config_path)
    home = (dagster_home or workspace / config.paths.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    ensure_instance_yaml(home)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["LUMEN_WORKSPACE"] = str(workspace.resolve())
    if config_path:
        os.environ["LUMEN_CONFIG"] = str(config_path.resolve())
    else:
        os.environ.pop("LUMEN_CONFIG", None)
    return home


EVENT_LOG_DB = "event_log.db"
_OLD_LUMEN_YAML = re.compile(
    r"\Atelemetry:\n  enabled: false\nevent_log_storage:\n  module: dagster\._core\.storage\.event_log\n"
    r"  class: ConsolidatedSqliteEventLogStorage\n  config:\n    base_dir: (?P<base_dir>[^\n]+)\n"
)


def instance_yaml(home: Path | None = None) -> str:
    """DAGSTER_HOME/dagster.yaml for a new instance: no telemetry, and one consolidated SQLite event log.

    The default SQLite event log is sharded per run and cannot list check evaluations across runs by
    storage id, which the check-alert sensor needs; the consolidated one (or PostgreSQL) can. Its folder is
    `DAGSTER_HOME` itself, read from the environment when the instance loads, so the file holds no
    absolute path: a moved or copied workspace records its runs in its own history. (`home` is unused,
    kept for callers.)"""
    del home
    return (
        "telemetry:\n  enabled: false\n"
        "event_log_storage:\n  module: dagster._core.storage.event_log\n"
        "  class: ConsolidatedSqliteEventLogStorage\n"
        "  config:\n    base_dir:\n      env: DAGSTER_HOME\n"
        "freshness:\n  enabled: true\n"  # the daemon that evaluates the daily assets' freshness policies
    )


def ensure_instance_yaml(home: Path) -> None:
    """Write dagster.yaml for a new instance; upgrade one Lumen wrote with an absolute event-log folder.

    Older Lumen versions wrote `base_dir: /abs/.dagster/history/events`, so a moved or copied workspace
    kept writing into the original's event log. Such a file is rewritten to the relocatable form and the
    event log that lies in *this* home (copied along with the workspace) moves to where the new form
    looks for it, so the copy's history is its own. A dagster.yaml not written by Lumen is left alone."""
    from lumen_assets.atomic import atomic_write_text

    settings = home / "dagster.yaml"
    if not settings.exists():
        atomic_write_text(settings, instance_yaml())
        return
    match = _OLD_LUMEN_YAML.match(settings.read_text(encoding="utf-8"))
    if not match:
        return
    old_dir = home / "history" / "events"
    if not (home / EVENT_LOG_DB).exists():
        for suffix in ("", "-wal", "-shm"):
            source = old_dir / (EVENT_LOG_DB + suffix)
            if source.exists():
                os.replace(source, home / (EVENT_LOG_DB + suffix))
    atomic_write_text(settings, instance_yaml())


def _kind(node: object) -> str:
    """unpartitioned; day_range (daily, single-run backfill: one run covers many days); daily."""
    if node.partitions_def is None:
        return "unpartitioned"
    policy = getattr(node, "backfill_policy", None)
    if policy is not None and policy.max_partitions_per_run is None:
        return "day_range"
    return "daily"


def plan_batches(graph: object, selected: set) -> list[tuple[str, set]]:
    """Group selected asset keys into batches of one partitioning kind, in dependency order."""
    done: set = set()
    remaining = set(selected)
    batches: list[tuple[str, set]] = []

    def ready(key: object, extra: set) -> bool:
        return all(p in done or p in extra or p not in selected for p in graph.get(key).parent_keys)

    while remaining:
        candidates = [k for k in remaining if ready(k, set())]
        if not candidates:
            raise UsageError(f"cannot order assets {sorted(map(str, remaining))}: dependency cycle")
        kinds = {k: _kind(graph.get(k)) for k in candidates}
        kind = next(kd for kd in KIND_ORDER if kd in kinds.values())
        batch = {k for k in candidates if kinds[k] == kind}
        grew = True
        while grew:
            grew = False
            for key in remaining - batch:
                if _kind(graph.get(key)) == kind and ready(key, batch):
                    batch.add(key)
                    grew = True
        late = {k for k in batch if graph.get(k).tags.get(RUNS_DESPITE_UPSTREAM_TAG) == "true"}
        if late and late != batch:  # in one run, Dagster skips what follows a failed step; here it runs anyway
            batch -= late
            late_ready = {k for k in late if all(p in done or p in batch or p not in selected
                                                 for p in graph.get(k).parent_keys)}
            if late_ready == late:
                batches.append((kind, batch))
                batches.append((kind, late))
                done |= batch | late
                remaining -= batch | late
                continue
            batch |= late
        batches.append((kind, batch))
        done |= batch
        remaining -= batch
    return batches


def covered_days(workspace_root: Path, config: object) -> list[str]:
    """Reporting days (configured timezone) that the metrics and rule events touch."""
    import pandas as pd

    from lumen_assets.ingest.rules import read_rule_events
    from lumen_assets.layout import WorkspaceLayout

    days: set[str] = set()
    from lumen_assets.ingest.metrics_store import stored_spans

    layout = WorkspaceLayout.of(workspace_root, config)
    for first_ns, last_ns in stored_spans(layout.metrics_store):
        span = pd.to_datetime([first_ns, last_ns], utc=True).tz_convert(config.loop.timezone)
        days |= {d.strftime("%Y-%m-%d") for d in pd.date_range(span[0].normalize(), span[1].normalize(), freq="D")}
    for event in read_rule_events(layout.rules_history, config.rule_policy(), layout.rules_cache).events:
        days.add(event.ts.astimezone(config.tz).strftime("%Y-%m-%d"))
    from lumen_assets.partitions import FIRST_DAY  # the first day of the data, as the code location saw it

    today = date.today().isoformat()
    return sorted(d for d in days if FIRST_DAY <= d <= today)


def _collect(result: object, summary: RunSummary, graph: object) -> None:
    """One in-process run's outcome."""
    _collect_events(result.run_id, result.success, result.dagster_run.tags, result.all_events, summary, graph)


def _collect_events(run_id: str, success: bool, tags: dict, events: list, summary: RunSummary, graph: object) -> None:
    """A run's materialisations, check results and failures (one line each), from its Dagster events."""
    import dagster as dg

    summary.runs.append(run_id)
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            key = event.asset_key.to_user_string()
            summary.materialized[key] = summary.materialized.get(key, 0) + 1
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            spec = graph.get_check_spec(evaluation.asset_check_key)
            summary.checks.append(
                CheckOutcome(
                    asset=evaluation.asset_key.to_user_string(),
                    name=evaluation.check_name,
                    passed=evaluation.passed,
                    severity=evaluation.severity.value,
                    blocking=bool(spec.blocking),
                    partition=getattr(evaluation, "partition", None),
                    description=getattr(evaluation, "description", None) or "",
                )
            )
    if not success:
        before = len(summary.failures)
        partition = tags.get("dagster/partition")
        for event in events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                where = f" [{partition}]" if partition else ""
                summary.failures.append(f"asset {event.step_key}{where}: {failure_reason(event.step_failure_data)}")
        if len(summary.failures) == before:
            failure = next((e for e in events if e.event_type == dg.DagsterEventType.RUN_FAILURE), None)
            why = _first_line(failure.message or "") if failure is not None else ""
            summary.failures.append(f"run {run_id} failed{': ' + why if why else ''} (see its log: dagster dev, Runs)")


def failure_reason(data: object) -> str:
    """The first line of what went wrong, without Dagster's wrapper: a `dg.Failure`'s description, else the
    innermost exception's message (the traceback stays in the run's event log)."""
    user = getattr(data, "user_failure_data", None)
    if user is not None and getattr(user, "description", None):
        return _first_line(user.description)
    error = getattr(data, "error", None)
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = _first_line(error.message) if (error.message or "").strip() else error.cls_name or "error"
    return re.sub(r"^[\w.]+(Error|Exception|Failure): ", "", message) or message


def _first_line(text: str) -> str:
    """The first line, joined with the next when it only introduces it (ends with ':')."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def run_graph(
    workspace: Path,
    config_path: Path | None = None,
    select: str | None = None,
    day: str | None = None,
    dagster_home: Path | None = None,
    progress=print,
    launch: LaunchOptions | None = None,
) -> RunSummary:
    """Materialise the whole graph (or a Dagster asset selection) against `workspace`: in this process, or
    with `launch` submitted through the instance's run coordinator and launcher (lumen_assets/launch.py)."""
    home = prepare_environment(workspace, config_path, dagster_home)
    import logging

    import dagster as dg

    for noisy in ("pymc", "pytensor"):  # sampler chatter and BLAS hints; results and errors still surface
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from lumen.resources.workspace import LumenWorkspace
    from lumen_assets.definitions import build_definitions

    started = time.time()
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    all_keys = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    if select:
        try:
            selection = dg.AssetSelection.from_string(select)
            selected = set(selection.resolve(graph)) & all_keys
        except Exception as exc:  # Dagster raises several types for a bad selection string
            raise UsageError(f"--select {select!r}: {exc}") from None
        if not selected:
            raise UsageError(f"--select {select!r} matches no asset; known: {', '.join(sorted(k.to_user_string() for k in all_keys))}")
    else:
        selected = all_keys
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get()
    summary = RunSummary(workspace=workspace.resolve(), dagster_home=home)
    config = LumenWorkspace(root=str(workspace), config_path=str(config_path) if config_path else None).config
    summary.ui_workspace = ui_workspace_file(workspace, config_path, home, config)
    trust = [k.to_user_string() for k in selected if k.path[-1] in TRUST_ASSETS]
    if trust:
        from lumen.resources.secrets import secret_value
        from lumen_assets.attest.keys import trust_setup_problem

        problem = trust_setup_problem(workspace / config.attest.keystore_dir,
                                      secret_value(config.attest.passphrase_env), config.attest.passphrase_env)
        if problem:
            progress(f"[lumen] {problem}")
            progress(f"[lumen] {', '.join(sorted(trust))} will fail; everything that does not sign still runs")
            summary.notes.append(problem)
    with _run_executor(job, instance, graph, summary, launch, config, progress) as execute:
        for kind, batch in plan_batches(graph, selected):
            names = ", ".join(sorted(k.to_user_string() for k in batch))
            if kind == "unpartitioned":
                progress(f"[lumen] materialising {names}")
                runs = [dict()]
            elif kind == "day_range":
                days = [day] if day else covered_days(workspace, config)
                if not days:
                    summary.notes.append(f"no day covered by the data: skipped {names}")
                    continue
                progress(f"[lumen] materialising {names} for {days[0]} .. {days[-1]} (one run)")
                runs = [dict(partition_key=days[0])] if len(days) == 1 else [
                    dict(tags={RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1]})]
            else:
                days = [day] if day else covered_days(workspace, config)
                if not days:
                    summary.notes.append(f"no day covered by the data: skipped {names}")
                    continue
                progress(f"[lumen] materialising {names} for {len(days)} day(s): {', '.join(days)}")
                runs = [dict(partition_key=d) for d in days]
            execute(sorted(batch, key=lambda k: k.to_user_string()), runs)
    skip = {config.paths.dagster_home.split("/")[0], config.paths.state_dir.split("/")[0]}
    evidence_top = config.attest.attest_dir.split("/")[0]  # per-artefact envelopes, proofs, bundles, links: last
    summary.outputs = sorted(
        (p for p in workspace.rglob("*")
         if p.is_file() and p.stat().st_mtime >= started - 1 and p.relative_to(workspace).parts[0] not in skip
         and not p.name.endswith(".lock")),
        key=lambda p: (p.relative_to(workspace).parts[0] == evidence_top, p),
    )
    return summary


@dataclass(frozen=True)
class LaunchOptions:
    """`lumen run --launch`: where the runs are submitted and how long to wait for them."""

    workspace_yaml: Path | None = None  # in-process GraphQL over this workspace file (default: Lumen's)
    webserver: str | None = None  # or a running dagster-webserver's GraphQL API
    location: str | None = None  # the code location serving this workspace (default: from its config)
    timeout_s: float = 3600.0


@contextmanager
def _run_executor(job, instance, graph, summary: RunSummary, launch: LaunchOptions | None, config, progress):
    """A function running one batch (asset keys, the runs' partition arguments) and collecting its outcome:
    `execute_in_process` one run after another, or (launch) submit them all, then wait for every one."""
    if launch is None:
        def in_process(keys: list, runs: list[dict]) -> None:
            for run_args in runs:
                result = _execute_in_process(job, graph, keys, instance, **run_args)
                _collect(result, summary, graph)

        yield in_process
        return
    from lumen_assets.launch import LaunchError, graphql_endpoint, submit_run, unattended_queue, wait_for_runs

    problem = unattended_queue(instance)
    if problem:
        raise UsageError(f"--launch: {problem}")

    location = launch.location or location_name(config)
    workspace_yaml = None if launch.webserver else (launch.workspace_yaml or summary.ui_workspace or WORKSPACE_YAML)
    try:
        with graphql_endpoint(instance, workspace_yaml, launch.webserver) as graphql:
            def launched(keys: list, runs: list[dict]) -> None:
                run_ids = []
                for run_args in runs:
                    tags = dict(run_args.get("tags", {}))
                    if "partition_key" in run_args:
                        tags["dagster/partition"] = run_args["partition_key"]
                    run_ids.append(submit_run(graphql, location, keys, tags, QUIET_RUN_CONFIG,
                                              checks=run_checks(graph, keys)))
                where = launch.webserver or workspace_yaml
                progress(f"[lumen] submitted {len(run_ids)} run(s) to code location {location!r} via {where}; waiting")
                for run in wait_for_runs(instance, run_ids, launch.timeout_s, progress):
                    _collect_events(run.run_id, run.status.value == "SUCCESS", run.tags, run.events, summary, graph)

            yield launched
    except LaunchError as exc:
        raise UsageError(f"--launch: {exc}") from None


def ui_workspace_file(workspace: Path, config_path: Path | None, home: Path, config: object) -> Path:
    """Lumen's workspace.yaml serves location `lumen`; a workspace named otherwise gets its own file under
    DAGSTER_HOME, so the UI hint and `--launch` find the location its runs are recorded under."""
    if location_name(config) == "lumen":
        return WORKSPACE_YAML
    from lumen_assets.deployment import locations_of, write_workspace_files

    location = locations_of([workspace])[0]
    if config_path is not None:
        location = replace(location, config=config_path.resolve())
    return write_workspace_files([location], home / "ui")


def _execute_in_process(job, graph, keys: list, instance, partition_key: str | None = None,
                        tags: dict | None = None):
    """`job.execute_in_process(asset_selection=keys)` minus the SCHEDULED_ONLY checks.

    Dagster's own call re-selects every check of the selected assets (its subset is rebuilt from the full asset
    graph), so this is that method's body on a subset with an explicit check selection: the plan holds only
    `run_checks`, while the run still records `keys` as its asset selection (alerts and resonance read it)."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.execute_in_process import core_execute_in_process, merge_run_tags

    subset = job.get_subset(asset_selection=set(keys), asset_check_selection=run_checks(graph, keys))
    ephemeral = subset.as_ephemeral_job(resource_defs={}, input_values={})
    run_tags = merge_run_tags(job_def=job, partition_key=partition_key, tags=tags, asset_selection=keys,
                              instance=instance, run_config=QUIET_RUN_CONFIG)
    return core_execute_in_process(run_config=QUIET_RUN_CONFIG, job=InMemoryJob(ephemeral), instance=instance,
                                   output_capturing_enabled=True, raise_on_error=False, run_tags=run_tags,
                                   asset_selection=frozenset(keys))


def run_checks(graph: object, keys: list) -> set:
    """The asset checks a run of `keys` executes: every check of those assets except the ones marked
    SCHEDULED_ONLY (the full log audit runs on its schedule, not on every `lumen run`)."""
    from lumen_assets.keys import SCHEDULED_ONLY

    return {check for check in graph.get_check_keys_for_assets(set(keys))
            if SCHEDULED_ONLY not in (graph.get_check_spec(check).metadata or {})}


def location_name(config: object) -> str:
    """The code location a workspace is served as: `location.name` in its config (default `lumen`)."""
    section = getattr(config, "location", None)
    return getattr(section, "name", None) or "lumen"


def print_summary(summary: RunSummary, out=sys.stdout) -> None:
    write = lambda line="": print(line, file=out)  # noqa: E731
    write()
    write(f"Lumen run on {summary.workspace}")
    total = sum(summary.materialized.values())
    write(f"  assets materialised: {len(summary.materialized)} assets, {total} materialisations, {len(summary.runs)} runs")
    for name, count in sorted(summary.materialized.items()):
        write(f"    {name}" + (f" x{count}" if count > 1 else ""))
    passed = sum(c.passed for c in summary.checks)
    write(f"  checks: {passed} passed, {len(summary.checks) - passed} failed")
    for check in summary.checks:
        if not check.passed:
            where = f" [{check.partition}]" if check.partition else ""
            said = f" - {check.description.strip().splitlines()[0]}" if check.description.strip() else ""
            write(f"    FAILED {check.severity}{' blocking' if check.blocking else ''}: "
                  f"check {check.asset}.{check.name}{where}{said}")
    for note in summary.notes:
        write(f"  note: {note}")
    if summary.failures:
        write(f"  failed ({len(summary.failures)}; tracebacks are in the run log, see the UI below):")
    for failure in summary.failures:
        write(f"    ERROR {failure}")
    write("  outputs:")
    for path in summary.outputs[:40]:
        write(f"    {path}")
    if len(summary.outputs) > 40:
        write(f"    ... and {len(summary.outputs) - 40} more under {summary.workspace}")
    write(f"  DAGSTER_HOME: {summary.dagster_home}")
    write("  open the UI on this history:")
    signer = _demo_passphrase_prefix()
    write(f"    {signer}DAGSTER_HOME={summary.dagster_home} LUMEN_WORKSPACE={summary.workspace} "
          f"dagster dev -w {summary.ui_workspace or WORKSPACE_YAML}")
    if not signer:
        write("    (export LUMEN_SIGNER_PASS, the keystore passphrase, for the trust assets to sign)")
    write("ok" if summary.ok else "FAILED")


def _demo_passphrase_prefix() -> str:
    """The demo's public keystore passphrase, spelt out in the UI command (never a real secret)."""
    from lumen.resources.secrets import secret_value
    from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE

    return f"LUMEN_SIGNER_PASS={DEMO_PASSPHRASE} " if secret_value("LUMEN_SIGNER_PASS") == DEMO_PASSPHRASE else ""


WORKSPACE_YAML = Path(__file__).resolve().parent.parent / "workspace.yaml"


def _valid_day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date must be YYYY-MM-DD, got {text!r}") from None


def _existing_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"workspace {text!r} is not a folder")
    return path


def _execute(args: argparse.Namespace, workspace: Path) -> int:
    from lumen_assets.config import ConfigError

    config_path = Path(args.config) if getattr(args, "config", None) else None
    if config_path and not config_path.exists():
        print(f"lumen: --config {config_path}: file not found", file=sys.stderr)
        return 2
    try:
        from lumen_assets.config import load_config, resolve_config_path

        load_config(resolve_config_path(workspace, config_path))  # fail fast, with file/key/line
        launch = None
        if getattr(args, "launch", False):
            launch = LaunchOptions(workspace_yaml=Path(args.workspace_file) if args.workspace_file else None,
                                   webserver=args.webserver, location=args.location, timeout_s=args.timeout)
        elif any(getattr(args, name, None) for name in ("workspace_file", "webserver", "location")):
            raise UsageError("--workspace-file, --webserver and --location go with --launch")
        summary = run_graph(workspace, config_path, getattr(args, "select", None), getattr(args, "date", None),
                            Path(args.dagster_home) if args.dagster_home else None, launch=launch)
    except (ConfigError, UsageError) as exc:
        print(f"lumen: {exc}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0 if summary.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    return _execute(args, args.workspace)


def cmd_demo(args: argparse.Namespace) -> int:
    from lumen_assets.demo import write_demo_workspace

    workspace = Path(args.workspace).expanduser()
    demo = write_demo_workspace(workspace)
    print(f"[lumen] demo workspace {workspace.resolve()}: {demo.metrics_rows} metric rows at 5 Hz, "
          f"{demo.events} rule events ({demo.start.isoformat()} .. {demo.end.isoformat()})")
    message = prepare_demo_trust(workspace, Path(args.config) if args.config else None)
    if message:
        print(f"[lumen] {message}")
    code = _execute(args, workspace)
    if args.live:
        from lumen_assets.live import run_live

        return run_live(workspace, event_every_s=args.event_every_s)
    return code


def prepare_demo_trust(workspace: Path, config_path: Path | None, outside_dir: Path | None = None) -> str | None:
    """Set up the demo's throwaway trust and hand its passphrase to this process's runs.

    The keystore passphrase is the user's if they exported one, else the demo's public one; it is put in the
    environment variables `attest.passphrase_env` (and, unless set, `attest.root_passphrase_env`) name, where
    the `signer` resource's `dg.EnvVar` (lumen.resources.secrets) picks it up like any other secret."""
    from lumen.resources.secrets import secret_value
    from lumen_assets.attest.demo_trust import DEMO_PASSPHRASE, set_up_demo_trust
    from lumen_assets.config import ConfigError, load_config, resolve_config_path

    try:
        config = load_config(resolve_config_path(workspace, config_path))
    except (ConfigError, OSError):
        return None  # `_execute` reports a broken or missing config next, with file, key and line
    settings = config.attest
    passphrase = secret_value(settings.passphrase_env) or DEMO_PASSPHRASE
    os.environ[settings.passphrase_env] = passphrase
    os.environ.setdefault(settings.root_passphrase_env, passphrase)
    return set_up_demo_trust(workspace, config, passphrase, outside_dir)


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="materialise the graph against a seed-layout workspace")
    run.add_argument("--workspace", required=True, type=_existing_dir, help="the workspace folder")
    run.add_argument("--config", help="config file (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")
    run.add_argument("--select", help="a Dagster asset selection, e.g. 'rule_effects+' or 'group:ingest'")
    run.add_argument("--date", type=_valid_day, help="materialise daily partitions for this day only")
    run.add_argument("--dagster-home", help="DAGSTER_HOME to record runs in (default WORKSPACE/.dagster)")
    run.add_argument("--launch", action="store_true",
                     help="submit the runs through the instance's run coordinator and launcher (run queue, "
                     "dagster-daemon) instead of executing them here; wait for them and report")
    run.add_argument("--workspace-file", help="with --launch: the Dagster workspace file whose code location "
                     "serves this workspace (default: Lumen's workspace.yaml)")
    run.add_argument("--webserver", help="with --launch: submit through this dagster-webserver's GraphQL API "
                     "instead, e.g. http://127.0.0.1:3000")
    run.add_argument("--location", help="with --launch: the code location's name (default: location.name "
                     "in the workspace's config, else lumen)")
    run.add_argument("--timeout", type=float, default=3600.0,
                     help="with --launch: seconds to wait for the runs (default 3600)")
    run.set_defaults(func=cmd_run)

    demo = subparsers.add_parser("demo", help="write the demo workspace and materialise everything on it")
    demo.add_argument("--workspace", default="lumen-demo", help="where to write it (default ./lumen-demo)")
    demo.add_argument("--config", help="config file (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")
    demo.add_argument("--date", type=_valid_day, help="materialise daily partitions for this day only")
    demo.add_argument("--dagster-home", help="DAGSTER_HOME (default WORKSPACE/.dagster)")
    demo.add_argument("--live", action="store_true",
                      help="then keep appending 5 Hz metrics and a rule event every few minutes (Ctrl+C stops)")
    demo.add_argument("--event-every-s", type=float, default=180.0, help="with --live: seconds between rule events")
    demo.set_defaults(func=cmd_demo)
