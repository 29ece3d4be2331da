"""The unit tier is fast and pure. A test here that asks for a model, the served app or a job waiter is not:
it is marked `slow` automatically, so `make test-fast` (-m "not slow") skips it and `make test` still runs it."""

from pathlib import Path

import pytest

HEAVY_FIXTURES = {"tiny_path", "tiny_backend", "app_url", "client", "wait_run", "tiny_math_path"}
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.fspath)).parents and HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
