"""Lumen: a control loop's raw record turned into evidence, as one Dagster asset graph."""

from lumen_assets.postgres import prefer_psycopg2

prefer_psycopg2()  # before any instance is opened: a plain postgresql:// URL means psycopg2 (lumen_assets/postgres.py)
