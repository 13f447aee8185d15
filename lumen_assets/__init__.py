"""Lumen: a control loop's raw record turned into evidence, as one Dagster asset graph."""
