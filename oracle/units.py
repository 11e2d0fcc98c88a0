"""Float <-> wad conversions at the relayer's boundary (sources give floats, the chain wants wad)."""

from __future__ import annotations

import math
from decimal import Decimal

WAD = 10**18


def to_wad(x: float) -> int:
    """A finite float (USD or fraction) as a wad integer, rounded to nearest.

    Goes through the float's shortest decimal repr, so a CSV price like 434.334015 becomes exactly
    434334015000000000000 rather than the binary float's expansion.
    """
    if not math.isfinite(x):
        raise ValueError(f"not finite: {x}")
    return int((Decimal(repr(float(x))) * WAD).to_integral_value())


def from_wad(v: int) -> float:
    return v / WAD
