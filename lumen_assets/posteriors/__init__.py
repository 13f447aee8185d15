"""Lumen's posteriors area: pure logic downstairs, Dagster wiring in defs.py."""
