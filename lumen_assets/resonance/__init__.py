"""Lumen's resonance area: pure logic downstairs, Dagster wiring in defs.py."""
