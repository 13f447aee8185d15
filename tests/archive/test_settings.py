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


SECRET = "ya29.a0AfH6-not-a-real-token"


@pytest.mark.parametrize(
    "store, says",
    [
        ("    kind: rclone\n    rclone:\n      remote: gdrive\n      token: " + SECRET + "\n",
         "'token' is a credential, and credentials never go in lumen.yaml (archive.store.rclone): put it in rclone's "
         "own config (`rclone config`; archive.store.rclone.config_file or $RCLONE_CONFIG say which file) or in the "
         "environment as RCLONE_CONFIG_GDRIVE_TOKEN"),
        ("    kind: rclone\n    rclone: {remote: dropbox, client_secret: " + SECRET + "}\n",
         "RCLONE_CONFIG_DROPBOX_CLIENT_SECRET"),
        ("    kind: rclone\n    rclone: {remote: 'gdrive,token=" + SECRET + ":'}\n", "an rclone connection string"),
        ("    kind: rclone\n    rclone: {remote: ':drive,token=" + SECRET + ":'}\n", "an rclone connection string"),
        ("    kind: rclone\n    rclone: {remote: box, flags: ['--fast-list', '--dropbox-token=" + SECRET + "']}\n",
         "flags[1] (--dropbox-token) looks like a credential"),
        ("    kind: rclone\n    rclone: {remote: box, flags: ['--header', 'Authorization: Bearer " + SECRET + "']}\n",
         "flags[1] (a flag's value) looks like a credential"),
        ("    kind: s3\n    s3: {bucket: b, aws_secret_access_key: " + SECRET + "}\n",
         "'aws_secret_access_key' is a credential, and credentials never go in lumen.yaml (archive.store.s3): "
         "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"),
    ],
)
def test_a_credential_in_lumen_yaml_is_refused_saying_where_it_goes_and_never_echoed(store: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("archive:\n  store:\n" + store, "lumen.yaml")
    message = str(caught.value)
    assert says in message and "lumen.yaml:" in message
    assert SECRET not in message  # the secret itself never reaches a log


def test_ordinary_rclone_settings_are_not_mistaken_for_credentials() -> None:
    config = parse_config(
        "archive:\n  store:\n    kind: rclone\n    rclone: {remote: 'my drive', flags: ['--drive-chunk-size=64M', "
        "'--transfers=2'], config_file: /etc/lumen/rclone.conf}\n", "lumen.yaml")
    assert config.archive.store.rclone.remote == "my drive"
