"""Margin figures of small hand-checked portfolios (SPEC §6, DESIGN.md "Margin")."""

from decimal import Context, Decimal
from fractions import Fraction

import brownie
import pytest

from keel.deploy_engine import push_prices
from tests.fixtures.engine import BTC, ETH, fresh, option, sleep, trade
from tests.unit.engine.helpers import WAD, breakdown, scan_range

BTC_S = 60_000 * WAD


def test_long_perp_im_is_q_s_r(stack, alice_pm, bob_pm):
    """A long perp of q BTC: IM = |q|·S·R_BTC, worst scenario the full down move (j = 0)."""
    trade(stack, alice_pm, bob_pm, BTC, 2 * WAD, BTC_S)
    b = breakdown(stack, alice_pm[0])
    r = scan_range(6 * WAD // 10)
    assert r == 16 * WAD // 100  # 2.576·0.6·√(2/365) = 11.4% is clamped to R_min
    assert b["IM"] == 2 * 60_000 * r
    assert b["u"][BTC] == {"R": r, "L": b["IM"], "worst": 0}
    assert b["LJ"] == b["IM"] and b["SR"] == b["IM"] and b["worstJ"] == 0
    assert b["SOM"] == 0
    assert b["MM"] == b["IM"] * 8 // 10


def test_short_perp_worst_is_up_move(stack, alice_pm, bob_pm):
    trade(stack, alice_pm, bob_pm, BTC, 2 * WAD, BTC_S)
    b = breakdown(stack, bob_pm[0])
    assert b["IM"] == 2 * 60_000 * 16 * WAD // 100
    assert b["u"][BTC]["worst"] == 8


def test_unclamped_scan_range(stack, alice_pm, bob_pm):
    """σ = 100%: R = 2.576·√(2/365) exactly as the contract rounds it."""
    fresh(stack, {ETH: (3_000 * WAD, WAD)})
    trade(stack, alice_pm, bob_pm, ETH, 10 * WAD, 3_000 * WAD)
    b = breakdown(stack, alice_pm[0])
    r = scan_range(WAD)
    assert b["u"][ETH]["R"] == r == 190684074946903115
    assert b["IM"] == 10 * 3_000 * r


def test_equity_and_haircut_of_cash(stack, alice_pm, bob_pm):
    """E = cash after the taker fee (5 bps of S·|q|); AE = E − 1% of positive cash."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, BTC_S)
    b = breakdown(stack, bob_pm[0])  # taker
    cash = 1_000_000 * WAD - 30 * WAD
    assert b["E"] == cash
    assert b["AE"] == cash - cash // 100


@pytest.mark.parametrize(
    "rho_wad, rho_s",
    [
        (74 * WAD // 100, Fraction(555, 1000)),  # the fixture's ρ: ρ_s = max(2ρ − 1, 0.75ρ)
        (0, Fraction(0)),
        (-WAD // 2, Fraction(-625, 1000)),  # ρ < 0: ρ_s = 1.25ρ
        (WAD, Fraction(1)),  # L_ρ = 4,800 < the 80% floor
        (-WAD, Fraction(-1)),  # L_ρ = Σ L_u: no credit
    ],
)
def test_pair_of_perps_is_margined_by_the_stressed_correlation(
    stack, alice_pm, bob_pm, rho_wad, rho_s
):
    """SPEC v2 §6 (d): long 1 BTC and short 10 ETH perps, s = |q|·S·R = (9,600, 4,800) USD with
    opposite signs: L_ρ = sqrt(s_B² + s_E² − 2ρ_s·s_B·s_E) (the 99% quantile of the pair's loss
    under ρ_s), SR = min(Σ L_u, max(L_J + 0.2(Σ L_u − L_J), L_ρ)) with L_J = 4,800, Σ L_u = 14,400.
    Exact values from the closed form in rationals; the chain rounds L_ρ up, by at most 2 wei."""
    fresh(stack)
    push_prices(stack, {}, correlations={(BTC, ETH): rho_wad})
    trade(stack, alice_pm, bob_pm, BTC, WAD, BTC_S)
    trade(stack, alice_pm, bob_pm, ETH, -10 * WAD, 3_000 * WAD)
    b = breakdown(stack, alice_pm[0])
    r = 16 * WAD // 100
    l_btc, l_eth = 60_000 * r, 30_000 * r
    # the comonotone grid moves both by the same multiple of R: the worst is j = 0 (−9,600 + 4,800)
    assert b["u"][BTC]["L"] == l_btc and b["u"][ETH]["L"] == l_eth
    assert b["LJ"] == l_btc - l_eth and b["worstJ"] == 0
    q = Fraction(l_btc) ** 2 + Fraction(l_eth) ** 2 - 2 * rho_s * l_btc * l_eth  # [wad²]
    exact = Decimal(q.numerator) / Decimal(q.denominator)
    exact = exact.sqrt(Context(prec=80))
    assert exact <= b["Lrho"] <= exact + 2
    floor = b["LJ"] + (l_btc + l_eth - b["LJ"]) // 5  # 0.2 of 9,600 USD: exact
    assert b["SR"] == min(l_btc + l_eth, max(floor, b["Lrho"]))
    assert b["IM"] == b["SR"]


def test_directional_pair_needs_no_correlation(stack, alice_pm, bob_pm, monkeypatch):
    """Long BTC and long ETH lose together (L_J = Σ L_u): SR = Σ L_u whatever ρ, and the chain
    computes no L_ρ: the account is margined even with the pair's ρ stale."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, BTC_S)
    trade(stack, alice_pm, bob_pm, ETH, 10 * WAD, 3_000 * WAD)
    sleep(3_601)  # past the heartbeat: prices and ρ stale
    push_prices(stack, {BTC: stack.oracle.feed(BTC)[:2], ETH: stack.oracle.feed(ETH)[:2]})
    pair = stack.oracle.correlation(BTC, ETH)
    assert stack.oracle.freshCorrelation(BTC, ETH)[1] == pair[1]  # refreshed with the prices ...
    monkeypatch.setattr(stack, "correlations", None)  # ... and from now on not any more
    sleep(3_601)
    fresh(stack)
    with brownie.reverts(revert_pattern=rf"StaleCorrelation: {BTC}, {ETH}, {pair[1]}, \d+"):
        stack.oracle.freshCorrelation(BTC, ETH)
    b = breakdown(stack, alice_pm[0])
    r = 16 * WAD // 100
    assert b["LJ"] == b["SR"] == b["IM"] == (60_000 + 30_000) * r
    assert b["Lrho"] == 0


def test_hedge_needs_a_fresh_correlation(stack, alice_pm, bob_pm, monkeypatch):
    """A hedge's margin needs its pair's ρ: with ρ stale, its breakdown reverts StaleCorrelation
    (SPEC §3: an operation that needs a feed reverts when it is stale), and with ρ fresh again
    it is back."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, BTC_S)
    trade(stack, alice_pm, bob_pm, ETH, -10 * WAD, 3_000 * WAD)
    seen = stack.oracle.correlation(BTC, ETH)[1]
    monkeypatch.setattr(stack, "correlations", None)
    sleep(3_601)
    fresh(stack)
    with brownie.reverts(revert_pattern=rf"StaleCorrelation: {BTC}, {ETH}, {seen}, \d+"):
        stack.engine.marginBreakdown(alice_pm[0])
    monkeypatch.setattr(stack, "correlations", {})
    push_prices(stack, {}, correlations={(BTC, ETH): 74 * WAD // 100})
    assert breakdown(stack, alice_pm[0])["Lrho"] > 0


def test_collateral_moves_with_its_underlying(stack, alice, carol_pm, alice_pm, bob_pm):
    """WETH collateral is long ETH exposure in the ETH scenarios (value·x_j)."""
    from keel.deploy_engine import deposit

    deposit(stack, alice_pm[0], alice, "WETH", 10)
    trade(stack, alice_pm, bob_pm, BTC, WAD // 10, BTC_S)
    b = breakdown(stack, alice_pm[0])
    assert b["u"][ETH]["L"] == 30_000 * 16 * WAD // 100
    assert b["u"][ETH]["worst"] == 0


def test_short_option_minimum(stack, alice_pm, bob_pm):
    """A far OTM short call has little scan risk: SOM = 1%·|q|·S applies."""
    call = option(stack, BTC, 180_000 * WAD, 7)
    trade(stack, alice_pm, bob_pm, call, -WAD, WAD // 1000)
    b = breakdown(stack, alice_pm[0])
    assert b["SOM"] == 600 * WAD
    assert b["IM"] == max(b["SR"], b["SOM"])
    assert breakdown(stack, bob_pm[0])["SOM"] == 0


def test_empty_account_has_zero_margin(stack, carol_pm):
    b = breakdown(stack, carol_pm[0])
    assert b["IM"] == 0 and b["E"] == 0 and b["u"] == {}
