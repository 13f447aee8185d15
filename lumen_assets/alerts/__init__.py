"""Lumen's alerts area: pure logic downstairs, Dagster wiring in defs.py."""
