"""Helpers for the Vault tests: exact custom-error matching and plain return values.

`tests.support.reverts(name)` expects an argument-less error to render as `Name`, but brownie 1.22
renders it as `Name: ` (trailing separator). This wrapper accepts both for argument-less errors and
delegates to `tests.support.reverts` otherwise, so every assertion stays exact.
"""

import re

import brownie

from tests.support import reverts as _reverts


def reverts(name: str, *args):
    """The call must revert with exactly custom error `name(args...)`."""
    if args:
        return _reverts(name, *args)
    return brownie.reverts(revert_pattern=rf"^{re.escape(name)}(: )?$")


def plain(value):
    """brownie return values (ReturnValue, Wei, EthAddress) as plain tuples, ints, str and bool."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return str(value)
