"""The unit tier is fast and pure: no model, no served app, no job, no subprocess (those tests live in
tests/integration). A unit test that asks for a fixture which builds or loads one is a collection error here,
so the tier cannot drift back."""

from pathlib import Path

import pytest

HEAVY_FIXTURES = {"tiny_path", "tiny_backend", "app_url", "client", "wait_run", "python"}
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    impure = [
        f"{item.nodeid} uses {', '.join(sorted(HEAVY_FIXTURES & set(item.fixturenames)))}"
        for item in items
        if _HERE in Path(str(item.fspath)).parents and HEAVY_FIXTURES & set(getattr(item, "fixturenames", ()))
    ]
    if impure:
        raise pytest.UsageError("Unit tests must be pure; move these to tests/integration:\n" + "\n".join(impure))
