"""A plain `postgresql://` URL means psycopg2 in Lumen's processes, as it did before SQLAlchemy 2.1.

dagster-postgres installs psycopg2 and is tested with it; SQLAlchemy 2.1 maps a driverless `postgresql://`
URL to psycopg 3, which is then missing (or, when installed, fails on dagster-postgres's `NOTIFY` with a
bound parameter). Registering psycopg2 as the `postgresql` dialect lets a `dagster.yaml` written as Dagster's
docs write it (`postgres_url: postgresql://...`, or `postgres_db` without `scheme`) work for `lumen run` and
any process that imports Lumen before it opens the instance. Processes that never import Lumen
(`dagster-webserver`, `dagster-daemon` started on their own) read the driver from dagster.yaml:
`lumen deploy instance` writes one with `scheme: postgresql+psycopg2` (README "Scale out").
"""

from __future__ import annotations


def prefer_psycopg2() -> bool:
    """Make `postgresql://` use psycopg2 when it is installed; True if registered."""
    try:
        import psycopg2  # noqa: F401
        from sqlalchemy.dialects import registry
    except ImportError:
        return False
    registry.register("postgresql", "sqlalchemy.dialects.postgresql.psycopg2", "PGDialect_psycopg2")
    return True
