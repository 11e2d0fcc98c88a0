"""Helpers for the Vault tests: exact custom-error matching and plain return values."""

from tests.support import reverts  # noqa: F401 - re-exported for the vault tests


def plain(value):
    """brownie return values (ReturnValue, Wei, EthAddress) as plain tuples, ints, str and bool."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return str(value)
