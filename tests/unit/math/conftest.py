"""Fixtures for the math library tests: one harness per module (the math is pure)."""

import pytest


@pytest.fixture(scope="module")
def bs(BlackScholesHarness, deployer):
    """The BlackScholesHarness exposing WadMath, NormalCDF and BlackScholes."""
    return BlackScholesHarness.deploy({"from": deployer})
