"""Against a real S3 server (SeaweedFS on 127.0.0.1): upload, verify remote, corrupt the object, see it fail."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lumen.resources.archive_store import archive_store_resource
from lumen.resources.workspace import LumenWorkspace
from lumen_assets.archive import defs
from tests.archive.conftest import DAY, SeaweedS3, initialised_store, table_text
from tests.archive.test_cli import lumen

pytestmark = pytest.mark.integration
PREFIX = "SystemC/snapshots"


@pytest.fixture
def s3_workspace(workspace: Path, seaweed_s3: SeaweedS3, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    prefix = f"{PREFIX}/{request.node.name}"
    (workspace / "lumen.yaml").write_text(
        "archive:\n"
        "  encryption: {enable: true, segment_size: 65536, scrypt_log2_n: 12}\n"
        "  store:\n"
        "    kind: s3\n"
        f"    s3: {{endpoint_url: '{seaweed_s3.endpoint_url}', region: us-east-1, bucket: {seaweed_s3.bucket}, prefix: '{prefix}'}}\n"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed_s3.secret_key)
    monkeypatch.setenv("LUMEN_ARCHIVE_KEY", "a passphrase, not a raw key")
    return workspace


def materialise(root: Path, day: str = DAY) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [defs.archive_bundle],
        partition_key=day,
        resources={"workspace": (ws := LumenWorkspace(root=str(root))), "archive_store": archive_store_resource(ws)},
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_upload_verify_corrupt_and_detect(s3_workspace: Path, seaweed_s3: SeaweedS3) -> None:
    result = materialise(s3_workspace)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[defs.REMOTE_CHECK].passed and checks[defs.INTEGRITY_CHECK].passed
    (materialisation,) = result.asset_materializations_for_node("archive_bundle")
    key = materialisation.metadata["remote_key"].value
    assert key.endswith(f"/{DAY}/bundle.tar.lumen.enc")

    client = seaweed_s3.client()
    head = client.head_object(Bucket=seaweed_s3.bucket, Key=key)
    assert head["Metadata"]["lumen-stored-sha256"] == materialisation.metadata["stored_sha256"].value
    assert "lumen-plain-sha256" not in head["Metadata"] and "bundle_sha256" not in materialisation.metadata  # sealed only
    assert head["Metadata"]["lumen-format"] == "LUMENENC-v2"
    assert lumen("archive", "verify", DAY, "--workspace", str(s3_workspace), "--remote") == 0

    # corrupt the stored bytes but keep the metadata: the seed's metadata-only check would still say OK
    body = bytearray(client.get_object(Bucket=seaweed_s3.bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    client.put_object(Bucket=seaweed_s3.bucket, Key=key, Body=bytes(body), Metadata=head["Metadata"])
    check = defs.remote_result(LumenWorkspace(root=str(s3_workspace)), initialised_store(s3_workspace), DAY)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "failed authentication" in table_text(check.metadata["failures"])
    assert lumen("archive", "verify", DAY, "--workspace", str(s3_workspace), "--remote") == 1
    assert lumen("archive", "verify", DAY, "--workspace", str(s3_workspace)) == 0  # the local copy is intact

    client.delete_object(Bucket=seaweed_s3.bucket, Key=key)
    missing = defs.remote_result(LumenWorkspace(root=str(s3_workspace)), initialised_store(s3_workspace), DAY)
    assert not missing.passed and "missing" in table_text(missing.metadata["failures"])


def test_one_object_per_day_and_remote_prune(s3_workspace: Path, seaweed_s3: SeaweedS3, request: pytest.FixtureRequest) -> None:
    for day in ("2025-01-01", "2025-01-02", "2025-03-14"):  # daily partitions start on 2025-01-01
        materialise(s3_workspace, day)
    prefix = f"{PREFIX}/{request.node.name}/"
    client = seaweed_s3.client()
    listed = lambda: sorted(o["Key"] for o in client.list_objects_v2(Bucket=seaweed_s3.bucket, Prefix=prefix).get("Contents", []))  # noqa: E731
    assert [k.split("/")[-2] for k in listed()] == ["2025-01-01", "2025-01-02", "2025-03-14"]
    assert lumen("archive", "prune", "--workspace", str(s3_workspace), "--today", "2025-06-30", "--apply") == 0
    assert [k.split("/")[-2] for k in listed()] == ["2025-01-02", "2025-03-14"]  # Jan 2: newest of its month


def test_wrong_credentials_are_refused(s3_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    result = dg.materialize(
        [defs.archive_bundle],
        partition_key=DAY,
        resources={"workspace": (ws := LumenWorkspace(root=str(s3_workspace))), "archive_store": archive_store_resource(ws)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "archive upload refused" in error and "SignatureDoesNotMatch" in error
    assert "not-the-secret" not in error and "a passphrase" not in error  # no secret leaks into the event log


def test_the_store_rejects_an_upload_whose_bytes_are_not_the_frozen_ones(s3_workspace: Path, seaweed_s3: SeaweedS3) -> None:
    """Issue 16 §3: uploads carry S3's SHA-256 checksum (the freeze-time digest), so SeaweedFS refuses a
    bundle corrupted on disk after the freeze (BadDigest) and stores nothing."""
    from botocore.exceptions import ClientError

    from lumen_assets.archive.remote import object_key, object_metadata
    from tests.archive.test_freeze_verify import freeze

    result = freeze(s3_workspace, "a passphrase, not a raw key")
    data = bytearray(result.stored_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    result.stored_path.write_bytes(bytes(data))
    store = initialised_store(s3_workspace).store()
    key = object_key("rejected", DAY, result.stored_path.name)
    with pytest.raises(ClientError, match="BadDigest"):
        store.put(key, result.stored_path, object_metadata(result.manifest))
    assert store.head(key) is None
    data[len(data) // 2] ^= 0x01  # the intact bytes go through, with the checksum S3 keeps
    result.stored_path.write_bytes(bytes(data))
    store.put(key, result.stored_path, object_metadata(result.manifest))
    head = seaweed_s3.client().head_object(Bucket=seaweed_s3.bucket, Key=key, ChecksumMode="ENABLED")
    import base64

    assert base64.b64decode(head["ChecksumSHA256"]).hex() == result.manifest["encrypted"]["sha256"]


def test_restore_from_the_remote_store_when_the_day_folder_is_gone(s3_workspace: Path, seaweed_s3: SeaweedS3,
                                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import stat

    assert materialise(s3_workspace).success
    shutil.rmtree(s3_workspace / "archive" / DAY)  # the case an archive exists for
    dest = tmp_path / "restored"
    assert lumen("archive", "restore", DAY, "--workspace", str(s3_workspace), "--to", str(dest)) == 0
    out = capsys.readouterr().out
    assert "checked against archive/index.jsonl" in out and "restored 7 files from s3://" in out
    for rel in ("logs/metrics.csv", "controls/rules_history.jsonl", "gateway_activation.yaml"):
        assert (dest / rel).read_bytes() == (s3_workspace / rel).read_bytes()
        assert stat.S_IMODE((dest / rel).stat().st_mode) == 0o600
    assert not list((s3_workspace / "archive").glob(".restore-*"))  # no decrypted plaintext left behind

    (s3_workspace / "archive" / "index.jsonl").unlink()  # even the index gone: the object's metadata anchors it
    assert lumen("archive", "restore", DAY, "--workspace", str(s3_workspace), "--to", str(tmp_path / "again")) == 0
    assert "checked against object metadata" in capsys.readouterr().out
    assert (tmp_path / "again" / "logs/metrics.csv").read_bytes() == (s3_workspace / "logs/metrics.csv").read_bytes()


def test_remote_restore_refuses_a_corrupted_object_and_writes_nothing(s3_workspace: Path, seaweed_s3: SeaweedS3,
                                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    result = materialise(s3_workspace)
    (materialisation,) = result.asset_materializations_for_node("archive_bundle")
    key = materialisation.metadata["remote_key"].value
    client = seaweed_s3.client()
    head = client.head_object(Bucket=seaweed_s3.bucket, Key=key)
    body = bytearray(client.get_object(Bucket=seaweed_s3.bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    client.put_object(Bucket=seaweed_s3.bucket, Key=key, Body=bytes(body), Metadata=head["Metadata"])
    shutil.rmtree(s3_workspace / "archive" / DAY)
    dest = tmp_path / "restored"
    assert lumen("archive", "restore", DAY, "--workspace", str(s3_workspace), "--to", str(dest)) == 1
    assert "differs from" in capsys.readouterr().out
    assert not dest.exists() or not any(dest.iterdir())

    import hashlib

    # no local anchor, and metadata re-sealed by whoever altered the object: AES-GCM is what catches it
    (s3_workspace / "archive" / "index.jsonl").unlink()
    client.put_object(Bucket=seaweed_s3.bucket, Key=key, Body=bytes(body),
                      Metadata={**head["Metadata"], "lumen-stored-sha256": hashlib.sha256(body).hexdigest()})
    assert lumen("archive", "restore", DAY, "--workspace", str(s3_workspace), "--to", str(dest)) == 1
    assert "failed authentication" in capsys.readouterr().out
    assert not dest.exists() or not any(dest.iterdir())
