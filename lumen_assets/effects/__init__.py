"""Lumen's effects area: pure logic downstairs, Dagster wiring in defs.py."""
