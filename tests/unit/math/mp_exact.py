"""Exact (mpmath, 50 digits) reference values for the math tests; inputs are chain integers."""

from __future__ import annotations

import os

import mpmath as mp

mp.mp.dps = 50

WAD = 10**18
YEAR = 365 * 86400
DEEP = os.environ.get("KEEL_PROFILE", "ci") == "local"


def ncdf(x_wad: int) -> mp.mpf:
    """N(x) for x in wad."""
    return mp.ncdf(mp.mpf(x_wad) / WAD)


def bs_exact(spot: int, strike: int, sigma: int, tau_seconds: int) -> tuple[mp.mpf, mp.mpf]:
    """Black-Scholes (r = 0) call and put in wad for chain inputs (wad, wad, wad, seconds)."""
    s, k = mp.mpf(spot), mp.mpf(strike)
    v = mp.mpf(sigma) / WAD * mp.sqrt(mp.mpf(tau_seconds) / YEAR)
    if v == 0:
        return max(s - k, 0), max(k - s, 0)
    d1 = mp.log(s / k) / v + v / 2
    d2 = d1 - v
    return s * mp.ncdf(d1) - k * mp.ncdf(d2), k * mp.ncdf(-d2) - s * mp.ncdf(-d1)


def chunks(xs: list, n: int):
    """Consecutive slices of xs of length n (calldata batches)."""
    for i in range(0, len(xs), n):
        yield xs[i : i + n]
