"""Test root: loads every fixture module in tests/fixtures/ and isolates each test on the chain.

Fixture modules are discovered, not listed, so that adding one never edits this file.
"""

from pathlib import Path

import pytest

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if p.stem != "__init__"
)


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the module's deployment state (chain snapshot / revert)."""
