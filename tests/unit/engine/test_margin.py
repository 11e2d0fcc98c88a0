"""Margin figures of small hand-checked portfolios (SPEC §6, DESIGN.md "Margin")."""

from tests.fixtures.engine import BTC, ETH, fresh, option, trade
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


def test_correlation_credit_two_underlyings(stack, alice_pm, bob_pm):
    """Long BTC perp and short ETH perp: SR = L_J + (1 − c)(L_BTC + L_ETH − L_J), c = 0.5."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, BTC_S)
    trade(stack, alice_pm, bob_pm, ETH, -10 * WAD, 3_000 * WAD)
    b = breakdown(stack, alice_pm[0])
    r = 16 * WAD // 100
    l_btc = 60_000 * r
    l_eth = 30_000 * r
    # same multiple of R for both: the joint worst is j = 0 (BTC −R, ETH −R): −9600 + 4800
    assert b["u"][BTC]["L"] == l_btc and b["u"][ETH]["L"] == l_eth
    assert b["LJ"] == l_btc - l_eth and b["worstJ"] == 0
    assert b["SR"] == b["LJ"] + (l_btc + l_eth - b["LJ"]) // 2
    assert b["IM"] == b["SR"]


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
