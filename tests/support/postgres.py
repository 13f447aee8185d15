"""A real PostgreSQL server on 127.0.0.1 for integration tests: Debian's postgresql (scripts/system-deps.sh
installs it), a fresh cluster initdb'd into a temp folder, a free port, stopped and removed afterwards.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg2

        with contextlib.closing(psycopg2.connect(self.url("postgres"))) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        return name


def postgres_bin() -> Path | None:
    """The server binaries: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def serve_postgres() -> Iterator[PostgresServer]:
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries not found: run scripts/system-deps.sh")
    root = Path(tempfile.mkdtemp(prefix="lumen-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    password = "lumen-test"
    (root / "pw").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(root / "pw", "postgres")
    server = PostgresServer("127.0.0.1", free_port(), "lumen", password)
    subprocess.run(
        _as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", server.user, "--pwfile", str(root / "pw"),
                         "-A", "scram-sha-256", "--encoding", "UTF8", "--no-locale"]),
        check=True, capture_output=True, timeout=120,
    )
    options = f"-h 127.0.0.1 -p {server.port} -k {sockets} -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
                         "-w", "-t", "60", "start"]),
        check=True, capture_output=True, timeout=90,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                import psycopg2

                psycopg2.connect(server.url("postgres")).close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
