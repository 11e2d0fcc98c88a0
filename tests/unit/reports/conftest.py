"""The reports need no chain: replace the root's chain-isolation fixture with a no-op."""

import pytest


@pytest.fixture(autouse=True)
def isolation():
    """No chain snapshot/revert: these tests are pure numpy."""
    yield
