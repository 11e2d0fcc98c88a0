"""SPEC v2 §6 correlation-aware joint loss (docs/CORRELATION.md): properties (a)–(d), the worked
examples of the doc, the PSD repair, the EWMA correlation, and bad input.

Independent checks: (d) against scipy's normal quantile of the linear combination; (a)–(c) against
L_J and Σ L_u of the per-account scalar loop (tests/unit/risk/scalar_model.py); the upper-bound
claim of the derivation against a brute-force search of the ellipse.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from keel.risk import CollateralToken, MarginParams, MarketState, Portfolios, compute_margin
from keel.risk.correlation import (
    correlated_loss,
    correlated_losses,
    needs_correlated_loss,
    psd_shrink,
    stressed_correlation,
)
from keel.risk.ewma import EwmaCorrelation
from keel.risk.scenarios import VOL_DOWN, VOL_NONE, VOL_UP

from .helpers import BTC, ETH, T0, market, one, option, perp
from .scalar_model import margin_one_account
from .test_vectorised_vs_scalar import st_account

SQ = math.sqrt(2 / 365)
Z = 2.576  # scan quantile of SPEC §6
TOL = 1e-9
FEEDS4 = (1, 2, 3, 4)


def scan(vol):
    return min(max(Z * vol * SQ, 0.16), 0.50)


def v2(m: MarketState, rho: dict) -> MarketState:
    return m.with_correlations(rho)


# --- ρ_s and the PSD repair ---


@pytest.mark.parametrize(
    "rho,expected",
    [
        (1.0, 1.0),
        (0.9, 0.8),  # 2ρ − 1 binds above 0.8
        (0.8, 0.6),  # the kink: 2ρ − 1 = 0.75ρ
        (0.6, 0.45),  # 0.75ρ binds below 0.8
        (0.0, 0.0),
        (-0.5, -0.625),
        (-0.8, -1.0),  # 1.25ρ reaches −1 exactly
        (-0.9, -1.0),  # floored at −1
        (-1.0, -1.0),
    ],
)
def test_stressed_correlation_points(rho, expected):
    assert stressed_correlation(rho) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("rho", [1.0 + 1e-12, -1.0 - 1e-12, math.nan])
def test_correlation_outside_minus_one_one_is_rejected(rho):
    with pytest.raises(ValueError, match="outside|lie in"):
        market().with_correlations({(BTC, ETH): rho})


def test_missing_pair_is_rejected_with_the_pair_named():
    m = MarketState.build({1: (100.0, 0.8, T0), 2: (50.0, 0.8, T0), 3: (10.0, 0.8, T0)})
    acc = dict(cash=1e5, perps=[perp(1, 1.0, 100.0), perp(3, -1.0, 10.0)])
    with pytest.raises(ValueError, match="no correlation for underlyings 1 and 3"):
        compute_margin(m.with_correlations({(1, 2): 0.5}), one(m, **acc))


def test_self_and_repeated_pairs_are_rejected():
    with pytest.raises(ValueError, match="itself"):
        market().with_correlations({(BTC, BTC): 0.5})
    with pytest.raises(ValueError, match="two correlations"):
        market().with_correlations({(BTC, ETH): 0.5, (ETH, BTC): 0.4})


def test_psd_repair_of_equicorrelated_three_by_three():
    """ρ = −0.5 for every pair is PSD (λ_min = 1 + 2ρ = 0); stressed −0.625 gives λ_min = −0.25,
    so t = 0.25 / 1.25 = 0.2 and the repaired off-diagonal is 0.8 · (−0.625) = −0.5 (doc example 2).
    """
    rho_s = stressed_correlation(np.full((3, 3), -0.5) + 1.5 * np.eye(3))
    assert rho_s[0, 1] == -0.625 and rho_s[0, 0] == 1.0
    repaired, t = psd_shrink(rho_s)
    assert t == pytest.approx(0.2, rel=1e-12)
    assert repaired[0, 1] == pytest.approx(-0.5, rel=1e-12)
    assert np.diag(repaired) == pytest.approx(np.ones(3), abs=1e-15)


def test_psd_matrix_is_left_alone():
    rho_s = stressed_correlation(np.array([[1, 0.7, 0.7], [0.7, 1, 0.0], [0.7, 0.0, 1]]))
    repaired, t = psd_shrink(rho_s)
    assert t == 0.0 and (repaired == rho_s).all()


# --- Worked examples of docs/CORRELATION.md ---


@pytest.mark.parametrize(
    "rho,expected_sr",
    # s = (9600, −9600): SR = 9600·sqrt(2 − 2ρ_s); ρ 0.74 → ρ_s 0.555; 0.3 → 0.225; 0.99 → 0.98
    # gives 9600·sqrt(0.04) = 1920 < the 80% floor 0.2 · 19200 = 3840.
    [(0.74, 9600 * math.sqrt(0.89)), (0.3, 9600 * math.sqrt(1.55)), (0.99, 3840.0)],
)
def test_example_1_btc_eth_pair(rho, expected_sr):
    m = market()  # BTC σ 60%, ETH σ 75%: R = 16% for both
    book = one(m, cash=2e4, perps=[perp(BTC, 1.0, 60000.0), perp(ETH, -20.0, 3000.0)])
    res = compute_margin(v2(m, {(BTC, ETH): rho}), book)
    assert res.scan_risk[0] == pytest.approx(expected_sr, rel=1e-12)
    assert compute_margin(m, book).scan_risk[0] == pytest.approx(9600.0, rel=1e-12)  # v1, c = ½


def test_example_2_three_underlyings_psd_repair():
    """Equal long $10,000 of three underlyings at R = 16% each (s = 1600 each), ρ = −0.5 for every
    pair: repaired ρ_s' has off-diagonals −0.5, so sᵀρ_s's = 1600²·(3 − 3) = 0 and L_ρ = 0; the
    floor is L_J = 4800 (all three fall together in the comonotone grid)."""
    feeds = {f: (100.0, 0.5, T0) for f in (1, 2, 3)}
    m = MarketState.build(feeds, correlations={(1, 2): -0.5, (1, 3): -0.5, (2, 3): -0.5})
    book = one(m, cash=1e5, perps=[perp(f, 100.0, 100.0) for f in (1, 2, 3)])
    res = compute_margin(m, book)
    # sqrt of a rounding-level sᵀρs (≈ 1e-16 · 1600²) is ≈ 4e-5, not 0
    assert res.correlated_loss[0] == pytest.approx(0.0, abs=1e-4)
    assert res.scan_risk[0] == pytest.approx(4800.0, rel=1e-12)


def straddle_book():
    """Doc example 3: short 30-day ATM put on 1 BTC against a short 30-day ATM call on 20 ETH."""
    m = market()
    return m, one(
        m,
        cash=1e5,
        options=[option(BTC, 60000.0, 30, False, -1.0), option(ETH, 3000.0, 30, True, -20.0)],
    )


@pytest.mark.parametrize(
    "rho,l_rho,sr",
    [(0.95, 8232.29, 9379.00), (0.74, 10205.25, 10205.25), (-0.5, 15248.88, 15248.88)],
)
def test_example_3_opposite_short_options(rho, l_rho, sr):
    """Figures of the doc's table; at ρ 0.95 the 80% floor binds: 7621.48 + 0.2 · (16409.08 −
    7621.48). v1 (c = ½) gives 12015.28 at every ρ."""
    m, book = straddle_book()
    res = compute_margin(v2(m, {(BTC, ETH): rho}), book)
    assert res.correlated_loss[0] == pytest.approx(l_rho, abs=0.01)
    assert res.scan_risk[0] == pytest.approx(sr, abs=0.01)
    rs = float(stressed_correlation(rho))
    ml = brute_force_max_loss(res.scenario_pnl[0], np.array([[1.0, rs], [rs, 1.0]]))
    assert res.correlated_loss[0] >= ml - 1e-6


# --- The upper-bound claim: L_ρ ≥ the largest loss over the ellipse ---

GRID = np.arange(-4, 5) / 4.0  # standard spot points [scan ranges]


def brute_force_max_loss(pnl_u: np.ndarray, rho_s: np.ndarray, n_dir: int = 2000) -> float:
    """max over vol states v and k with kᵀ ρ_s⁻¹ k ≤ 1 of −Σ_u P_u(k_u, v), P_u piecewise linear
    through the 9 standard points: k = C·z over random directions z (‖z‖ = 1) and radii, C C = ρ_s
    (a symmetric square root, so a singular ρ_s is fine)."""
    n_u = len(pnl_u)
    w, v = np.linalg.eigh(rho_s)
    c = v @ np.diag(np.sqrt(np.maximum(w, 0.0))) @ v.T
    rng = np.random.default_rng(7)
    z = rng.normal(size=(n_dir, n_u))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    pts = np.concatenate([z * r for r in np.linspace(0.0, 1.0, 21)]) @ c.T
    corners = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n_u)))
    z_c = corners @ np.linalg.pinv(c).T  # k = C z_c when k lies in C's range (ρ_s may be singular)
    in_range = np.linalg.norm(z_c @ c.T - corners, axis=1) <= 1e-9
    inside = in_range & (np.linalg.norm(z_c, axis=1) <= 1.0 + 1e-12)
    pts = np.concatenate([pts, corners[inside]])
    pts = np.clip(pts, -1.0, 1.0)
    best = 0.0
    for state in (VOL_NONE, VOL_UP, VOL_DOWN):
        total = sum(
            np.interp(pts[:, u], GRID, pnl_u[u, 9 * state : 9 * state + 9]) for u in range(n_u)
        )
        best = max(best, float(-total.min()))
    return best


@st.composite
def st_corr_market(draw):
    n = draw(st.integers(min_value=2, max_value=4))
    feeds = {
        f: (
            draw(st.floats(min_value=1.0, max_value=1e5)),
            draw(st.floats(min_value=0.05, max_value=5.0)),
            T0 + draw(st.integers(min_value=-600, max_value=600)),
        )
        for f in FEEDS4[:n]
    }
    tokens = [
        CollateralToken("WBTC", feeds[1][0], 8, 1, 0.05, 0.25, 0.8),
        CollateralToken("WETH", feeds[2][0], 18, 2, 0.05, 0.25, 0.8),
        CollateralToken("DAI", 1.0, 18, 0, 0.02, 0.25, 0.8),
    ]
    rho = {
        (f, g): draw(st.floats(min_value=-1.0, max_value=1.0))
        for f, g in itertools.combinations(FEEDS4[:n], 2)
    }
    return MarketState.build(feeds, tokens, 0.01, {}, MarginParams(), rho)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_properties_a_b_c_on_random_options_books(data):
    """(a) SR ≥ L_J, (b) SR ≤ Σ L_u, (c) SR ≥ L_J + 0.2(Σ L_u − L_J), with L_J and L_u from the
    scalar loop; and L_ρ bounds the brute-force maximum loss over the ρ_s' ellipse from above."""
    m = data.draw(st_corr_market())
    acc = data.draw(st_account(m))
    res = compute_margin(m, Portfolios.from_accounts([acc], m))
    ref = margin_one_account(m, acc)
    sum_l, l_j = sum(ref.losses.values()), ref.joint_loss
    sr = float(res.scan_risk[0])
    tol = 1e-6 + TOL * sum_l
    assert sr >= l_j - tol
    assert sr <= sum_l + tol
    assert sr >= l_j + 0.2 * (sum_l - l_j) - tol
    held = np.flatnonzero(res.exposed[0])
    if len(held):
        ids = m.feed_ids[held]
        rho = np.eye(len(ids))
        for i, j in itertools.combinations(range(len(ids)), 2):
            rho[i, j] = rho[j, i] = m.correlations[(int(ids[i]), int(ids[j]))]
        rho_s, _ = psd_shrink(stressed_correlation(rho))
        ml = brute_force_max_loss(res.scenario_pnl[0][held], rho_s, n_dir=300)
        # L_ρ of every book (the margin computes it only where SR needs it)
        every = correlated_losses(res.scenario_pnl, res.exposed, m.feed_ids, m.correlations)
        assert every[0] >= ml - tol
    if not needs_correlated_loss(sum_l, l_j, len(held)):
        # L_J = Σ L_u (within rounding): SR is Σ L_u, and no L_ρ is computed (as on chain)
        assert res.correlated_loss[0] == 0.0 and sr == pytest.approx(sum_l, rel=1e-9, abs=1e-6)


# --- (d): a linear book is margined as the 99% joint move under ρ_s requires ---


def quantile(var: float) -> float:
    """scipy's quantile at the scan level Φ(2.576) of a normal loss with variance `var` (0 → 0)."""
    return float(norm.ppf(norm.cdf(Z), scale=math.sqrt(var))) if var > 0.0 else 0.0


@settings(max_examples=300, deadline=None)
@given(
    q=st.tuples(st.floats(-50.0, 50.0), st.floats(-500.0, 500.0)),
    vol=st.tuples(st.floats(0.05, 5.0), st.floats(0.05, 5.0)),
    rho=st.floats(-1.0, 1.0),
)
# found by CI: the extended −min(3R, 90%) cap binds on BTC only, so L_J comes from an extended
# scenario and the 80% floor sits 1e-9 above the ellipse's loss
@example(
    q=(-1.1076855783705877, 98.72082173916577), vol=(2.079121078111494, 0.05), rho=0.850162275249098
)
def test_property_d_linear_two_underlying_book(q, vol, rho):
    """SR = max(q_99, L_J + 0.2(Σ L_u − L_J)), q_99 the normal quantile (at the scan level Φ(2.576))
    of the loss −Σ Δ_u r_u with r ~ N(0, Σ), Σ_uv = ρ_s σ_u σ_v, σ_u = R_u / 2.576 the 2-day sd that
    R_u stands for (σ_u√(2/365) where R is not clamped)."""
    m = market(btc=(60000.0, vol[0]), eth=(3000.0, vol[1]))
    book = one(m, cash=1e6, perps=[perp(BTC, q[0], 60000.0), perp(ETH, q[1], 3000.0)])
    res = compute_margin(v2(m, {(BTC, ETH): rho}), book)
    delta = np.array([q[0] * 60000.0, q[1] * 3000.0])  # [USD]
    r = np.array([scan(vol[0]), scan(vol[1])])
    sd = r / Z
    rs = float(stressed_correlation(rho))
    cov = np.array([[sd[0] ** 2, rs * sd[0] * sd[1]], [rs * sd[0] * sd[1], sd[1] ** 2]])
    q99 = quantile(float(delta @ cov @ delta))
    # L_J and Σ L_u over the SPEC §6 grid, written out here: the standard moves ±R (the worst of a
    # linear book) and the extended ones at weight 0.3, whose −min(kR, 90%) cap can make the joint
    # loss of a hedge exceed the standard grid's when only one leg is capped
    moves = [(1.0, r), (1.0, -r)] + [
        (0.3, k * r) for k in (2.0, 3.0)
    ] + [(0.3, -np.minimum(k * r, 0.9)) for k in (2.0, 3.0)]  # fmt: skip
    pnl = np.array([w * delta * x for w, x in moves])  # (scenario, underlying) [USD]
    l_j = max(0.0, -pnl.sum(axis=1).min())
    sum_l = np.maximum(0.0, -pnl.min(axis=0)).sum()
    expected = max(q99, l_j + 0.2 * (sum_l - l_j))
    assert res.scan_risk[0] == pytest.approx(expected, rel=1e-9, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(
    q=st.lists(st.floats(-100.0, 100.0), min_size=4, max_size=4),
    loadings=st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4),
)
def test_property_d_linear_four_underlying_book(q, loadings):
    """With a one-factor ρ (ρ_uv = β_u β_v, PSD) whose stressed matrix is still PSD, L_ρ is the
    normal quantile of the linear combination (scipy), for four underlyings."""
    beta = np.array(loadings)
    corr = {
        (f, g): float(beta[i] * beta[j])
        for (i, f), (j, g) in itertools.combinations(enumerate(FEEDS4), 2)
    }
    rho_s = stressed_correlation(np.outer(beta, beta) + np.diag(1.0 - beta**2))
    assume(np.linalg.eigvalsh(rho_s)[0] >= 0.0)
    feeds = {f: (100.0, 0.3 + 0.5 * i, T0) for i, f in enumerate(FEEDS4)}
    m = MarketState.build(feeds, correlations=corr)
    book = one(m, cash=1e6, perps=[perp(f, q[i], 100.0) for i, f in enumerate(FEEDS4)])
    res = compute_margin(m, book)
    r = np.array([scan(0.3 + 0.5 * i) for i in range(4)])
    delta = 100.0 * np.array(q)
    sd = r / Z
    var = float(delta @ (rho_s * np.outer(sd, sd)) @ delta)
    q99 = quantile(var)
    # L_ρ of the book, needed by SR or not (a book whose legs all lose together needs none)
    every = correlated_losses(res.scenario_pnl, res.exposed, m.feed_ids, m.correlations)
    assert every[0] == pytest.approx(q99, rel=1e-9, abs=1e-6)


# --- v1 stays the default; an account's margin ignores underlyings it does not hold ---


def test_without_correlations_the_v1_rule_applies():
    m = market()
    res = compute_margin(m, one(m, perps=[perp(BTC, 1.0, 6e4), perp(ETH, -20.0, 3e3)]))
    assert res.correlated_loss is None and res.scan_risk[0] == pytest.approx(9600.0, rel=1e-12)


def test_pair_margin_ignores_a_third_underlying_it_does_not_hold():
    """The PSD repair works on the held set: a non-PSD triple does not move a BTC/ETH pair."""
    feeds = {1: (60000.0, 0.6, T0), 2: (3000.0, 0.75, T0), 3: (100.0, 0.8, T0)}
    pair = dict(cash=1e5, perps=[perp(1, 1.0, 6e4), perp(2, -20.0, 3e3)])
    bad = {(1, 2): -0.5, (1, 3): -0.5, (2, 3): -0.5}
    m = MarketState.build(feeds, correlations=bad)
    res = compute_margin(m, one(m, **pair))
    assert res.scan_risk[0] == pytest.approx(9600 * math.sqrt(2 + 2 * 0.625), rel=1e-12)


def test_single_underlying_books_are_unchanged_by_v2():
    m = market()
    book = one(m, options=[option(BTC, 60000.0, 30, True, -1.0), option(BTC, 6e4, 30, False, -1.0)])
    v1 = compute_margin(m, book)
    got = compute_margin(v2(m, {(BTC, ETH): 0.2}), book)
    assert got.scan_risk[0] == v1.scan_risk[0] == v1.joint_loss[0]


# --- The relayer's EWMA correlation ---


def test_ewma_correlation_equals_its_closed_form():
    rng = np.random.default_rng(3)
    prices = np.exp(np.cumsum(rng.normal(0, 0.04, size=(80, 2)) @ [[1, 0.6], [0, 0.8]], axis=0))
    got = EwmaCorrelation.of_prices(prices[:, 0].tolist(), prices[:, 1].tolist()).rho
    r = np.diff(np.log(prices), axis=0)
    lam, n = 0.94, len(r)
    w = (1 - lam) * lam ** np.arange(n - 1, -1, -1)
    var0 = 0.8**2 / 365  # seed: 80% a year, per daily period
    va = lam**n * var0 + w @ r[:, 0] ** 2
    vb = lam**n * var0 + w @ r[:, 1] ** 2
    cov = w @ (r[:, 0] * r[:, 1])  # seed ρ 0
    assert got == pytest.approx(cov / math.sqrt(va * vb), rel=1e-12)


def test_ewma_correlation_of_identical_and_opposite_series():
    path = (100.0, 103.0, 99.0, 110.0)
    same = EwmaCorrelation.of_prices(path, [2 * p for p in path], initial_rho=1.0)
    opposite = EwmaCorrelation.of_prices(path, [1e4 / p for p in path], initial_rho=-1.0)
    assert same.rho == pytest.approx(1.0, abs=1e-12)
    assert opposite.rho == pytest.approx(-1.0, abs=1e-12)


def test_correlated_loss_of_no_underlying_is_zero():
    assert correlated_loss(np.zeros((3, 0, 31)), np.eye(0)).tolist() == [0.0, 0.0, 0.0]
