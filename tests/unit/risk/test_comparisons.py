"""Isolated and simple fixed-rate cross margin, and what-if (incremental) margin."""

import numpy as np
import pytest

from keel.risk import (
    Account,
    Fill,
    Portfolios,
    SimpleCrossParams,
    apply_fills,
    compute_margin,
    isolated_margin,
    simple_cross_margin,
    what_if,
)
from keel.risk.bench_portfolios import load_bench

from .helpers import BTC, ETH, market, mp_bs, one, option, perp

HEDGED_BOOKS = [
    "basis_trade",
    "covered_call",
    "hedged_short_straddle",
    "calendar_spread",
    "bull_call_spread",
    "btc_eth_pair",
    "hedged_risk_reversal",
    "PM-4",
    "PM-16",
    "PM-32",
]


# --- Isolated margin ---


def test_isolated_is_at_least_portfolio_margin_for_hedged_books():
    bench = load_bench(HEDGED_BOOKS)
    pm = compute_margin(bench.market, bench.portfolios).im
    iso = isolated_margin(bench.market, bench.portfolios).im
    assert (iso >= pm).all()
    assert (iso > 1.5 * pm).all()  # every one of these books is materially hedged


def test_isolated_basis_trade_margins_the_weth_as_spot():
    """10 WETH + short 10 ETH perp: each leg alone loses 10·3000·16% = 4800; portfolio IM is 0."""
    bench = load_bench(["basis_trade"])
    iso = isolated_margin(bench.market, bench.portfolios)
    assert iso.collateral[0] == pytest.approx(4800.0)
    assert iso.perps[0] == pytest.approx(4800.0)
    assert iso.im[0] == pytest.approx(9600.0)
    assert compute_margin(bench.market, bench.portfolios).im[0] == 0.0


def test_isolated_equals_sum_of_one_part_accounts():
    """The isolated IM of a book is the sum of the IMs of accounts holding one part each."""
    bench = load_bench(["PM-16"])
    acc = bench.accounts[0]
    parts = [Account(perps=[p]) for p in acc.perps] + [Account(options=[o]) for o in acc.options]
    parts += [Account(collateral={k: v}) for k, v in acc.collateral.items()]
    alone = compute_margin(bench.market, Portfolios.from_accounts(parts, bench.market)).im.sum()
    iso = isolated_margin(bench.market, bench.portfolios).im[0]
    assert iso == pytest.approx(alone, rel=1e-12)


def test_isolated_equals_portfolio_for_a_single_position():
    m = market()
    book = one(m, options=[option(BTC, 54000.0, 30, False, -2.0)])
    assert isolated_margin(m, book).im[0] == pytest.approx(compute_margin(m, book).im[0])


# --- Simple fixed-rate cross margin ---


def test_simple_cross_rules_by_hand():
    """Perp 10% of notional; short options premium + max(15%·S − OTM, 10%·S); long options premium."""
    m = market()
    tau = 30 / 365
    book = one(
        m,
        perps=[perp(BTC, -0.5, 60000.0)],
        options=[
            option(ETH, 3300.0, 30, True, -10.0),  # OTM by 300: max(450 − 300, 300) = 300
            option(ETH, 2950.0, 30, False, -4.0),  # OTM by 50: max(450 − 50, 300) = 400
            option(BTC, 60000.0, 30, False, 2.0),  # long: its premium
        ],
    )
    res = simple_cross_margin(m, book)
    c3300 = mp_bs(3000, 3300, 0.75, tau, True)
    p2950 = mp_bs(3000, 2950, 0.75, tau, False)
    p60k = mp_bs(60000, 60000, 0.6, tau, False)
    assert res.perps[0] == pytest.approx(3000.0)
    assert res.short_options[0] == pytest.approx(10 * (c3300 + 300) + 4 * (p2950 + 400), rel=1e-12)
    assert res.long_options[0] == pytest.approx(2 * p60k, rel=1e-12)
    assert res.im[0] == pytest.approx(res.perps[0] + res.short_options[0] + res.long_options[0])


def test_simple_cross_rates_are_parameters():
    m = market()
    book = one(m, perps=[perp(ETH, 10.0, 3000.0)])
    assert simple_cross_margin(m, book, SimpleCrossParams(perp_rate=0.2)).im[0] == pytest.approx(
        6000
    )


# --- What-if ---


@pytest.mark.parametrize("trade_kind", ["option", "perp"])
def test_what_if_equals_difference_of_two_full_computations(trade_kind):
    bench = load_bench(["PM-16", "PM-4"])
    m, p = bench.market, bench.portfolios
    trade = (
        option(BTC, 66000.0, 30, True, -0.75) if trade_kind == "option" else perp(ETH, 4.0, 3000.0)
    )
    w = what_if(m, p, 0, trade)
    acc = bench.accounts[0]
    after_acc = Account(
        cash=acc.cash,
        collateral=acc.collateral,
        perps=acc.perps + ([trade] if trade_kind == "perp" else []),
        options=acc.options + ([trade] if trade_kind == "option" else []),
    )
    before = compute_margin(m, p).im[0]
    after = compute_margin(m, Portfolios.from_accounts([after_acc], m)).im[0]
    assert w.incremental_im == pytest.approx(after - before, rel=1e-12, abs=1e-9)
    assert w.before.im == pytest.approx(before, rel=1e-15)


def test_what_if_of_a_hedge_is_negative_and_premium_leaves_cash():
    m = market()
    book = one(m, cash=10000.0, perps=[perp(BTC, 1.0, 60000.0)])
    hedge = option(BTC, 60000.0, 30, False, 1.0)
    premium = mp_bs(60000, 60000, 0.6, 30 / 365, False)
    w = what_if(m, book, 0, hedge, trade_price=premium)
    assert w.incremental_im < -1000.0
    # paying the fair premium leaves E unchanged; AE gains the 1% haircut on the cash spent
    assert w.after.equity == pytest.approx(w.before.equity, rel=1e-12)
    assert w.after.adjusted_equity - w.before.adjusted_equity == pytest.approx(0.01 * premium)
    assert w.passes_im_after


def test_what_if_leaves_the_input_portfolios_untouched():
    bench = load_bench(["PM-4"])
    before = compute_margin(bench.market, bench.portfolios).im.copy()
    what_if(bench.market, bench.portfolios, 0, perp(BTC, 5.0, 60000.0))
    assert np.array_equal(compute_margin(bench.market, bench.portfolios).im, before)


def test_perp_fill_realises_pnl_and_funding_into_cash_and_pays_its_fee():
    """SPEC v2 §5 (executeFill): long 2 BTC at 58,000 owing $30 of funding sells 3 at 61,000 with a
    5 bps fee on S·|q| = 60,000·3: cash += 2·3,000 − 30 − 90, and the account is short 1 at 61,000
    owing nothing; E moves by the fee and by the fill's distance from S on the traded part."""
    m = market()
    book = one(m, cash=10_000.0, perps=[perp(BTC, 2.0, 58_000.0, 30.0)])
    after = apply_fills(m, book, 0, [Fill(perp(BTC, -3.0, 61_000.0), fee_rate=0.0005)])
    assert after.cash[0] == pytest.approx(10_000.0 + 6_000.0 - 30.0 - 90.0, rel=1e-15)
    assert (after.perp_size.tolist(), after.perp_entry.tolist()) == ([-1.0], [61_000.0])
    assert after.perp_funding_owed.tolist() == [0.0]
    w = what_if(m, book, 0, [Fill(perp(BTC, -3.0, 61_000.0), fee_rate=0.0005)])
    # E: −fee, and 3 units sold 1,000 above S
    assert w.after.equity - w.before.equity == pytest.approx(-90.0 + 3 * 1_000.0, rel=1e-12)


def test_option_fills_merge_by_series_and_a_closed_series_leaves_no_short_row():
    """Selling 2 of a held long 2 closes the series: no row stays, so no SOM; the premium comes
    in and the fee is capped at 12.5% of it (10 bps of S·|q| = $120 > 12.5% of the $200)."""
    m = market()
    call = option(BTC, 66_000.0, 30, True, 2.0)
    book = one(m, cash=50_000.0, options=[call])
    price = 100.0
    close = Fill(option(BTC, 66_000.0, 30, True, -2.0), price, fee_rate=0.001)
    after = apply_fills(m, book, 0, [close])
    assert len(after.opt_size) == 0
    assert after.cash[0] == pytest.approx(50_000.0 + 200.0 - 0.125 * 200.0, rel=1e-15)
    short = apply_fills(m, book, 0, [close, Fill(option(BTC, 66_000.0, 30, True, -1.0), price)])
    assert short.opt_size.tolist() == [-1.0]
    assert compute_margin(m, short).som[0] == pytest.approx(0.01 * 60_000.0)
