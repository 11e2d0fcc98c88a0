"""The tools' pure-Python logic needs no chain: replace the root's chain-isolation fixture."""

import pytest


@pytest.fixture(autouse=True)
def isolation():
    """No chain snapshot/revert: these tests only read dicts and YAML."""
    yield
