"""Lumen's tlog area: pure logic downstairs, Dagster wiring in defs.py."""
