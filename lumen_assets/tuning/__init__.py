"""Lumen's tuning area: pure logic downstairs, Dagster wiring in defs.py."""
