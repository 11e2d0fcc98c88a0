"""The per-book margin breakdown: terms by hand, the binding scenario, the zero-IM reason."""

import mpmath
import pytest

from keel.reports.breakdown import margin_breakdown
from keel.risk import Account, Option, Portfolios
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, load_bench

FEEDS = {1: "BTC", 2: "ETH"}
SQRT_H = mpmath.sqrt(mpmath.mpf(2) / 365)


def breakdown(names, floor=None):
    bench = load_bench(names)
    m = bench.market if floor is None else bench.market.with_vol_floor(floor)
    return margin_breakdown(m, bench.portfolios, names, FEEDS)


def test_pair_terms_by_hand_with_an_eth_floor():
    """btc_eth_pair: long 1 BTC ($60,000), short 20 ETH ($60,000). ETH floor 120%:
    R_E = 2.576·1.2·√(2/365), R_B = 16%. L_B = 60000·R_B at j = 0 (−R σ), L_E = 60000·R_E at j = 8
    (+R σ), L_J = 60000·(R_E − R_B) at j = 8, credit = ½(L_B + L_E − L_J) = 60000·R_B."""
    b = breakdown(["btc_eth_pair"], [0.0, 1.2])["btc_eth_pair"]
    r_e = float(mpmath.mpf("2.576") * mpmath.mpf("1.2") * SQRT_H)
    btc, eth = b["underlyings"]["BTC"], b["underlyings"]["ETH"]
    assert (btc["scan_range"], btc["vol_eff"], btc["vol_floor"]) == (0.16, 0.6, 0.0)
    assert eth["scan_range"] == pytest.approx(r_e, rel=1e-14) and eth["vol_eff"] == 1.2
    assert btc["loss"] == pytest.approx(9600.0, rel=1e-14)
    assert (btc["worst"], btc["worst_label"]) == (0, "−R σ")
    assert eth["loss"] == pytest.approx(60000 * r_e, rel=1e-14)
    assert (eth["worst"], eth["worst_label"]) == (8, "+R σ")
    assert b["joint_loss"] == pytest.approx(60000 * (r_e - 0.16), rel=1e-12)
    assert b["joint_worst"] == 8
    assert b["credit_term"] == pytest.approx(9600.0, rel=1e-12)
    assert b["im"] == pytest.approx(60000 * r_e, rel=1e-12)
    assert b["im_set_by"] == "scan risk" and b["zero_im_reason"] is None
    assert btc["net_delta_usd"] == pytest.approx(60000.0) and eth["net_delta_usd"] == -60000.0
    assert len(btc["pnl"]) == len(b["joint_pnl"]) == 31
    assert b["joint_pnl"][8] == pytest.approx(-b["joint_loss"], rel=1e-12)


def test_basis_trade_states_why_its_im_is_zero():
    """10 WETH against a short 10 ETH perp: every scenario P&L is $0, no short option; the WETH
    haircut (5% of $30,000 = $1,500 at σ 75% < σ_ref) lowers AE."""
    b = breakdown(["basis_trade"])["basis_trade"]
    assert b["im"] == 0.0 and b["im_set_by"] == "none (IM $0)"
    assert b["haircut"] == pytest.approx(1500.0)
    assert b["zero_im_reason"] == (
        "its legs cancel in every one of the 31 scenarios (net dollar delta ETH $0), so every "
        "scenario P&L is $0 and it holds no short option (SOM $0), so IM = max(SR, SOM) = $0. "
        "Its collateral haircut ($1,500) lowers its adjusted equity instead; funding on its perps "
        "is not a scenario move and is not in IM."
    )


def test_short_option_minimum_is_named_when_it_binds():
    """A far out-of-the-money short call: SOM (1% of |q|·S) is above the scan risk."""
    m = load_bench(["naked_long_perp"]).market
    acc = Account(options=[Option(1, 180000.0, DEFAULT_SNAPSHOT + 7 * 86400, True, -1.0)])
    b = margin_breakdown(m, Portfolios.from_accounts([acc], m), ["far_call"], FEEDS)["far_call"]
    assert b["som"] == pytest.approx(600.0) and b["scan_risk"] < 5.0
    assert b["im_set_by"] == "short-option minimum"
