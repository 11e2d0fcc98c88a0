"""SPEC v2 §6 anti-procyclicality: σ_eff = max(σ, σ_floor) sets the scan ranges and the haircuts.

Expected figures are closed forms in 40-digit mpmath: R = clamp(2.576·σ_eff·√(2/365), 16%, 50%),
h = min(h_max, h0·max(1, σ_eff/σ_ref)); option values keep the feed's σ.
"""

import dataclasses

import mpmath
import numpy as np
import pytest

from keel.risk import collateral_haircuts, compute_margin, isolated_margin
from keel.risk.bench_portfolios import load_bench

from .helpers import BTC, ETH, market, mp_bs, one, option, perp

SQRT_H = mpmath.sqrt(mpmath.mpf(2) / 365)
# σ at which 2.576·σ·√(2/365) reaches R_min = 16% and R_max = 50%
SIGMA_AT_RMIN = float(mpmath.mpf("0.16") / (mpmath.mpf("2.576") * SQRT_H))  # ≈ 0.8391
SIGMA_AT_RMAX = float(mpmath.mpf("0.50") / (mpmath.mpf("2.576") * SQRT_H))  # ≈ 2.622


def mp_range(sigma_eff: float) -> mpmath.mpf:
    raw = mpmath.mpf("2.576") * mpmath.mpf(sigma_eff) * SQRT_H
    return min(max(raw, mpmath.mpf("0.16")), mpmath.mpf("0.50"))


@pytest.mark.parametrize(
    "floor",
    [
        None,  # no floor: σ = 50% → R_min
        0.0,  # a 0 entry is no floor
        0.4999999,  # just below σ: σ rules
        SIGMA_AT_RMIN * (1 - 1e-9),  # floor binds but R stays at R_min
        SIGMA_AT_RMIN * (1 + 1e-6),  # just past R_min: R = 16%·(1 + 1e-6)
        1.0,  # unclamped: R = 2.576·√(2/365)
        SIGMA_AT_RMAX * (1 - 1e-9),  # just below R_max
        SIGMA_AT_RMAX * (1 + 1e-9),  # just past R_max: clamped at 50%
        6.0,
    ],
)
def test_perp_im_follows_the_floored_scan_range(floor):
    floors = None if floor is None else {BTC: floor}
    m = market(btc=(60000.0, 0.5), vol_floors=floors)
    res = compute_margin(m, one(m, cash=1e6, perps=[perp(BTC, -2.5, 60000.0)]))
    sigma_eff = max(0.5, floor or 0.0)
    assert res.im[0] == pytest.approx(float(2.5 * 60000 * mp_range(sigma_eff)), rel=1e-14)
    # isolated margin reads the same scan range
    assert isolated_margin(m, one(m, perps=[perp(BTC, -2.5, 60000.0)])).im[0] == pytest.approx(
        res.im[0], rel=1e-15
    )


def test_floor_on_one_underlying_only_by_hand():
    """Long 1 BTC perp, short 20 ETH perps ($60,000 each). BTC σ 60%, no floor: R_B = 16%.
    ETH σ 75%, floor 150%: R_E = 2.576·1.5·√(2/365). L_B = 60000·R_B (x = −R), L_E = 60000·R_E
    (x = +R), L_J = 60000·(R_E − R_B) (every standard scenario moves both by the same multiple),
    SR = L_J + ½(L_B + L_E − L_J)."""
    m = market(vol_floors={ETH: 1.5})
    res = compute_margin(
        m, one(m, cash=1e5, perps=[perp(BTC, 1.0, 60000.0), perp(ETH, -20.0, 3000.0)])
    )
    r_b, r_e = mp_range(0.6), mp_range(1.5)
    l_b, l_e, l_j = 60000 * r_b, 60000 * r_e, 60000 * (r_e - r_b)
    assert res.underlying_loss[0].tolist() == pytest.approx([float(l_b), float(l_e)], rel=1e-13)
    assert res.joint_loss[0] == pytest.approx(float(l_j), rel=1e-12)
    assert res.im[0] == pytest.approx(float(l_j + (l_b + l_e - l_j) / 2), rel=1e-13)
    assert res.underlying_worst[0].tolist() == [0, 8] and res.joint_worst[0] == 8


def test_long_call_scan_moves_by_sigma_eff_but_values_at_sigma():
    """Long 1 ETH 3000 call, 30 d, σ 75%, floor 120%: equity is C(3000, 75%); the worst scenario is
    j = 18: x = −R(120%) with σ_dn = 75%·(1 − 0.25) (the vol states keep σ)."""
    m = market(vol_floors={ETH: 1.2})
    res = compute_margin(m, one(m, options=[option(ETH, 3000.0, 30, True, 1.0)]))
    tau = 30 / 365
    c_now = mp_bs(3000, 3000, 0.75, tau, True)
    c_down = mp_bs(3000 * (1 - float(mp_range(1.2))), 3000, 0.5625, tau, True)
    assert res.equity[0] == pytest.approx(c_now, rel=1e-13)
    assert res.underlying_worst[0, 1] == 18
    assert res.im[0] == pytest.approx(c_now - c_down, rel=1e-12)


@pytest.mark.parametrize(
    "floor,h_weth",
    [(None, 0.05), (0.5, 0.05), (0.8, 0.05), (0.8 * (1 + 1e-9), 0.05 * (1 + 1e-9)), (1.6, 0.10),
     (4.0, 0.25), (4.0 * (1 - 1e-9), 0.25 * (1 - 1e-9)), (8.0, 0.25)],
)  # fmt: skip
def test_haircut_reads_sigma_eff(floor, h_weth):
    """ETH σ 75% < σ_ref 80%: the WETH haircut is h0 = 5% until the floor passes σ_ref."""
    m = market(vol_floors=None if floor is None else {ETH: floor})
    h = collateral_haircuts(m)
    assert h[m.token_index("WETH")] == pytest.approx(h_weth, rel=1e-14)
    assert h[m.token_index("WBTC")] == 0.05
    res = compute_margin(m, one(m, collateral={"WETH": 10.0}))
    assert res.haircut[0] == pytest.approx(30000 * h_weth, rel=1e-14)


def test_no_floor_and_floors_below_sigma_leave_every_figure_unchanged():
    bench = load_bench()
    m = bench.market
    base = compute_margin(m, bench.portfolios)
    for floor in (np.zeros(m.n_underlyings), m.vol * 0.999, m.vol):
        res = compute_margin(m.with_vol_floor(floor), bench.portfolios)
        for f in dataclasses.fields(base):
            assert np.array_equal(getattr(res, f.name), getattr(base, f.name)), f.name


@pytest.mark.parametrize(
    "floor", [[-1e-300, 0.0], [np.nan, 0.0], [np.inf, 0.0], [0.5], [0.5, 0.5, 0.5]]
)
def test_bad_floor_is_refused_with_one_line(floor):
    m = market()
    with pytest.raises(ValueError, match="vol floor must be one finite value >= 0 per underlying"):
        m.with_vol_floor(np.array(floor))


def test_floor_for_an_unknown_feed_is_refused():
    with pytest.raises(KeyError, match=r"unknown feed id\(s\) \[3\]"):
        market(vol_floors={3: 0.8})


def test_shocked_market_keeps_its_floor():
    m = market(vol_floors={BTC: 1.0})
    assert m.with_feeds(vol=[0.2, 0.3]).vol_eff.tolist() == [1.0, 0.3]
