"""Lumen's ingest area: pure logic downstairs, Dagster wiring in defs.py."""
