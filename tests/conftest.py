"""Shared fixtures: real local servers live in tests/support/servers.py."""

from tests.support.servers import http_receiver, smtp_server  # noqa: F401 - fixtures
