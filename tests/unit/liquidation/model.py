"""Python model of the liquidator's arithmetic (SPEC §7), integer wad mirroring the contract's
rounding: payments to the liquidated account and the bonus round down, the penalty rounds up,
f_max rounds down, moved amounts truncate towards zero."""

from __future__ import annotations

from dataclasses import dataclass

WAD = 10**18


@dataclass
class Params:
    keeper_fee: int = 5 * WAD
    start: int = 5 * WAD // 100
    mid: int = 30 * WAD // 100
    fast: int = 15 * 60
    slow: int = 12 * 3600
    penalty: int = 2 * WAD // 100
    buffer: int = 15 * WAD // 100
    bonus_rate: int = 5 * WAD // 100
    bonus_duration: int = 3600


P = Params()


def discount(elapsed: int, p: Params = P) -> int:
    if elapsed < p.fast:
        return p.start + (p.mid - p.start) * elapsed // p.fast
    elapsed -= p.fast
    if elapsed < p.slow:
        return p.mid + (WAD - p.mid) * elapsed // p.slow
    return WAD


def bid_discount(elapsed: int, b: dict, p: Params = P) -> int:
    """The discount a solvent bid gets (INV-8): d(t) while AE < MM, the start discount once
    AE >= MM (never more than a freshly started auction would give)."""
    if b["AE"] >= b["MM"]:
        return p.start
    return discount(elapsed, p)


def bonus(elapsed: int, mm: int, p: Params = P) -> int:
    return mm * p.bonus_rate * min(elapsed, p.bonus_duration) // (WAD * p.bonus_duration)


def keeper_fee(equity: int, p: Params = P) -> int:
    """SPEC §7 [v2]: min(keeperFee, max(E, 0)), exact."""
    return min(p.keeper_fee, max(equity, 0))


def per_unit(equity: int, d: int) -> int:
    return equity * (WAD - d) // WAD


def max_fraction(b: dict, d: int, p: Params = P) -> int:
    """f_max from a breakdown {E, AE, IM, MM} (E > 0)."""
    if b["E"] < b["MM"] // 2:
        return WAD
    target = b["IM"] * (WAD + p.buffer) // WAD
    if b["AE"] >= target:
        return 0
    gap = target - b["AE"]
    return gap * WAD // (gap + per_unit(b["E"], d))


def payment(fraction: int, equity: int, d: int) -> int:
    return fraction * equity * (WAD - d) // WAD**2


def penalty(fraction: int, equity: int, p: Params = P) -> int:
    return -(-fraction * equity * p.penalty // WAD**2)


def part(x: int, fraction: int) -> int:
    """Fraction of a signed amount, truncated towards zero (exact at f = 1)."""
    if fraction == WAD:
        return x
    q = abs(x) * fraction // WAD
    return q if x >= 0 else -q
