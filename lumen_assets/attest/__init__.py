"""Lumen's attest area: pure logic downstairs, Dagster wiring in defs.py."""
