"""Lumen's gateway area: pure logic downstairs, Dagster wiring in defs.py."""
