"""Root conftest: only what must happen before brownie connects. Fixtures live in tests/fixtures/."""

from keel import brownie_fix
from keel.chain import apply_port_override


def pytest_configure(config):
    apply_port_override()
    brownie_fix.install()  # brownie's false "Tx dropped without known replacement"
