"""Root conftest: only what must happen before brownie connects. Fixtures live in tests/fixtures/."""

from keel.chain import apply_port_override


def pytest_configure(config):
    apply_port_override()
