"""Isolated vs portfolio margin of two-leg books, checked by hand, and the capital goals."""

import math

import mpmath
import pytest

from keel.reports.capital import BookCapital, capital_efficiency, capital_goals
from keel.risk import Account, CollateralToken, MarketState, Option, Perp, Portfolios

T0 = 1_767_225_600
BTC, ETH = 1, 2


def market(eth_vol=0.75):
    return MarketState.build(
        {BTC: (60000.0, 0.6, T0), ETH: (3000.0, eth_vol, T0)},
        [CollateralToken("WETH", 3000.0, 18, ETH, 0.05, 0.25, 0.80)],
    )


def test_short_perp_against_weth_collateral():
    """10 WETH + short 10 ETH perp at $3,000, ETH vol 75%.
    R = clamp(2.576·0.75·√(2/365), 16%, 50%) = clamp(14.30%) = 16%.
    Isolated: the WETH alone loses 30,000·16% = 4,800 at −R, the perp alone 4,800 at +R: 9,600.
    Portfolio: P(j) = 30,000·x_j − 30,000·x_j = 0 in every scenario, so IM = 0."""
    m = market()
    book = Account(cash=0.0, collateral={"WETH": 10.0}, perps=[Perp(ETH, -10.0, 3000.0)])
    (b,) = capital_efficiency(m, Portfolios.from_accounts([book], m), ["basis"])
    assert 2.576 * 0.75 * math.sqrt(2 / 365) < 0.16
    assert b.isolated_collateral == pytest.approx(4800.0)
    assert b.isolated_perps == pytest.approx(4800.0)
    assert b.isolated == pytest.approx(9600.0)
    assert b.portfolio == 0.0
    assert b.portfolio_to_isolated == 0.0
    assert b.simple_cross == pytest.approx(0.10 * 30000.0)  # 10% of the perp's notional


def test_btc_long_eth_short_pair_with_different_scan_ranges():
    """Long 1 BTC perp ($60,000, σ 60%: R_B = 16% floor), short 20 ETH perps ($60,000, σ 150%:
    R_E = 2.576·1.5·√(2/365) = 28.60%).
    Alone: L_B = 60,000·R_B = 9,600 (at −R), L_E = 60,000·R_E (at +R); isolated = L_B + L_E.
    Jointly every scenario moves both by the same multiple f of their ranges:
    P(j) = w·f·60,000·(R_B − R_E), worst at f = +1: L_J = 60,000·(R_E − R_B).
    SR = L_J + 0.5·(L_B + L_E − L_J) = 60,000·R_E; no options, so IM = SR."""
    m = market(eth_vol=1.5)
    book = Account(perps=[Perp(BTC, 1.0, 60000.0), Perp(ETH, -20.0, 3000.0)])
    (b,) = capital_efficiency(m, Portfolios.from_accounts([book], m), ["pair"])
    r_e = 2.576 * 1.5 * math.sqrt(2 / 365)
    l_b, l_e = 9600.0, 60000.0 * r_e
    l_j = 60000.0 * (r_e - 0.16)
    assert b.underlying_loss == {"BTC": pytest.approx(l_b), "ETH": pytest.approx(l_e)}
    assert b.joint_loss == pytest.approx(l_j)
    assert b.isolated == pytest.approx(l_b + l_e)
    assert b.portfolio == pytest.approx(l_j + 0.5 * (l_b + l_e - l_j))
    assert b.portfolio == pytest.approx(60000.0 * r_e)
    assert b.portfolio_to_isolated == pytest.approx(r_e / (0.16 + r_e))


def _book(name, iso, pm):
    return BookCapital(name, iso, 0, 0, 0, 0, 0, 0, 0, pm, pm, 0, 0, {}, 0)


def test_capital_goals_report_each_tight_book_and_the_overall_check():
    goals = capital_goals(
        [
            _book("calendar_spread", 100.0, 35.0),  # exactly 35%: met
            _book("bull_call_spread", 100.0, 36.0),  # 36%: missed
            _book("naked_long_perp", 100.0, 100.0),
        ]
    )
    by_goal = {g.goal: g.met for g in goals}
    assert by_goal["portfolio margin ≤ isolated margin for every book"] is True
    assert by_goal["calendar_spread: portfolio margin ≤ 35% of isolated"] is True
    assert by_goal["bull_call_spread: portfolio margin ≤ 35% of isolated"] is False


def test_capital_goal_missed_when_portfolio_exceeds_isolated():
    (overall,) = capital_goals([_book("x", 100.0, 101.0)])
    assert overall.met is False
    assert "x" in overall.detail


def _mp_call(spot, strike, vol, tau):
    """Black–Scholes call (r = 0) in 40-digit arithmetic."""
    s, k, v, t = (mpmath.mpf(x) for x in (spot, strike, vol, tau))
    d1 = (mpmath.log(s / k) + v * v * t / 2) / (v * mpmath.sqrt(t))
    return s * mpmath.ncdf(d1) - k * mpmath.ncdf(d1 - v * mpmath.sqrt(t))


def test_bull_call_spread_isolated_vs_portfolio_from_the_scenario_list():
    """Long 10 ETH calls K = 3,000, short 10 K = 3,300, 30 days, S = 3,000, σ = 75%.
    R = 16%; at τ = 30 days m = 1, so σ_up = 112.5%, σ_dn = 56.25%. The 31 scenarios written out:
    9 spot points × 3 vols, then ±2R, ±3R at σ_up weighted 0.3 (−3R capped at 90%: not binding).
    Isolated = the long leg's worst loss + max(the short leg's worst loss, SOM 1%·10·3,000);
    portfolio = the spread's worst loss (SOM $300 is below it)."""
    with mpmath.workdps(40):
        s, sig, tau, r = 3000.0, 0.75, 30 / 365, 0.16
        scen = [(r * (i - 4) / 4, v, 1.0) for v in (sig, 1.5 * sig, 0.75 * sig) for i in range(9)]
        scen += [(x, 1.5 * sig, 0.3) for x in (2 * r, 3 * r, -2 * r, -3 * r)]

        def pnl(strike):
            v0 = _mp_call(s, strike, sig, tau)
            return [w * (_mp_call(s * (1 + x), strike, v, tau) - v0) for x, v, w in scen]

        long_leg, short_leg = pnl(3000.0), pnl(3300.0)
        iso_long = 10 * max(0, -min(long_leg))
        iso_short = max(10 * max(0, max(short_leg)), 0.01 * 10 * s)
        spread = 10 * max(0, -min(a - b for a, b in zip(long_leg, short_leg, strict=True)))

    m = market()
    expiry = T0 + 30 * 86400
    book = Account(
        options=[Option(ETH, 3000.0, expiry, True, 10.0), Option(ETH, 3300.0, expiry, True, -10.0)]
    )
    (b,) = capital_efficiency(m, Portfolios.from_accounts([book], m), ["bull_call_spread"])
    assert b.isolated == pytest.approx(float(iso_long + iso_short), rel=1e-9)
    assert b.portfolio == pytest.approx(float(max(spread, 0.01 * 10 * s)), rel=1e-9)
    assert b.portfolio < 0.35 * b.isolated
