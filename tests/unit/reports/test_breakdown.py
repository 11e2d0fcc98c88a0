"""The per-book margin breakdown: terms by hand, the binding scenario, the v2 scan-risk terms
(floor, L_ρ, which of them sets SR), the zero-IM reason."""

import mpmath
import pytest

from keel.reports.breakdown import margin_breakdown, sr_set_by
from keel.risk import Account, Option, Perp, Portfolios
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, load_bench

FEEDS = {1: "BTC", 2: "ETH"}
SQRT_H = mpmath.sqrt(mpmath.mpf(2) / 365)
RHO = 0.74  # the median EWMA ρ of 2016–19 (docs/CORRELATION.md)


def breakdown(names, floor=None, rho=RHO):
    bench = load_bench(names)
    m = bench.market if floor is None else bench.market.with_vol_floor(floor)
    return margin_breakdown(m.with_correlations({(1, 2): rho}), bench.portfolios, names, FEEDS)


@pytest.mark.parametrize(
    "rho,rho_s,set_by",
    [
        ("0.74", "0.555", "L_ρ"),  # ρ_s = max(2ρ − 1, 0.75ρ) = max(0.48, 0.555)
        ("0.99", "0.98", "floor (the 80% credit cap)"),  # max(0.98, 0.7425)
        ("-0.5", "-0.625", "L_ρ"),  # max(1.25ρ, −1)
    ],
)
def test_pair_terms_by_hand_with_an_eth_floor(rho, rho_s, set_by):
    """btc_eth_pair: long 1 BTC ($60,000), short 20 ETH ($60,000). ETH floor 120%:
    R_E = 2.576·1.2·√(2/365), R_B = 16%. L_B = 60000·R_B at j = 0 (−R σ), L_E = 60000·R_E at j = 8
    (+R σ), L_J = 60000·(R_E − R_B) at j = 8. v2 (SPEC v2 §6): s = (60000·R_B, −60000·R_E),
    L_ρ = sqrt(s_B² + s_E² − 2ρ_s·s_B·s_E), floor = L_J + 0.2(Σ L_u − L_J),
    SR = min(Σ L_u, max(floor, L_ρ))."""
    b = breakdown(["btc_eth_pair"], [0.0, 1.2], float(rho))["btc_eth_pair"]
    r_e = mpmath.mpf("2.576") * mpmath.mpf("1.2") * SQRT_H
    s_b, s_e = 60000 * mpmath.mpf("0.16"), 60000 * r_e
    loss_j, total = s_e - s_b, s_b + s_e
    floor = loss_j + mpmath.mpf("0.2") * (total - loss_j)
    loss_rho = mpmath.sqrt(s_b**2 + s_e**2 - 2 * mpmath.mpf(rho_s) * s_b * s_e)
    sr = min(total, max(floor, loss_rho))
    btc, eth = b["underlyings"]["BTC"], b["underlyings"]["ETH"]
    assert (btc["scan_range"], btc["vol_eff"], btc["vol_floor"]) == (0.16, 0.6, 0.0)
    assert eth["scan_range"] == pytest.approx(float(r_e), rel=1e-14) and eth["vol_eff"] == 1.2
    assert btc["loss"] == pytest.approx(9600.0, rel=1e-14)
    assert (btc["worst"], btc["worst_label"]) == (0, "−R σ")
    assert eth["loss"] == pytest.approx(float(s_e), rel=1e-14)
    assert (eth["worst"], eth["worst_label"]) == (8, "+R σ")
    assert b["joint_loss"] == pytest.approx(float(loss_j), rel=1e-12)
    assert b["joint_worst"] == 8
    assert b["sum_loss"] == pytest.approx(float(total), rel=1e-14)
    assert b["sr_floor"] == pytest.approx(float(floor), rel=1e-12)
    assert b["correlated_loss_needed"] is True
    assert b["correlated_loss"] == pytest.approx(float(loss_rho), rel=1e-12)
    assert b["scan_risk"] == pytest.approx(float(sr), rel=1e-12)
    assert b["sr_set_by"] == set_by
    assert b["im"] == pytest.approx(float(sr), rel=1e-12)
    assert b["im_set_by"] == "scan risk" and b["zero_im_reason"] is None
    assert btc["net_delta_usd"] == pytest.approx(60000.0) and eth["net_delta_usd"] == -60000.0
    assert len(btc["pnl"]) == len(b["joint_pnl"]) == 31
    assert b["joint_pnl"][8] == pytest.approx(-b["joint_loss"], rel=1e-12)


def test_one_underlying_and_legs_that_lose_together_need_no_correlation():
    """naked_long_perp (1 BTC): SR = L_J = L_u = 60000·16% = $9,600. Long 1 BTC and long 20 ETH
    perps: both lose at j = 0, L_J = Σ L_u = $19,200 = SR. Neither needs L_ρ (shown as 0), at any ρ."""
    for rho in (-1.0, 0.0, 0.74, 1.0):
        b = breakdown(["naked_long_perp"], rho=rho)["naked_long_perp"]
        assert b["scan_risk"] == b["joint_loss"] == b["sum_loss"] == pytest.approx(9600.0)
        assert b["correlated_loss"] == 0.0 and b["correlated_loss_needed"] is False
        assert b["sr_set_by"] == "L_J = L_u (one underlying)"
        m = load_bench(["naked_long_perp"]).market.with_correlations({(1, 2): rho})
        acc = Account(perps=[Perp(1, 1.0, 60000.0), Perp(2, 20.0, 3000.0)])
        p = Portfolios.from_accounts([acc], m)
        b = margin_breakdown(m, p, ["longs"], FEEDS)["longs"]
        assert b["scan_risk"] == b["joint_loss"] == b["sum_loss"] == pytest.approx(19200.0)
        assert b["joint_worst"] == 0 and b["sr_floor"] == pytest.approx(19200.0)
        assert b["correlated_loss"] == 0.0 and b["correlated_loss_needed"] is False
        assert b["sr_set_by"] == "L_J = Σ L_u (the legs lose together)"


def test_the_cap_sets_sr_where_the_bound_is_above_the_sum():
    """A long 30-day ATM BTC straddle against long 20 ETH (docs/CORRELATION.md §5): the majorant
    of the straddle's concave side loss lifts L_ρ above Σ L_u, so SR = Σ L_u."""
    m = load_bench(["naked_long_perp"]).market.with_correlations({(1, 2): RHO})
    expiry = DEFAULT_SNAPSHOT + 30 * 86400
    acc = Account(
        options=[Option(1, 60000.0, expiry, True, 1.0), Option(1, 60000.0, expiry, False, 1.0)],
        perps=[Perp(2, 20.0, 3000.0)],
    )
    b = margin_breakdown(m, Portfolios.from_accounts([acc], m), ["s"], FEEDS)["s"]
    assert b["correlated_loss_needed"] and b["correlated_loss"] > b["sum_loss"]
    assert b["joint_loss"] < b["sr_floor"] < b["sum_loss"]
    assert b["scan_risk"] == b["sum_loss"] and b["sr_set_by"] == "Σ L_u (the cap: L_ρ ≥ Σ L_u)"


@pytest.mark.parametrize(
    "args,expected",
    [
        ((2, True, 0.0, 0.0, 0.0), "none (no scenario loses)"),
        ((1, False, 100.0, 100.0, 0.0), "L_J = L_u (one underlying)"),
        ((2, False, 100.0, 100.0, 0.0), "L_J = Σ L_u (the legs lose together)"),
        ((5, False, 100.0, 30.0, 0.0), "Σ L_u (more than 4 underlyings: no correlation credit)"),
        ((2, True, 100.0, 30.0, 100.0), "Σ L_u (the cap: L_ρ ≥ Σ L_u)"),
        ((2, True, 100.0, 30.0, 30.000001), "L_ρ"),
        ((2, True, 100.0, 30.0, 30.0), "floor (the 80% credit cap)"),
    ],
)
def test_which_term_sets_sr(args, expected):
    assert sr_set_by(*args) == expected


def test_the_breakdown_refuses_a_market_without_correlations():
    """v1's fixed credit c is gone from the chain: the breakdown shows the v2 rule only."""
    bench = load_bench(["btc_eth_pair"])
    with pytest.raises(ValueError, match="with_correlations"):
        margin_breakdown(bench.market, bench.portfolios, bench.names, FEEDS)


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
    m = load_bench(["naked_long_perp"]).market.with_correlations({(1, 2): RHO})
    acc = Account(options=[Option(1, 180000.0, DEFAULT_SNAPSHOT + 7 * 86400, True, -1.0)])
    b = margin_breakdown(m, Portfolios.from_accounts([acc], m), ["far_call"], FEEDS)["far_call"]
    assert b["som"] == pytest.approx(600.0) and b["scan_risk"] < 5.0
    assert b["im_set_by"] == "short-option minimum"
