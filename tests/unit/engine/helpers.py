"""Helpers of the engine unit tests: breakdown decoding and a tiny float Black-Scholes."""

from __future__ import annotations

import math

from scipy.stats import norm

WAD = 10**18
SCAN_FACTOR = 190684074946903115  # 2.576·√(2/365) [wad], as the contract rounds it


def breakdown(stack, account_id) -> dict:
    b = stack.engine.marginBreakdown(account_id)
    return {
        "E": b[0],
        "AE": b[1],
        "IM": b[2],
        "MM": b[3],
        "SR": b[4],
        "SOM": b[5],
        "LJ": b[6],
        "worstJ": b[7],
        "u": {int(u[0]): {"R": u[1], "L": u[2], "worst": u[3]} for u in b[8]},
        "Lrho": b[9],
    }


def scan_range(vol_wad: int) -> int:
    """R_u exactly as the contract computes it (wad)."""
    return min(max(vol_wad * SCAN_FACTOR // WAD, 16 * WAD // 100), WAD // 2)


def bs(is_call: bool, s: float, k: float, vol: float, tau: float) -> float:
    if tau <= 0 or vol <= 0:
        return max(s - k, 0.0) if is_call else max(k - s, 0.0)
    v = vol * math.sqrt(tau)
    d1 = math.log(s / k) / v + v / 2
    d2 = d1 - v
    if is_call:
        return s * norm.cdf(d1) - k * norm.cdf(d2)
    return k * norm.cdf(-d2) - s * norm.cdf(-d1)


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-6) -> bool:
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def spot_moves(r: float) -> list[float]:
    xs = [r * (i - 4) / 4 for i in range(9)] * 3
    return xs + [2 * r, 3 * r, -min(2 * r, 0.9), -min(3 * r, 0.9)]


def vol_states(vol: float, tau_s: float) -> tuple[float, float, float]:
    days = tau_s / 86400
    p = 0.30 if days <= 30 else 0.13
    m = (30 / max(days, 1)) ** p
    return vol, max(vol * (1 + 0.5 * m), 0.5), vol * (1 - 0.25 * m)


def option_pnl(is_call, strike, expiry, q, spot, vol, observed_at) -> tuple[float, list[float]]:
    """(q·V, [q·(V_j − V)]·w_j) of one option position, floats in USD."""
    tau_s = max(0, expiry - observed_at)
    tau = tau_s / (365 * 86400)
    r = min(max(2.576 * vol * math.sqrt(2 / 365), 0.16), 0.5)
    vols = vol_states(vol, tau_s)
    v0 = bs(is_call, spot, strike, vol, tau)
    out = []
    for j, x in enumerate(spot_moves(r)):
        v = vols[j // 9] if j < 27 else vols[1]
        w = 1.0 if j < 27 else 0.3
        out.append(w * q * (bs(is_call, spot * (1 + x), strike, v, tau) - v0))
    return q * v0, out


def ints(values) -> tuple:
    """A brownie return tuple as plain ints (brownie's Wei refuses to compare with tuples)."""
    return tuple(int(v) for v in values)


def b32(h) -> str:
    """How brownie renders a bytes32 argument of a custom error (Python bytes repr)."""
    return str(bytes.fromhex(str(h).removeprefix("0x")))
