"""Dagster definitions contributed by the alerts area: the two alert sensors and the channel secrets."""

from lumen.resources.notifiers_alerts import alert_channels_from_env
from lumen_assets.alerts.sensors import check_alert_sensor, run_failure_alert_sensor

assets: list = []
asset_checks: list = []
sensors: list = [check_alert_sensor, run_failure_alert_sensor]
schedules: list = []
jobs: list = []
resources: dict = {"alert_channels": alert_channels_from_env()}
