"""Generates contracts/libraries/NormalCDF.sol: piecewise polynomials for the normal tail Q(x).

Method. Q(x) = 1 - N(x) = erfc(x / sqrt 2) / 2 on [0, 9) is split into 36 intervals of width 1/4.
On each interval a polynomial in t = x - centre (|t| <= 1/8) is fitted with mpmath's Chebyshev
fit at 60 digits, at the lowest degree whose fit error is below FIT_TOL. Coefficients are rounded
to integers at scale 1e36 and evaluated on chain by Horner's rule with t in binary fixed point
(Q64, rounding < 5.5e-20) and the accumulator at scale 1e36: a step is add(sar(64, mul(r, t)), c).
For x >= 9, Q = 0 (true Q(9) = 1.1e-19). The branch tree that picks the interval splits first at
x = 3 (CENTRAL intervals): Black-Scholes' d1 and d2 of the margin grid are nearly all below 3, where
the tree is 5 levels deep (6 beyond). Width 1/4 rather than 1/2 takes the degree from 13 to 11 there
(two Horner steps, ~50 gas, per N(d): ~0.2M gas on a stale maximal account's bid; docs/DESIGN.md).

This script then re-evaluates the chain's exact integer arithmetic at many points per interval
against mpmath and prints the measured maximum absolute error; the docstring of NormalCDF.sol
records that figure. Run: python tests/unit/math/gen_normal_cdf.py [--write]
"""

from __future__ import annotations

import sys
from pathlib import Path

import mpmath as mp

mp.mp.dps = 60

WIDTH_NUM = 1  # interval width = 1/4, written as a fraction so the centres are exact in wad
WIDTH_DEN = 4
INTERVALS = 36  # [0, 9)
CENTRAL = 12  # intervals below x = 3: the tree's first split
FIT_TOL = mp.mpf("1e-19")
SCALE = 10**36
WAD = 10**18
HALF_WIDTH_WAD = WAD * WIDTH_NUM // WIDTH_DEN // 2
WIDTH_WAD = WAD * WIDTH_NUM // WIDTH_DEN
OUT = Path(__file__).resolve().parents[3] / "contracts" / "libraries" / "NormalCDF.sol"


def q_exact(x):
    """Exact upper tail of the standard normal at x (mpmath)."""
    return mp.erfc(mp.mpf(x) / mp.sqrt(2)) / 2


def fit_interval(i: int) -> list[int]:
    """Integer coefficients (scale 1e36, constant term first) of the fit on interval i."""
    centre = mp.mpf(i * WIDTH_NUM) / WIDTH_DEN + mp.mpf(WIDTH_NUM) / WIDTH_DEN / 2
    half = mp.mpf(WIDTH_NUM) / WIDTH_DEN / 2
    for n in range(2, 40):
        poly, err = mp.chebyfit(lambda t, c=centre: q_exact(c + t), [-half, half], n, error=True)
        if err < FIT_TOL:
            # chebyfit returns the highest power first
            return [int(mp.nint(c * SCALE)) for c in reversed(poly)]
    raise RuntimeError(f"no fit on interval {i}")


def sdiv(a: int, b: int) -> int:
    """EVM sdiv: integer division truncating toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def q36_chain(x_wad: int, coeffs: list[list[int]]) -> int:
    """Bit-exact model of Q(|x|) inside NormalCDF.cdf36 (x_wad >= 0)."""
    if x_wad >= INTERVALS * WIDTH_WAD:
        return 0
    i = x_wad // WIDTH_WAD
    t = sdiv((x_wad - (i * WIDTH_WAD + HALF_WIDTH_WAD)) << 64, WAD)  # t in Q64
    c = coeffs[i]
    u = abs(c[-1])  # u_k = sign(c_k) r_k: every step adds or subtracts a positive constant
    for k in range(len(c) - 2, -1, -1):
        if (c[k] < 0) == (c[k + 1] < 0):
            u = ((u * t) >> 64) + abs(c[k])  # EVM sar: floor
        else:
            u = abs(c[k]) - ((u * t) >> 64)
    r = u if c[0] >= 0 else -u
    return max(r, 0)


def cdf_chain(x_wad: int, coeffs: list[list[int]]) -> int:
    """Bit-exact model of NormalCDF.cdf: N(x) in wad, rounded to nearest."""
    q = q36_chain(abs(x_wad), coeffs)
    n36 = SCALE - q if x_wad > 0 else q
    return (n36 + WAD // 2) // WAD


def measure(coeffs: list[list[int]], per_interval: int = 2000) -> float:
    """Max |Q_chain - Q_exact| over a dense grid (and the interval ends) on [0, 9.5]."""
    worst = mp.mpf(0)
    for i in range(INTERVALS + 1):
        for k in range(per_interval + 1):
            x = i * WIDTH_WAD + k * WIDTH_WAD // per_interval
            got = mp.mpf(q36_chain(x, coeffs)) / SCALE
            err = abs(got - q_exact(mp.mpf(x) / WAD))
            worst = max(worst, err)
    return float(worst)


def horner_yul(c: list[int], indent: str) -> str:
    """Yul statements evaluating the polynomial c at t into r (Horner on u_k = sign(c_k) r_k).

    Keeping u_k = sign(c_k) r_k makes every constant positive (u = |c_k| +- u t): with negative
    literals the optimizer rewrites sub(x, c) as add(x, not(c - 1)), hoists the NOTs and pays for
    stack shuffles on every step.
    """
    assert c[0] > 0  # Q(centre) > 0, so r = u at the end
    lines = [f"{indent}r := {abs(c[-1])}"]
    for k in range(len(c) - 2, -1, -1):
        if (c[k] < 0) == (c[k + 1] < 0):
            lines.append(f"{indent}r := add(sar(64, mul(r, t)), {abs(c[k])})")
        else:
            lines.append(f"{indent}r := sub({abs(c[k])}, sar(64, mul(r, t)))")
    return "\n".join(lines)


def tree_yul(lo: int, hi: int, coeffs: list[list[int]], indent: str) -> str:
    """A binary tree of branches on the interval index i selecting the polynomial: split first at
    CENTRAL (the range nearly every d falls in gets the shallower half), then in halves."""
    if hi - lo == 1:
        return (
            f"{indent}// interval [{lo * WIDTH_NUM}/{WIDTH_DEN}, {(lo + 1) * WIDTH_NUM}/{WIDTH_DEN}),"
            f" degree {len(coeffs[lo]) - 1}\n" + horner_yul(coeffs[lo], indent)
        )
    mid = CENTRAL if lo < CENTRAL < hi else (lo + hi) // 2
    inner = indent + "    "
    return (
        f"{indent}switch lt(i, {mid})\n"
        f"{indent}case 0 {{\n{tree_yul(mid, hi, coeffs, inner)}\n{indent}}}\n"
        f"{indent}default {{\n{tree_yul(lo, mid, coeffs, inner)}\n{indent}}}"
    )


TEMPLATE = """// SPDX-License-Identifier: MIT
// GENERATED by tests/unit/math/gen_normal_cdf.py - edit the generator, not this file.
pragma solidity ^0.8.28;

/// @title NormalCDF
/// @notice The standard normal CDF N(x) in wad, accurate to 1e-18 absolute.
/// @dev Method: piecewise polynomials for the upper tail Q(x) = 1 - N(x) = erfc(x/sqrt2)/2.
///      [0, 9) is cut into 36 intervals of width 1/4; on each, a Chebyshev fit (mpmath, 60 digits)
///      in t = x - centre, |t| <= 1/8, of the lowest degree (at most {maxdeg}) with fit error below
///      1e-19. Coefficients are integers at scale 1e36; Horner's rule runs with t in binary fixed
///      point Q64 (a shift instead of a division per step) and the accumulator at scale 1e36;
///      the accumulator carries the sign of the next coefficient so that all literals are positive.
///      For x >= 9, Q = 0 (true Q(9) = 1.1e-19).
///      Symmetry is exact by construction: N(x) = 1 - Q(x) for x > 0, N(x) = Q(-x) for x <= 0.
///      Error bound: the generator re-runs this exact integer arithmetic at 2,000 points per
///      interval against mpmath: max |Q_chain - Q_exact| = {err:.2e} (the cut-off at 9), so
///      |cdf36(x) / 1e36 - N(x)| <= {err:.1e} and |cdf(x) - N(x)| < 0.5e-18 + {err:.1e} for every x.
///      No exp and no division by a variable: a branch tree split first at x = 3 (5 levels below,
///      where nearly every d of the margin grid falls; 6 above) and at most {maxdeg} Horner steps
///      (~26 gas each), all in one assembly block.
library NormalCDF {{
    /// @dev N(x) at scale 1e36 (not rounded to wad) for x in wad; N(-x) = 1e36 - N(x) exactly.
    function cdf36(int256 x) internal pure returns (uint256 n) {{
        assembly ("memory-safe") {{
            let WAD := 1000000000000000000
            // a = |x|; for x = -2^255, 0 - x wraps to 2^255, which lands in the tail (Q = 0) too
            let a := x
            if slt(x, 0) {{ a := sub(0, x) }}
            let r := 0 // Q(a) at scale 1e36
            if lt(a, {xmax}) {{
                // interval index i = floor(a / 0.25) and t = a - centre of interval i, |t| <= 0.125
                let i := div(a, {width})
                // t in Q64: t = (a - centre) 2^64 / 1e18, |t| < 2^62 (rounding < 5.5e-20)
                let t := sdiv(shl(64, sub(a, add(mul(i, {width}), {halfwidth}))), WAD)
{tree}
                // the last fits may dip below 0 by < 1e-19 next to x = 9
                if slt(r, 0) {{ r := 0 }}
            }}
            n := r
            if sgt(x, 0) {{ n := sub({one36}, r) }}
        }}
    }}

    /// @dev The standard normal CDF N(x) in wad for x in wad, rounded to the nearest wei
    ///      (|error| < 0.5e-18 + {err:.1e} absolute).
    function cdf(int256 x) internal pure returns (uint256) {{
        // cdf36 <= 1e36 + 1e18, so adding half a wad cannot overflow
        unchecked {{
            return (cdf36(x) + 5e17) / 1e18;
        }}
    }}
}}
"""


def main() -> None:
    coeffs = [fit_interval(i) for i in range(INTERVALS)]
    degrees = [len(c) - 1 for c in coeffs]
    err = measure(coeffs, per_interval=int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
    print("degrees", degrees, "coefficients", sum(len(c) for c in coeffs))
    print("max |Q_chain - Q_exact|", err)
    src = TEMPLATE.format(
        maxdeg=max(degrees),
        err=err,
        xmax=INTERVALS * WIDTH_WAD,
        width=WIDTH_WAD,
        halfwidth=HALF_WIDTH_WAD,
        one36=SCALE,
        tree=tree_yul(0, INTERVALS, coeffs, " " * 16),
    )
    if "--write" in sys.argv:
        OUT.write_text(src)
        print("wrote", OUT)


if __name__ == "__main__":
    main()
