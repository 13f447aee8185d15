"""The archive store binding follows `archive.store.kind`: S3 opens the bucket through dagster-aws's S3Resource,
built from the resource's EnvVar credentials, and no code location imports dagster_aws (and so boto3) at load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lumen.resources.archive_store import ArchiveStoreResource, archive_store_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive.settings import StoreSettings

ROOT = Path(__file__).resolve().parents[2]
S3_CONFIG = ("archive:\n  store:\n    kind: s3\n"
             "    s3: {endpoint_url: 'http://127.0.0.1:9', region: us-east-1, bucket: b, prefix: p}\n")


def test_an_s3_store_opens_dagster_aws_s3_resource_with_env_var_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg
    from dagster_aws.s3 import S3Resource

    from lumen.resources.archive_s3 import S3ArchiveStoreResource

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id-from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
    store = StoreSettings.model_validate({"kind": "s3", "s3": {"endpoint_url": "http://127.0.0.1:9", "region": "us-east-1"}})
    bound = archive_store_resource(LumenWorkspace(root=str(tmp_path)), store=store)
    assert isinstance(bound, S3ArchiveStoreResource) and bound.endpoint_url == "http://127.0.0.1:9"
    assert isinstance(bound.aws_access_key_id, dg.EnvVar) and bound.aws_access_key_id.env_var_name == "AWS_ACCESS_KEY_ID"
    with bound.process_config_and_initialize_cm() as ready:
        s3 = ready.s3_resource()  # type: ignore[attr-defined]
        assert isinstance(s3, S3Resource)
        assert (s3.endpoint_url, s3.region_name, s3.aws_access_key_id) == ("http://127.0.0.1:9", "us-east-1", "id-from-env")
        assert s3.aws_secret_access_key == "secret-from-env"


def test_a_local_store_is_the_plain_resource(tmp_path: Path) -> None:
    bound = archive_store_resource(LumenWorkspace(root=str(tmp_path)))
    assert type(bound) is ArchiveStoreResource
    with bound.process_config_and_initialize_cm() as ready:
        assert ready.store() is not None and "local folder" in ready.store().description  # type: ignore[union-attr]


def test_an_s3_code_location_binds_the_s3_store_without_importing_boto3_at_load(tmp_path: Path) -> None:
    (tmp_path / "lumen.yaml").write_text(S3_CONFIG, encoding="utf-8")
    env = {**os.environ, "LUMEN_WORKSPACE": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    env.pop("LUMEN_CONFIG", None)
    statement = ("import sys, lumen_assets.definitions as d; r = d.defs.resources['archive_store']; "
                 "print(type(r).__name__, r.endpoint_url, 'boto3' in sys.modules, 'dagster_aws' in sys.modules)")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", statement], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "S3ArchiveStoreResource http://127.0.0.1:9 False False"
