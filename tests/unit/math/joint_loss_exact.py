"""The v2 joint loss L_ρ in exact and 120-digit arithmetic, for chain inputs: the reference that
JointLossLib must never be below. Written from docs/CORRELATION.md §3 directly, independently of
keel.risk.correlation (float64) and of the library's integer design (no shift bracket, no
correlation intervals, no power-of-two scaling): majorants as exact fractions, ρ_s from the doc's
formula, λ_min from mpmath's symmetric eigensolver, the orthant maximum by enumeration. Chain
values reach 2^242, so mpmath works at 120 digits here (a local context: other test modules set
their own precision)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath as mp

from tests.unit.math.mp_exact import WAD

DPS = 120  # digits: unit precision on values up to 2^242 (73 digits) with room to spare

SIDE = 5  # points m = 0, ¼, ½, ¾, 1 of a side


def pairs(n: int) -> list[tuple[int, int]]:
    """Pair order of the correlation input: (0,1), (0,2), …, (n−2, n−1)."""
    return list(itertools.combinations(range(n), 2))


def side_loss(pnl_u: list[int], v: int, up: bool) -> list[int]:
    """y(m) = −P_u(9v + 4 ± 4m) for m = 0, ¼, …, 1 [wad USD]."""
    sign = 1 if up else -1
    return [-pnl_u[9 * v + 4 + sign * i] for i in range(SIDE)]


def majorant(y: list[int]) -> tuple[Fraction, int]:
    """(a, b) of a + b·m ≥ y(m): b = y(1) − y(0), a = max_m (y(m) − b·m), exact."""
    b = y[-1] - y[0]
    a = max(y[i] - Fraction(b * i, SIDE - 1) for i in range(SIDE))
    return a, b


def _mpf(x) -> mp.mpf:
    x = Fraction(x)
    return mp.mpf(x.numerator) / x.denominator


def stressed(rho_wad: int) -> mp.mpf:
    r = mp.mpf(rho_wad) / WAD
    return max(2 * r - 1, mp.mpf(3) / 4 * r) if r >= 0 else max(mp.mpf(5) / 4 * r, mp.mpf(-1))


def stressed_matrix(n: int, rho: list[int]) -> mp.matrix:
    """ρ_s with unit diagonal, ρ in pair order [wad]."""
    m = mp.eye(n)
    for (i, j), r in zip(pairs(n), rho, strict=True):
        m[i, j] = m[j, i] = stressed(r)
    return m


def min_eigenvalue(n: int, rho: list[int]) -> mp.mpf:
    """λ_min of ρ_s (120 digits)."""
    with mp.workdps(DPS):
        return +min(mp.eigsy(stressed_matrix(n, rho), eigvals_only=True))


def repaired(n: int, rho: list[int]) -> tuple[mp.matrix, mp.mpf]:
    """(ρ_s', t): ρ_s shrunk toward I by t = −λ_min/(1 − λ_min) when λ_min < 0 (n ≥ 3), in the
    caller's precision."""
    m = stressed_matrix(n, rho)
    if n < 3:
        return m, mp.mpf(0)
    lam = min(mp.eigsy(m, eigvals_only=True))
    if lam >= 0:
        return m, mp.mpf(0)
    t = -lam / (1 - lam)
    return (1 - t) * m + t * mp.eye(n), t


def correlated_loss(pnl: list[list[int]], rho: list[int]) -> mp.mpf:
    """L_ρ = max(0, max_{σ, v} Σ a + min(‖w‖, ‖w⁺‖)) [wad USD] for pnl (n × 31) and ρ (wad)."""
    with mp.workdps(DPS):
        return +_correlated_loss(pnl, rho)


def _correlated_loss(pnl: list[list[int]], rho: list[int]) -> mp.mpf:
    n = len(pnl)
    corr, _ = repaired(n, rho)
    best = mp.mpf(0)
    for v in range(3):
        for sides in itertools.product((False, True), repeat=n):
            ab = [majorant(side_loss(pnl[u], v, up)) for u, up in enumerate(sides)]
            w = [(1 if up else -1) * b for up, (_, b) in zip(sides, ab, strict=True)]
            w_plus = [wu if b > 0 else 0 for wu, (_, b) in zip(w, ab, strict=True)]
            norm = min(_norm(w, corr), _norm(w_plus, corr))
            best = max(best, _mpf(sum(a for a, _ in ab)) + norm)
    return best


def _norm(w: list, corr: mp.matrix) -> mp.mpf:
    n = len(w)
    q = sum(mp.mpf(w[i]) * corr[i, j] * w[j] for i in range(n) for j in range(n))
    return mp.sqrt(max(q, 0))


def losses(pnl: list[list[int]]) -> tuple[int, int]:
    """(Σ L_u, L_J) in exact integers: L = max(0, −min_j P(j)) over all 31 scenarios."""
    sum_loss = sum(max(0, -min(p)) for p in pnl)
    joint = [sum(p[j] for p in pnl) for j in range(31)] if pnl else [0]
    return sum_loss, max(0, -min(joint))


def scan_risk(sum_loss: int, joint_loss: int, loss_rho: int) -> int:
    """SR = min(Σ L, max(L_J + ⌈0.2(Σ L − L_J)⌉, L_ρ)) in exact integers (the floor rounded up)."""
    floor = joint_loss + -((-(sum_loss - joint_loss)) // 5)
    return min(sum_loss, max(floor, loss_rho))


def rounding_budget(pnl: list[list[int]]) -> int:
    """The most the library's roundings can add to L_ρ [wei] (JointLossLib's @dev, derived):
    each a up by < 1 (n); √ rounded up (1); each correlation within 2.25e-18 of ρ_s' and each cross
    term rounded up, so Q gains at most 2.25e-18·(Σ|b̃|)² + 12 and the norm at most the root of
    that; and when |b| ≥ 2^96 the scaling by 2^k adds at most 2^k(2n + 1) beyond it."""
    n = len(pnl)
    bs = [abs(majorant(side_loss(p, v, up))[1]) for p in pnl for v in range(3) for up in (0, 1)]
    most = max(bs, default=0)
    k = max(0, most.bit_length() - 96)
    s = sum(max(b >> k for b in bs[6 * u : 6 * u + 6]) for u in range(n))
    dq = Fraction(225, 10**20) * s * s + 12  # 2.25e-18·S̃² + 12
    return n + 1 + (2**k) * (math.isqrt(math.ceil(dq)) + 1 + (2 * n + 1 if k else 0))


def isqrt_up(x: int) -> int:
    r = math.isqrt(x)
    return r if r * r == x else r + 1
