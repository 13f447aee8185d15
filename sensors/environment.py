"""The environment sensor: new complete rows of logs/environment.csv (the rhythm sensors, seed segC §C1) start
one run of `environment` and `rhythm_sync`.

It tails the file the way the rule-event sensor tails the rules history (durable byte-offset cursor with file
identity; a half-written last line waits, truncation or rotation reads again from the start), at most once per
`rhythm.sensor_interval_s`, so a 1 Hz file costs one small run per interval, not one per row.
"""

import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.ingest.tail import TailCursor, read_new_lines
from lumen_assets.keys import asset_key
from lumen_assets.location_config import location_config

ENVIRONMENT_SENSOR_TARGET = ("environment", "rhythm_sync")


@dg.sensor(
    name="environment_sensor",
    minimum_interval_seconds=location_config().rhythm.sensor_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=dg.AssetSelection.assets(*map(asset_key, ENVIRONMENT_SENSOR_TARGET)),
    description="Tails logs/environment.csv; new rows start a run of environment + rhythm_sync.",
)
def environment_sensor(context: dg.SensorEvaluationContext, workspace: LumenWorkspace) -> dg.SensorResult:
    config = workspace.config
    source = workspace.layout.environment_csv
    cursor = TailCursor.from_json(context.cursor)
    # Only the position matters here; a long backlog is crossed in bounded steps over a few ticks.
    read = read_new_lines(source, cursor, max_bytes=config.sensor.max_bytes_per_tick, max_lines=1_000_000)
    if read.reset_reason:
        context.log.info(f"{workspace.rel(source)} was {read.reset_reason}; reading it again from the start")
    if not read.lines:
        why = (f"{config.paths.environment_csv} does not exist (no rhythm sensors on this loop)" if not source.exists()
               else f"no new rows in {config.paths.environment_csv} since line {read.cursor.line_no}")
        return dg.SensorResult(run_requests=[], cursor=read.cursor.to_json(), skip_reason=why)
    run_key = f"environment:{read.cursor.inode}:{read.cursor.offset}"
    context.log.info(f"{workspace.rel(source)}: {len(read.lines)} new lines up to line {read.cursor.line_no}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"lumen/source": "environment"})],
        cursor=read.cursor.to_json(),
    )
