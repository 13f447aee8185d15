"""The demo workspace with effects precomputed (shared with the other analysis tests)."""

from tests.support.demo_workspace import demo_root  # noqa: F401 - fixture
