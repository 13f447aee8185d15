"""The ordered failure taxonomy (segC C10), with the seed's mis-classifications fixed."""

import pytest

from lumen_assets.resonance.taxonomy import FAILURE_CLASSES, classify_failure


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("requests.exceptions.ConnectionError: Connection reset by peer", "network"),
        ("ECONNREFUSED 127.0.0.1:5432", "network"),
        ("SSL: certificate has expired", "network"),  # seed: token_expired
        ("HTTP 401 Unauthorized", "token_expired"),
        ("the access token has expired", "token_expired"),
        ("invalid credentials for bucket", "token_expired"),
        ("502 Bad Gateway from upstream", "external_api"),
        ("status=503", "external_api"),
        ("ModuleNotFoundError: No module named 'pymc'", "dependency"),
        ("TypeError: unsupported operand", "build"),
        ("OSError: [Errno 28] No space left on device", "environment"),
        ("PermissionError: Permission denied: '/data'", "environment"),
        ("ValueError: something odd", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_classify(text, label):
    assert classify_failure(text) == label
    assert label in FAILURE_CLASSES


def test_401_inside_a_number_is_not_an_auth_failure():
    # seed: any "401"/"403" substring (ports, timestamps) read as an expired token
    assert classify_failure("ValueError: row 14012 at 2025-10-23T14:03:00") == "unknown"
    assert classify_failure("listening on port 4031 failed: ValueError") == "unknown"


def test_order_decides_between_classes():
    assert classify_failure("Connection timed out after HTTP 503 Service Unavailable") == "network"


def test_case_insensitive_without_lowercasing_the_pattern():
    assert classify_failure("NO MODULE NAMED foo") == "dependency"
