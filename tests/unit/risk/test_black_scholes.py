"""Black–Scholes (SPEC §4): values against mpmath, intrinsic limits, greeks against finite differences."""

import numpy as np
import pytest

from keel.risk import bs_greeks, bs_price

from .helpers import mp_bs

POINTS = [
    # spot, strike, vol, tau [years]
    (60000.0, 60000.0, 0.6, 30 / 365),
    (60000.0, 20000.0, 0.05, 1 / (365 * 24)),
    (60000.0, 180000.0, 5.0, 2.0),
    (3000.0, 3300.0, 0.75, 7 / 365),
    (3000.0, 1000.0, 1.5, 0.5),
    (100.0, 300.0, 0.05, 2.0),
]


@pytest.mark.parametrize("spot,strike,vol,tau", POINTS)
@pytest.mark.parametrize("is_call", [True, False])
def test_price_matches_mpmath_within_spec_accuracy(spot, strike, vol, tau, is_call):
    """SPEC §4 accuracy target |V − V_exact| ≤ 1e-12·S holds for the float model too."""
    got = float(bs_price(spot, strike, vol, tau, is_call))
    assert abs(got - mp_bs(spot, strike, vol, tau, is_call)) <= 1e-12 * spot


def test_put_call_parity_holds_with_zero_rate():
    s, k, v, t = 3000.0, np.array([2000.0, 3000.0, 4500.0]), 0.8, 0.25
    assert np.allclose(bs_price(s, k, v, t, True) - bs_price(s, k, v, t, False), s - k, atol=1e-9)


@pytest.mark.parametrize("vol,tau", [(0.6, 0.0), (0.0, 0.5), (0.6, -1.0)])
def test_zero_time_or_zero_vol_gives_intrinsic(vol, tau):
    spot, strikes = 100.0, np.array([80.0, 100.0, 120.0])
    assert np.array_equal(bs_price(spot, strikes, vol, tau, True), [20.0, 0.0, 0.0])
    assert np.array_equal(bs_price(spot, strikes, vol, tau, False), [0.0, 0.0, 20.0])


def test_deep_otm_put_keeps_relative_accuracy():
    """The put comes from d₁/d₂, not parity: a 1e-9-sized put is still accurate to ~1e-12 relative."""
    spot, strike, vol, tau = 60000.0, 30000.0, 0.3, 30 / 365
    exact = mp_bs(spot, strike, vol, tau, False)
    assert 0 < exact < 1e-6
    assert float(bs_price(spot, strike, vol, tau, False)) == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("spot,strike,vol,tau", POINTS[:1] + POINTS[3:5])
@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_match_central_finite_differences(spot, strike, vol, tau, is_call):
    g = bs_greeks(spot, strike, vol, tau, is_call)
    hs, hv, ht = spot * 1e-4, 1e-5, 1e-7

    def v(s=spot, sig=vol, t=tau):
        return float(bs_price(s, strike, sig, t, is_call))

    delta = (v(s=spot + hs) - v(s=spot - hs)) / (2 * hs)
    gamma = (v(s=spot + hs) - 2 * v() + v(s=spot - hs)) / hs**2
    vega = (v(sig=vol + hv) - v(sig=vol - hv)) / (2 * hv)
    theta = -(v(t=tau + ht) - v(t=tau - ht)) / (2 * ht)  # calendar time runs against τ
    assert float(g.delta) == pytest.approx(delta, rel=1e-6, abs=1e-9)
    assert float(g.gamma) == pytest.approx(gamma, rel=1e-4)
    assert float(g.vega) == pytest.approx(vega, rel=1e-6)
    assert float(g.theta) == pytest.approx(theta, rel=1e-5)


def test_greeks_at_expiry_are_the_payoff_slope():
    g = bs_greeks(100.0, np.array([90.0, 110.0]), 0.5, 0.0, np.array([True, False]))
    assert np.array_equal(g.delta, [1.0, -1.0])
    assert np.array_equal(g.gamma, [0.0, 0.0]) and np.array_equal(g.vega, [0.0, 0.0])
