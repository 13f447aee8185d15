"""Lumen's archive area: pure logic downstairs, Dagster wiring in defs.py."""
