"""Root conftest: only what must happen before brownie connects. Fixtures live in tests/fixtures/."""

from keel import brownie_fix
from keel.chain import configure_embedded_chain


def pytest_configure(config):
    configure_embedded_chain()
    brownie_fix.install()  # brownie's false "Tx dropped without known replacement"
