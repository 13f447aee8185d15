"""The `evidence` and `reports` config sections: config/lumen.yaml spells out the defaults; bad values fail."""

from __future__ import annotations

import pytest

from lumen_assets.config import ConfigError, LumenConfig, load_config, parse_config


def test_project_yaml_spells_out_the_defaults():
    config = load_config()
    assert config.evidence == LumenConfig().evidence
    assert config.reports == LumenConfig().reports


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("evidence: {language: fr}", "evidence.language"),
        ("evidence: {risk: {crit_phase: 0.01}}", "crit thresholds"),
        ("evidence: {confidence: [0.4, 0.65, 0.8, 1.5]}", "confidence"),
        ("reports: {distribution: {recipients: [{channel: webhook, name: w}]}}", "exactly one of url and url_env"),
        ("reports: {distribution: {recipients: [{channel: smtp, name: a, address: nope}]}}", "address"),
        ("reports: {distribution: {recipients: [{channel: pigeon, name: a}]}}", "recipients.0"),
        ("reports: {distribution: {recipients: [{channel: outbox, name: a}, {channel: outbox, name: a}]}}", "unique"),
        ("reports: {distribution: {smtp: {password: hunter2}}}", "unknown key 'reports.distribution.smtp.password'"),
    ],
)
def test_bad_values_fail_with_the_key_path(text, message):
    with pytest.raises(ConfigError, match="lumen.yaml") as error:
        parse_config(text, "lumen.yaml")
    assert message in str(error.value)
