"""Small helpers shared by tests: exact custom-error matching and fixed-point conversions."""

from __future__ import annotations

from decimal import Decimal

import brownie

WAD = 10**18


def error_msg(name: str, *args) -> str:
    """The revert string brownie shows for custom error `name(args...)`.

    brownie renders a decoded custom error as `Name: a, b, c` with addresses in lower case and
    integers in decimal; an error without arguments renders as `Name: `.
    """
    if not args:
        return f"{name}: "  # brownie 1.22 renders an argument-less custom error as `Name: `
    return f"{name}: " + ", ".join(_fmt(a) for a in args)


def _fmt(a) -> str:
    if isinstance(a, bool):
        return str(a)
    if isinstance(a, int):
        return str(a)
    if isinstance(a, (bytes, bytearray)):
        return str(bytes(a))  # brownie renders bytesN arguments as Python bytes literals
    s = str(a)
    return s.lower() if s.startswith("0x") else s


def reverts(name: str, *args):
    """Context manager: the call must revert with exactly custom error `name(args...)`."""
    return brownie.reverts(error_msg(name, *args))


def wad(x) -> int:
    """Decimal or string number -> wad integer (exact for decimal literals)."""
    return int(Decimal(str(x)) * WAD)
