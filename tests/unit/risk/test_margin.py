"""SPEC §6 figures checked by hand: perps, covered call, a two-leg spread, SOM, haircuts, credit."""

import math

import numpy as np
import pytest

from keel.risk import Account, CollateralToken, Portfolios, collateral_haircuts, compute_margin

from .helpers import BTC, DAY, ETH, T0, market, mp_bs, one, option, perp

SQ = math.sqrt(2 / 365)


# --- A single perp: IM = |q|·S·R_u ---


@pytest.mark.parametrize(
    "vol,r",
    [(0.30, 0.16), (1.0, 2.576 * SQ), (4.0, 0.50)],
    ids=["R_min clamp", "unclamped", "R_max clamp"],
)
@pytest.mark.parametrize("size", [2.5, -2.5])
def test_single_perp_im_is_size_times_spot_times_scan_range(vol, r, size):
    m = market(btc=(60000.0, vol))
    res = compute_margin(m, one(m, cash=1e6, perps=[perp(BTC, size, 60000.0)]))
    assert res.im[0] == pytest.approx(abs(size) * 60000.0 * r, rel=1e-14)
    assert res.mm[0] == pytest.approx(0.8 * res.im[0], rel=1e-15)
    assert res.som[0] == 0.0
    # long loses at x = −R (j = 0, first of 0/9/18), short at x = +R (j = 8)
    assert res.underlying_worst[0, 0] == (0 if size > 0 else 8)


def test_perp_equity_counts_unrealised_pnl_and_funding_owed():
    m = market()
    res = compute_margin(m, one(m, cash=-500.0, perps=[perp(BTC, -2, 61000.0, funding=12.5)]))
    # E = −500 + (−2)(60000 − 61000) − 12.5; negative cash carries no haircut
    assert res.equity[0] == pytest.approx(1487.5, abs=1e-9)
    assert res.adjusted_equity[0] == res.equity[0]


# --- Covered call and a two-leg spread, by hand ---

TAU30 = 30 / 365
# ETH σ 75%: R = max(2.576·0.75·√(2/365), 16%) = 16%; τ = 30 d → m = 1: σ_up 112.5%, σ_dn 56.25%.


def test_covered_call_by_hand():
    """10 WETH + short 10 ETH 3300 calls (30 d): worst is j = 9 (x = −16%, σ_up).

    L = 10·3000·0.16 − 10·(C(3000, 75%) − C(2520, 112.5%)) = 4800 − 10·(54.27… − 4.14…)."""
    m = market()
    book = one(m, collateral={"WETH": 10.0}, options=[option(ETH, 3300.0, 30, True, -10.0)])
    res = compute_margin(m, book)
    c_now = mp_bs(3000, 3300, 0.75, TAU30, True)
    c_dn_up = mp_bs(2520, 3300, 1.125, TAU30, True)
    expected = 4800.0 - 10 * (c_now - c_dn_up)
    assert res.im[0] == pytest.approx(expected, rel=1e-12)
    assert res.im[0] == pytest.approx(4384.21, abs=0.01)
    assert res.underlying_worst[0, 1] == 9 and res.joint_worst[0] == 9
    # E = 10 WETH + short call; AE takes 5% off the WETH (σ 75% < σ_ref 80%)
    assert res.equity[0] == pytest.approx(30000 - 10 * c_now, rel=1e-13)
    assert res.adjusted_equity[0] == pytest.approx(res.equity[0] - 1500.0, rel=1e-13)


def test_bull_call_spread_by_hand():
    """Long 10 ETH 3000 calls, short 10 ETH 3300 calls (30 d): worst is j = 18 (x = −16%, σ_dn)."""
    m = market()
    book = one(
        m,
        options=[option(ETH, 3000.0, 30, True, 10.0), option(ETH, 3300.0, 30, True, -10.0)],
    )
    res = compute_margin(m, book)

    def leg(k):
        return mp_bs(2520, k, 0.5625, TAU30, True) - mp_bs(3000, k, 0.75, TAU30, True)

    expected = -10 * (leg(3000) - leg(3300))
    assert res.im[0] == pytest.approx(expected, rel=1e-12)
    assert res.im[0] == pytest.approx(887.80, abs=0.01)
    assert res.underlying_worst[0, 1] == 18
    assert res.som[0] == pytest.approx(0.01 * 10 * 3000)


def test_short_option_minimum_binds_for_far_otm_short_call():
    """Short 1 BTC 180000 call (7 d): scenario loss is cents, SOM = 1%·1·60000 = 600."""
    m = market()
    res = compute_margin(m, one(m, cash=10_000.0, options=[option(BTC, 180000.0, 7, True, -1.0)]))
    assert res.scan_risk[0] < 5.0
    assert res.som[0] == pytest.approx(600.0, rel=1e-15)
    assert res.im[0] == res.som[0]


def test_long_options_add_nothing_to_som():
    m = market()
    res = compute_margin(m, one(m, options=[option(BTC, 60000.0, 7, False, 3.0)]))
    assert res.som[0] == 0.0


# --- Haircuts (SPEC §2, DESIGN.md: USDC haircut on positive cash) ---


@pytest.mark.parametrize("eth_vol,h_weth", [(0.75, 0.05), (0.80, 0.05), (1.60, 0.10), (8.0, 0.25)])
def test_dynamic_haircut_scales_with_vol_and_caps_at_h_max(eth_vol, h_weth):
    m = market(eth=(3000.0, eth_vol))
    h = collateral_haircuts(m)
    assert h[m.token_index("WETH")] == pytest.approx(h_weth, rel=1e-15)
    assert h[m.token_index("WBTC")] == pytest.approx(0.05)  # BTC σ 60% < σ_ref


def test_unlinked_token_keeps_its_base_haircut():
    toks = [CollateralToken("DAI", 1.0, 18, 0, 0.02, 0.25, 0.8)]
    m = market(eth=(3000.0, 5.0), tokens=toks)
    assert collateral_haircuts(m).tolist() == [0.02]


def test_settlement_haircut_applies_to_positive_cash_only():
    m = market()
    res = compute_margin(
        m,
        Portfolios.from_accounts(
            [Account(cash=20000.0), Account(cash=-20000.0, collateral={"WBTC": 1.0})], m
        ),
    )
    assert res.haircut.tolist() == pytest.approx([200.0, 3000.0])
    assert res.adjusted_equity.tolist() == pytest.approx([19800.0, 40000.0 - 3000.0])


# --- Correlation credit on two underlyings ---


@pytest.mark.parametrize(
    "eth_size,c,joint,expected_sr",
    [
        (20.0, 0.5, 19200.0, 19200.0),  # same direction: no diversification, SR = Σ L_u
        (-20.0, 0.5, 0.0, 9600.0),  # perfect joint hedge: half of 19200 credited
        (-20.0, 0.8, 0.0, 3840.0),  # c = 0.8: 80% credited
        (-10.0, 0.5, 4800.0, 9600.0),  # L_J 4800, Σ L_u 14400: 4800 + 0.5·9600
    ],
)
def test_correlation_credit_arithmetic(eth_size, c, joint, expected_sr):
    """Long 1 BTC perp and an ETH perp, both R = 16%: L_BTC = 9600, L_ETH = |q|·3000·0.16."""
    m = market().with_params(correlation_credit=c)
    res = compute_margin(m, one(m, perps=[perp(BTC, 1.0, 60000.0), perp(ETH, eth_size, 3000.0)]))
    assert res.underlying_loss[0].tolist() == pytest.approx([9600.0, abs(eth_size) * 480.0])
    assert res.joint_loss[0] == pytest.approx(joint, abs=1e-9)
    assert res.scan_risk[0] == pytest.approx(expected_sr, rel=1e-14, abs=1e-9)


def test_correlation_credit_above_eighty_percent_is_rejected():
    with pytest.raises(ValueError, match="correlation credit"):
        market().with_params(correlation_credit=0.81)


def test_linked_collateral_is_a_spot_position_in_the_scenarios():
    """2 WBTC hedged by a 2 BTC short perp: no scan risk, only the 5% haircut in AE."""
    m = market()
    res = compute_margin(m, one(m, collateral={"WBTC": 2.0}, perps=[perp(BTC, -2.0, 60000.0)]))
    assert res.im[0] == 0.0
    assert res.adjusted_equity[0] == pytest.approx(120000.0 * 0.95)
    assert res.exposed[0].tolist() == [True, False]


# --- Expired options (DESIGN.md) ---


def test_expired_option_with_fixed_price_is_its_payoff_without_risk():
    expiry = T0 - DAY
    m = market(settlement_prices={(BTC, expiry): 55000.0})
    book = one(m, options=[option(BTC, 60000.0, -1, False, -2.0)])
    res = compute_margin(m, book)
    assert res.equity[0] == pytest.approx(-2 * 5000.0)
    assert res.im[0] == 0.0 and res.som[0] == 0.0
    assert not res.scenario_pnl[0].any()


def test_expired_option_without_fixed_price_is_intrinsic_at_spot_and_keeps_risk():
    m = market()
    res = compute_margin(m, one(m, options=[option(BTC, 63000.0, -1, False, 1.0)]))
    assert res.equity[0] == pytest.approx(3000.0)
    # long put at τ = 0 loses its 3000 intrinsic when spot rises 16% (then 9600 above strike)
    assert res.underlying_loss[0, 0] == pytest.approx(3000.0)


def test_valuation_time_is_the_feeds_observed_at():
    """τ comes from observedAt, so an option's value ignores block time altogether."""
    m = market()
    later = m.with_feeds(observed_at=m.observed_at + 3600)
    book = one(m, options=[option(BTC, 60000.0, 30, True, 1.0)])
    v_now = compute_margin(m, book).equity[0]
    v_later = compute_margin(later, book).equity[0]
    assert v_now == pytest.approx(mp_bs(60000, 60000, 0.6, 30 / 365, True), rel=1e-12)
    assert v_later == pytest.approx(mp_bs(60000, 60000, 0.6, (30 * DAY - 3600) / (365 * DAY), True))


def test_per_account_view_lists_exposed_underlyings_only():
    m = market()
    res = compute_margin(m, one(m, account_id=7, perps=[perp(ETH, 1.0, 3000.0)]))
    view = res.account(0)
    assert view.account_id == 7 and list(view.underlyings) == [ETH]
    assert view.underlyings[ETH] == (pytest.approx(480.0), 0)
    assert "account 7" in str(view)
    assert res.by_id(7) == view
    assert np.array_equal(res.feed_ids, [BTC, ETH])
