"""Lumen's reports area: pure logic downstairs, Dagster wiring in defs.py."""
