"""The `archive` config section: defaults spelt out in config/lumen.yaml, bad values named with their key."""

from __future__ import annotations

import pytest

from lumen_assets.archive.settings import ArchiveSettings
from lumen_assets.config import ConfigError, load_config, parse_config


def test_project_yaml_spells_out_the_defaults() -> None:
    assert load_config().archive == ArchiveSettings()


@pytest.mark.parametrize(
    "yaml_text, key",
    [
        ("archive:\n  compression: zip\n", "archive.compression"),
        ("archive:\n  sources: ['../outside/*']\n", "archive.sources"),
        ("archive:\n  encryption: {segment_size: 10}\n", "archive.encryption.segment_size"),
        ("archive:\n  store: {s3: {sse: 'aws:kms'}}\n", "archive.store.s3"),
        ("archive:\n  retention: {keep_days: 0}\n", "archive.retention.keep_days"),
        ("archive:\n  encryption: {key: abc}\n", "archive.encryption.key"),  # secrets never live in config
    ],
)
def test_bad_archive_config_names_the_key(yaml_text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(yaml_text, "lumen.yaml")
