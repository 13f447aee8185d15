"""Dagster definitions contributed by the tuning area."""

assets: list = []
asset_checks: list = []
sensors: list = []
schedules: list = []
jobs: list = []
resources: dict = {}
