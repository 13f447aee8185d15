"""Lumen's evidence area: pure logic downstairs, Dagster wiring in defs.py."""
