"""JointLossLib (SPEC v2 §6, docs/CORRELATION.md §8): the chain's L_ρ and SR against an exact
50-digit reference (tests/unit/math/joint_loss_exact.py) and against the float64 reference model
(keel.risk.correlation), the doc's worked examples, the PSD repair, the integer steps, bad input.

Tolerances (the library's @dev derives them):
- chain vs exact: exact ≤ L_ρ ≤ exact + `rounding_budget` (a few wei for a non-degenerate book; at
  most ≈ 1.5e-9 of Σ_u max|b_u| where the norm is the root of a near-cancelled quadratic form, and
  2^k(2n + 2) more when |b| ≥ 2^96 is scaled by 2^k). Never below: margin is never under-estimated.
- chain vs model: |L_ρ − model| ≤ 1e-9·L_ρ + 6e-8·Σ_u max|b_u| + 1e-9 USD. The second term is the
  float model's own noise where L_ρ is the root of a near-cancelled Q (√ε of the chord scale); for
  the rest of the book the agreement is at the 1e-9 relative level.
- the PSD repair's t agrees with the model's eigenvalue route to 1e-12.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.risk import compute_margin
from keel.risk.black_scholes import bs_price
from keel.risk.correlation import (
    correlated_loss,
    psd_shrink,
    scan_risk_v2,
    stressed_correlation,
)
from keel.risk.scenarios import SCENARIO_VOL_STATE, scan_range, spot_moves, vol_states
from tests.support import reverts
from tests.unit.math import joint_loss_exact as ex
from tests.unit.math.mp_exact import DEEP, WAD
from tests.unit.risk.helpers import BTC, ETH, market, one, option

EXAMPLES = 600 if DEEP else 60
G = 4 * WAD  # ρ_s scale of the library: g = 4e18·ρ_s
EIP170 = 24_576  # largest deployable code [bytes]


@pytest.fixture(scope="module")
def jl(JointLossLib, JointLossHarness, deployer):
    """The library deployed once and the harness linked to it (brownie links the latest one)."""
    JointLossLib.deploy({"from": deployer})
    return JointLossHarness.deploy({"from": deployer})


def ints(values) -> tuple:
    """Chain integers as Python ints (brownie's Wei compares with an mpf by truncating it)."""
    return tuple(int(x) for x in values)


def chain_loss(jl, pnl, rho) -> int:
    return int(jl.correlatedLoss(pnl, rho))


def chain_scan(jl, pnl, rho, sum_loss, joint) -> tuple[int, int]:
    return ints(jl.scanRisk(pnl, rho, sum_loss, joint))


def chain_shift(jl, rho) -> tuple[int, int]:
    return ints(jl.repairShift(rho))


# --- Inputs ---

XS = np.arange(9) - 4  # standard spot points [quarter scan ranges]


def linear_pnl(notional_wad: int, r_wad: int) -> list[int]:
    """P(j) = N·x_j on the standard grid (x_j = R·(i − 4)/4, exact in wad when 4 | N·R)."""
    return [notional_wad * r_wad * int(i) // (4 * WAD) for i in XS] * 3 + [0] * 4


def to_wad(usd) -> list[int]:
    return [int(round(x * WAD)) for x in np.asarray(usd, float)]


@st.composite
def st_option_pnl(draw) -> list[int]:
    """An underlying's 31 scenario P&Ls as MarginLib builds them [wad USD]: a perp or linked
    collateral (N·x_j) and 0–3 options q·(V(S(1 + x_j), σ_j, τ) − V(S, σ, τ)), extended
    scenarios weighted 0.3 (L_ρ reads only the 27 standard ones)."""
    spot = draw(st.floats(1.0, 1e5))
    vol = draw(st.floats(0.05, 3.0))
    x = spot_moves(scan_range(vol))
    pnl = draw(st.floats(-1e7, 1e7)) * x
    for _ in range(draw(st.integers(0, 3))):
        k = spot * draw(st.floats(0.6, 1.4))
        tau = draw(st.integers(1, 365)) / 365.0
        q = draw(st.floats(-1e7, 1e7)) / spot
        call = draw(st.booleans())
        sig = vol_states(vol, tau)[SCENARIO_VOL_STATE]
        pnl = pnl + q * (
            bs_price(spot * (1 + x), k, sig, tau, call) - bs_price(spot, k, vol, tau, call)
        )
    pnl[27:] *= 0.3
    return to_wad(pnl)


@st.composite
def st_raw_pnl(draw) -> list[int]:
    """Any 31 integers in a magnitude band (non-monotone, non-convex sides), from a few wei to
    the library's bound 2^240 (above 2^96 the slopes are scaled by a power of two)."""
    bits = draw(st.sampled_from([8, 64, 90, 100, 160, 239]))
    lim = 2**bits
    edge = st.sampled_from([-lim, lim - 1, 0, 1, -1])
    return [draw(st.one_of(st.integers(-lim, lim - 1), edge)) for _ in range(31)]


RHO_EDGES = [
    -WAD,
    -WAD + 1,
    -8 * WAD // 10,  # 1.25ρ reaches −1 exactly
    -8 * WAD // 10 + 1,
    -4 * WAD // 10,  # ρ_s = −0.5: a 3×3 equicorrelated ρ_s at λ_min = 0
    -1,
    0,
    1,
    8 * WAD // 10,  # the kink 2ρ − 1 = 0.75ρ
    8 * WAD // 10 + 1,
    WAD - 1,
    WAD,
]


@st.composite
def st_rho(draw, n: int) -> list[int]:
    """ρ per pair (wad): uniform over [−1, 1], the edges above, or a negative cluster that makes
    the stressed 3×3 and 4×4 matrices non-PSD (the repair region)."""
    regime = draw(st.sampled_from(["uniform", "edges", "negative"]))
    pairs = n * (n - 1) // 2
    if regime == "uniform":
        elem = st.integers(-WAD, WAD)
    elif regime == "edges":
        elem = st.sampled_from(RHO_EDGES)
    else:
        elem = st.integers(-WAD, -WAD // 4)
    return [draw(elem) for _ in range(pairs)]


@st.composite
def st_case(draw, n_min: int = 1):
    n = draw(st.integers(n_min, 4))
    row = st.one_of(st_option_pnl(), st_option_pnl(), st_raw_pnl())
    pnl = [draw(row) for _ in range(n)]
    if n >= 2 and draw(st.booleans()):
        # an exact hedge: a row and its mirror (cancelling quadratic forms at ρ_s = 1)
        pnl[1] = [-x for x in pnl[0]]
    return pnl, draw(st_rho(n))


# --- References ---


def model_loss(pnl: list[list[int]], rho: list[int]) -> float:
    """keel.risk.correlation's L_ρ [USD] for the same chain inputs."""
    n = len(pnl)
    corr = np.eye(n)
    for (i, j), r in zip(ex.pairs(n), rho, strict=True):
        corr[i, j] = corr[j, i] = r / WAD
    rho_s, _ = psd_shrink(stressed_correlation(corr))
    usd = np.array(pnl, dtype=float)[None] / WAD if n else np.zeros((1, 0, 31))
    return float(correlated_loss(usd, rho_s)[0])


def chord_scale(pnl: list[list[int]]) -> int:
    """S = Σ_u max over vol states and sides of |b| [wad USD]."""
    return sum(
        max(abs(int(ex.majorant(ex.side_loss(p, v, up))[1])) for v in range(3) for up in (0, 1))
        for p in pnl
    )


def check_against_references(pnl, rho, loss_rho: int):
    with mp.workdps(ex.DPS):  # chain values have up to 73 digits
        excess = loss_rho - ex.correlated_loss(pnl, rho)
        assert excess >= mp.mpf("-1e-9"), "below the exact L_ρ: margin under-estimated"
        assert excess <= ex.rounding_budget(pnl)
    model = model_loss(pnl, rho) * WAD
    tol = 1e-9 * max(model, 0.0) + 6e-8 * chord_scale(pnl) + 1e-9 * WAD
    assert abs(loss_rho - model) <= tol


# --- L_ρ and SR against the references ---


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=st_case())
def test_scan_risk_matches_exact_reference_and_model(jl, case):
    """1–4 underlyings (option-like, linear and arbitrary P&L shapes), ρ over [−1, 1] with its
    edges and the repair region: L_ρ against the 50-digit reference and the float model, and SR
    against the rule in exact integers and against the model's scan_risk_v2."""
    pnl, rho = case
    sum_loss, joint = ex.losses(pnl)
    sr, loss_rho = chain_scan(jl, pnl, rho, sum_loss, joint)
    check_against_references(pnl, rho, loss_rho)
    assert sr == ex.scan_risk(sum_loss, joint, loss_rho)
    model = float(scan_risk_v2(sum_loss / WAD, joint / WAD, model_loss(pnl, rho))) * WAD
    assert abs(sr - model) <= 1e-9 * model + 6e-8 * chord_scale(pnl) + 1e-9 * WAD
    # (a)–(c) in exact integers
    assert joint <= sr <= sum_loss
    assert 5 * (sr - joint) >= sum_loss - joint


def test_linear_books_get_the_exact_ellipse_quantile(jl):
    """(d): a linear book's L_ρ is ⌈sqrt(sᵀρ_s s)⌉ exactly when every piece is an integer: s = (9600,
    −9600, 4800, 2400) USD (R = 16%), ρ = 0.74 for every pair (ρ_s = 0.555 exactly)."""
    r = 16 * WAD // 100
    notionals = (60_000, -60_000, 30_000, 15_000)
    pnl = [linear_pnl(q * WAD, r) for q in notionals]
    s = [q * 16 // 100 for q in notionals]  # [USD]
    rs = Fraction(555, 1000)
    q = sum(s[i] * s[j] * (1 if i == j else rs) for i in range(4) for j in range(4))
    # the hedging orthant: the losing side of each leg is its own direction (w = −s); exact Q
    expected = ex.isqrt_up(int(q * WAD * WAD))
    assert chain_loss(jl, pnl, [74 * WAD // 100] * 6) == expected


# --- The doc's worked examples (docs/CORRELATION.md §4) ---

R16 = 16 * WAD // 100  # scan range 16%                                              [wad]


@pytest.mark.parametrize(
    "rho,rho_s_milli",
    [(74, 555), (30, 225), (99, 980)],  # ρ [%] → ρ_s [‰]
)
def test_example_1_btc_eth_pair_exactly(jl, rho, rho_s_milli):
    """Long 1 BTC ($60,000) / short 20 ETH ($3,000), R = 16%: s = (9600, −9600), L_J = 0, Σ L = 19,200.
    L_ρ = ⌈9600·sqrt(2 − 2ρ_s)⌉ (every piece exact in wad); SR = max(L_ρ, 3840) (80% floor)."""
    pnl = [linear_pnl(60_000 * WAD, R16), linear_pnl(-60_000 * WAD, R16)]
    sum_loss, joint = ex.losses(pnl)
    assert (sum_loss, joint) == (19_200 * WAD, 0)
    sr, loss_rho = chain_scan(jl, pnl, [rho * WAD // 100], sum_loss, joint)
    q = 9600**2 * (2000 - 2 * rho_s_milli) * WAD * WAD // 1000
    assert loss_rho == ex.isqrt_up(q)
    assert sr == max(loss_rho, 3840 * WAD)
    if rho == 74:
        assert round(loss_rho / WAD, 2) == 9056.62  # doc: 9,600·sqrt(0.89) = 9,056.6...
    if rho == 99:
        assert loss_rho == 1920 * WAD and sr == 3840 * WAD


def test_example_2_psd_repair_of_three_longs(jl):
    """Long $10,000 of three underlyings (R = 16%: s = 1600 each), ρ = −0.5 for every pair:
    ρ_s = −0.625, λ_min = −0.25, so c* = −4e18·λ_min = 1e18 exactly (t = 0.2); the repaired ρ_s'
    (−0.5) makes sᵀρ_s's = 0, L_ρ is rounding only, and SR = L_J = 4800."""
    rho = [-WAD // 2] * 3
    lo, hi = chain_shift(jl, rho)
    assert lo <= WAD <= hi <= lo + 1
    pnl = [linear_pnl(10_000 * WAD, R16)] * 3
    sum_loss, joint = ex.losses(pnl)
    assert sum_loss == joint == 4800 * WAD
    sr, loss_rho = chain_scan(jl, pnl, rho, sum_loss, joint)
    assert sr == 4800 * WAD
    assert 0 < loss_rho <= ex.rounding_budget(pnl)  # ≈ 3.9e12 wei: 1.5e-9 of S = 4800 USD


@pytest.mark.parametrize(
    "rho,l_rho,sr",
    [(0.95, 8232.29, 9379.00), (0.74, 10205.25, 10205.25), (-0.5, 15248.88, 15248.88)],
)
def test_example_3_opposite_short_options(jl, rho, l_rho, sr):
    """Short 30-day ATM put on 1 BTC against a short 30-day ATM call on 20 ETH (bench market):
    the doc's table to the cent, from the reference model's scenario P&Ls."""
    m = market()
    book = one(
        m,
        cash=1e5,
        options=[option(BTC, 60000.0, 30, False, -1.0), option(ETH, 3000.0, 30, True, -20.0)],
    )
    pnl = [to_wad(p) for p in compute_margin(m, book).scenario_pnl[0]]
    sum_loss, joint = ex.losses(pnl)
    got_sr, loss_rho = chain_scan(jl, pnl, [int(rho * WAD)], sum_loss, joint)
    assert round(loss_rho / WAD, 2) == l_rho
    assert round(got_sr / WAD, 2) == sr
    check_against_references(pnl, [int(rho * WAD)], loss_rho)


# --- ρ_s and the PSD repair ---


@pytest.mark.parametrize(
    "rho,rho_s",
    [
        (WAD, Fraction(WAD)),
        (9 * WAD // 10, Fraction(8 * WAD, 10)),  # 2ρ − 1 above the kink
        (8 * WAD // 10, Fraction(6 * WAD, 10)),  # the kink
        (8 * WAD // 10 - 1, Fraction(3 * (8 * WAD // 10 - 1), 4)),  # 0.75ρ: a quarter wei kept
        (6 * WAD // 10, Fraction(45 * WAD, 100)),
        (1, Fraction(3, 4)),
        (0, Fraction(0)),
        (-1, Fraction(-5, 4)),
        (-WAD // 2, Fraction(-625 * WAD, 1000)),
        (-8 * WAD // 10, Fraction(-WAD)),  # 1.25ρ reaches −1
        (-8 * WAD // 10 - 1, Fraction(-WAD)),  # floored at −1
        (-WAD, Fraction(-WAD)),
    ],
)
def test_stressed_correlation_is_exact(jl, rho, rho_s):
    """g = 4e18·ρ_s exactly: FRTB's low-correlation scenario, no rounding."""
    assert int(jl.stressed(rho)) == 4 * rho_s


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_repair_shift_brackets_the_exact_eigenvalue(jl, data):
    """For 3 and 4 underlyings: c* = −4e18·λ_min(ρ_s) lies in [cLo, cHi] of width ≤ 1 (mpmath's
    eigenvalue at 50 digits), both 0 iff ρ_s is PSD; the t it gives agrees with the model's."""
    n = data.draw(st.integers(3, 4))
    rho = data.draw(st_rho(n))
    lo, hi = chain_shift(jl, rho)
    lam = ex.min_eigenvalue(n, rho)
    _, t_model = psd_shrink(stressed_correlation(_matrix(n, rho)))
    if abs(lam) <= mp.mpf("1e-40"):  # on the boundary (λ_min = 0 exactly, to 120 digits)
        assert hi <= 1 and t_model <= 1e-12
        return
    if lam > 0:
        assert (lo, hi) == (0, 0)
        assert t_model <= 1e-12  # float eigvalsh may see a tiny λ_min > 0 as < 0
        return
    c_star = -G * lam  # 120 digits: far below a unit
    assert lo <= c_star <= hi and hi - lo <= 1
    t_chain = Fraction(hi, G + hi)
    assert abs(float(t_chain) - t_model) <= 1e-12
    assert abs(t_chain - Fraction(str(-lam / (1 - lam)))) <= Fraction(1, 10**18)


def test_repair_at_the_psd_boundary(jl):
    """ρ = −0.4 for every pair of three: ρ_s = −0.5 and λ_min = 0 exactly, no repair; one wei more
    negative (ρ_s −0.5 − 1.25e-18, λ_min = −2.5e-18) needs c* = 10 exactly."""
    assert chain_shift(jl, [-4 * WAD // 10] * 3) == (0, 0)
    lo, hi = chain_shift(jl, [-4 * WAD // 10 - 1] * 3)
    assert lo <= 10 <= hi <= lo + 1


def test_repair_of_the_most_negative_four(jl):
    """ρ = −1 for every pair of four: ρ_s = −1, λ_min = 1 − 3 = −2, c* = 8e18 (the largest shift
    the determinant bounds allow: no overflow)."""
    lo, hi = chain_shift(jl, [-WAD] * 6)
    assert lo <= 8 * WAD <= hi <= lo + 1


def test_two_underlyings_never_repair(jl):
    assert chain_shift(jl, [-WAD]) == (0, 0)


@pytest.mark.parametrize("c_lo,c_hi", [(0, 0), (WAD, WAD + 1), (7 * WAD, 7 * WAD + 1)])
def test_correlation_bounds_hold_the_repaired_correlation(jl, c_lo, c_hi):
    """[lo, hi] (wad) holds g/(4e18 + c) for every c in [cLo, cHi], each end rounded outward."""
    rho = [WAD, 9 * WAD // 10, 8 * WAD // 10 - 1, -1, -WAD // 2, -WAD]
    hi, lo = (ints(x) for x in jl.correlationBounds(rho, c_lo, c_hi))
    for p, r in enumerate(rho):
        g = Fraction(int(jl.stressed(r)))
        ends = [g * WAD / (G + c) for c in (c_lo, c_hi)]
        assert lo[p] <= min(ends) and max(ends) <= hi[p]
        assert math.floor(min(ends)) == lo[p] and math.ceil(max(ends)) == hi[p]


# --- The integer steps ---


def _matrix(n, rho):
    corr = np.eye(n)
    for (i, j), r in zip(ex.pairs(n), rho, strict=True):
        corr[i, j] = corr[j, i] = r / WAD
    return corr


def _det(rows) -> Fraction:
    """Exact determinant by fraction-free Gaussian elimination (independent of the Laplace form)."""
    a = [[Fraction(x) for x in r] for r in rows]
    n, det = len(a), Fraction(1)
    for i in range(n):
        piv = next((r for r in range(i, n) if a[r][i] != 0), None)
        if piv is None:
            return Fraction(0)
        if piv != i:
            a[i], a[piv] = a[piv], a[i]
            det = -det
        det *= a[i][i]
        for r in range(i + 1, n):
            f = a[r][i] / a[i][i]
            a[r] = [x - f * y for x, y in zip(a[r], a[i], strict=True)]
    return det


G_ENTRY = st.one_of(st.integers(-G, G), st.sampled_from([-G, G, 0]))
D_DIAG = st.one_of(st.integers(G, 3 * G + 1), st.sampled_from([G, 3 * G + 1]))


@settings(max_examples=EXAMPLES, deadline=None)
@given(d=D_DIAG, g=st.lists(G_ENTRY, min_size=6, max_size=6))
def test_determinants_are_exact(jl, d, g):
    """det3 and det4 of symmetric matrices with diagonal d ∈ [4e18, 1.2e19 + 1] and off-diagonals
    |g| ≤ 4e18 (the whole range the repair uses), against exact elimination."""
    g01, g02, g03, g12, g13, g23 = g
    m4 = [[d, g01, g02, g03], [g01, d, g12, g13], [g02, g12, d, g23], [g03, g13, g23, d]]
    assert int(jl.det4(d, g)) == _det(m4)
    assert int(jl.det3(d, g01, g02, g12)) == _det([r[:3] for r in m4[:3]])


@settings(max_examples=EXAMPLES, deadline=None)
@given(rows=st.lists(st.one_of(st_option_pnl(), st_raw_pnl()), min_size=1, max_size=4))
def test_majorants_bound_each_side_by_less_than_a_wei(jl, rows):
    """b = y(1) − y(0) exactly and exact a ≤ chain a < exact a + 1 at index v·8 + u·2 + s."""
    a, b = (ints(x) for x in jl.majorants(rows))
    for u, p in enumerate(rows):
        for v in range(3):
            for s, up in enumerate((False, True)):
                a_ex, b_ex = ex.majorant(ex.side_loss(p, v, up))
                k = v * 8 + u * 2 + s
                assert b[k] == b_ex
                assert a_ex <= a[k] < a_ex + 1


def test_large_slopes_are_scaled_and_stay_above_the_exact_loss(jl):
    """|b| = 2^200 (far above 2^96): the slopes lose their low bits, the norm gains n·2^k, and L_ρ
    stays within the budget above the exact value (a hedge at ρ 0.3 and a 3-leg book)."""
    r = 2**198  # b = 4·2^198 = 2^200 per side
    pnl = [[r * int(i) for i in XS] * 3 + [0] * 4, [-3 * r * int(i) for i in XS] * 3 + [0] * 4]
    for rho in ([3 * WAD // 10], [WAD]):
        loss = chain_loss(jl, pnl, rho)
        check_against_references(pnl, rho, loss)
    pnl.append([(r // 7) * int(i) * int(i) for i in XS] * 3 + [0] * 4)
    check_against_references(pnl, [-WAD // 2] * 3, chain_loss(jl, pnl, [-WAD // 2] * 3))


# --- Bad input ---


def test_at_most_four_underlyings(jl):
    row = linear_pnl(WAD, R16)
    assert chain_loss(jl, [row] * 4, [0] * 6) > 0
    with reverts("TooManyUnderlyings", 5, 4):
        chain_loss(jl, [row] * 5, [0] * 10)


@pytest.mark.parametrize("n,given_", [(3, 2), (3, 4), (1, 1), (0, 1), (2, 0)])
def test_correlation_count_must_match_the_pairs(jl, n, given_):
    row = linear_pnl(WAD, R16)
    with reverts("CorrelationCountMismatch", n, given_, n * (n - 1) // 2):
        chain_loss(jl, [row] * n, [0] * given_)


@pytest.mark.parametrize("bad", [WAD + 1, -WAD - 1, 2**255 - 1, -(2**255)])
def test_correlation_outside_minus_one_one_is_rejected(jl, bad):
    row = linear_pnl(WAD, R16)
    chain_loss(jl, [row] * 3, [WAD, -WAD, 0])  # the limits themselves are fine
    with reverts("CorrelationOutOfRange", 2, bad):
        chain_loss(jl, [row] * 3, [WAD, -WAD, bad])


@pytest.mark.parametrize(
    "value,ok",
    [(2**240 - 1, True), (-(2**240), True), (2**240, False), (-(2**240) - 1, False)],
)
def test_scenario_pnl_outside_the_bound_is_rejected(jl, value, ok):
    """P_u(j) must lie in [−2^240, 2^240) (the engine's lie below 2^233); j = 26 is the last
    standard scenario read, j = 27..30 are never read."""
    row = [0] * 31
    row[26] = value
    rows = [[0] * 31, row]
    if ok:
        check_against_references(rows, [0], chain_loss(jl, rows, [0]))
        return
    with reverts("PnlOutOfRange", 1, 26, value):
        chain_loss(jl, rows, [0])
    row[26], row[30] = 0, value  # an extended scenario: not an input of L_ρ
    assert chain_loss(jl, rows, [0]) == 0


def test_joint_loss_above_the_sum_is_rejected(jl):
    pnl = [linear_pnl(WAD, R16)]
    assert chain_scan(jl, pnl, [], 5, 5)[0] == 5
    with reverts("JointLossAboveSum", 6, 5):
        jl.scanRisk(pnl, [], 5, 6)


# --- Deployment ---


def test_library_is_linked_and_deployable(jl, JointLossLib):
    """The harness's code holds the deployed library's address (brownie linked it: the public
    functions are not compiled into the caller), and the library is deployable (EIP-170)."""
    lib = JointLossLib[-1]
    assert lib.address[2:].lower() in jl.bytecode.lower()
    assert len(bytes.fromhex(JointLossLib._build["deployedBytecode"])) < EIP170


def test_pair_order_follows_the_underlyings(jl):
    """ρ is read in pair order (0,1), (0,2), (1,2): a short leg 2 hedged by leg 0 only."""
    r = R16
    pnl = [linear_pnl(60_000 * WAD, r), linear_pnl(0, r), linear_pnl(-60_000 * WAD, r)]
    hedged = chain_loss(jl, pnl, [0, WAD, 0])  # ρ_02 = 1: s_0 + s_2 = 0
    assert hedged == 0
    assert chain_loss(jl, pnl, [WAD, 0, 0]) == ex.isqrt_up(2 * 9600**2 * WAD * WAD)
    for rho in ([0, WAD, 0], [WAD, 0, 0]):
        check_against_references(pnl, rho, chain_loss(jl, pnl, rho))
