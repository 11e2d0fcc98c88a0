"""Rolling the books over a price history: invariance of the roll and hand-counted exceptions."""

import numpy as np
import pytest

from keel.reports.backtest import evaluate, roll, run_backtest_series
from keel.reports.prices import load_prices
from keel.risk import compute_margin
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, load_bench

from .helpers import write_prices

BOOKS = ["naked_long_perp", "bull_call_spread", "btc_eth_pair", "covered_call"]


def test_roll_keeps_moneyness_tenor_and_usd_notional():
    """At twice / a tenth of the snapshot spots with the same vols, IM is unchanged: every leg keeps
    its USD notional, K/S and tenor, and the SPEC §6 figures are homogeneous in (S, K, 1/q)."""
    bench = load_bench(BOOKS)
    m, p = bench.market, bench.portfolios
    base = compute_margin(m, p).im
    for factor in (2.0, 0.1):
        m2, p2 = roll(m, p, DEFAULT_SNAPSHOT, m.spot * factor, m.vol, DEFAULT_SNAPSHOT + 86400)
        assert compute_margin(m2, p2).im == pytest.approx(base, rel=1e-9)
        assert p2.opt_strike / m2.spot[m2.slot(p2.opt_feed)] == pytest.approx(
            p.opt_strike / m.spot[m.slot(p.opt_feed)]
        )
        assert (p2.opt_expiry - DEFAULT_SNAPSHOT - 86400 == p.opt_expiry - DEFAULT_SNAPSHOT).all()


def test_roll_prices_linked_collateral_at_the_days_spot():
    bench = load_bench(["covered_call"])
    m, p = bench.market, bench.portfolios
    m2, p2 = roll(m, p, DEFAULT_SNAPSHOT, [30000.0, 1500.0], m.vol, DEFAULT_SNAPSHOT)
    weth = m2.token_index("WETH")
    assert m2.tokens[weth].price == 1500.0
    assert p2.collateral[0, weth] == pytest.approx(20.0)  # 10 WETH at $3,000 = 20 at $1,500


def test_naked_perp_exceptions_counted_by_hand(tmp_path):
    """Flat prices then one −20% BTC day (index 10). The EWMA vol decays from its 80% seed on flat
    closes, so before the crash R_BTC = 16% (floor) and the book's IM is $60,000·16% = $9,600.
    1-day windows: only the one ending on the crash loses $60,000·20% = $12,000 > IM: 1 exception.
    2-day windows (overlapping): the two containing the crash lose $12,000 each: 2 exceptions,
    one in each non-overlapping phase."""
    btc = [50000.0] * 10 + [40000.0] * 10
    eth = [2000.0] * 20
    prices = load_prices(write_prices(tmp_path / "p.csv", btc, eth))
    bench = load_bench(["naked_long_perp"])
    s = run_backtest_series(
        prices, bench.market, bench.portfolios, bench.names, DEFAULT_SNAPSHOT, warmup=3
    )
    assert s.dates[0] == "2020-01-04"
    crash = 10 - 3  # tested-day index of the crash close
    assert s.im[0, :crash] == pytest.approx(9600.0)
    assert s.loss[1][0, crash - 1] == pytest.approx(12000.0)
    assert np.nansum(np.abs(np.delete(s.loss[1][0], crash - 1))) == pytest.approx(0.0, abs=1e-9)
    one = evaluate(s, 0, 1)
    assert (one.overlapping.n, one.overlapping.exceptions) == (16, 1)
    two = evaluate(s, 0, 2)
    assert (two.overlapping.n, two.overlapping.exceptions) == (15, 2)
    assert [c.exceptions for c in two.phases] == [1, 1]
    assert [c.n for c in two.phases] == [8, 7]
    assert one.worst[0]["date"] == "2020-01-10"
    assert one.worst[0]["btc_move"] == pytest.approx(-0.2)
    # After the crash the vol estimate jumps, and so does IM: σ² = 0.94·σ₋₁² + 0.06·ln(0.8)²·365
    assert s.im[0, crash] > 9600.0


def test_backtest_refuses_a_history_without_a_tested_window(tmp_path):
    prices = load_prices(write_prices(tmp_path / "p.csv", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
    bench = load_bench(["naked_long_perp"])
    with pytest.raises(ValueError, match="warm-up"):
        run_backtest_series(
            prices, bench.market, bench.portfolios, bench.names, DEFAULT_SNAPSHOT, warmup=1
        )


@pytest.mark.parametrize("rho,sr", [(0.0, 9600 * 2**0.5), (0.3, 9600 * 1.55**0.5), (1.0, 3840.0)])
def test_pair_im_under_the_v2_rule_with_a_daily_correlation(tmp_path, rho, sr):
    """Flat closes: R = 16% for both legs, s = ($9,600, −$9,600). With ρ given per day the IM is
    the v2 rule: 9,600·sqrt(2 − 2ρ_s) (ρ_s = 0, 0.225), or the 80% floor 0.2·19,200 at ρ = 1."""
    prices = load_prices(write_prices(tmp_path / "p.csv", [50000.0] * 8, [2000.0] * 8))
    bench = load_bench(["btc_eth_pair"])
    args = (prices, bench.market, bench.portfolios, bench.names, DEFAULT_SNAPSHOT)
    s = run_backtest_series(*args, warmup=3, correlation=np.full(8, rho))
    assert s.im[0] == pytest.approx(sr, rel=1e-12)
    assert run_backtest_series(*args, warmup=3).im[0] == pytest.approx(9600.0, rel=1e-12)  # v1


def test_ewma_correlation_of_the_price_history_has_no_look_ahead(tmp_path):
    """Row t uses closes 0..t: changing the last close leaves every earlier row unchanged; row 0 is
    the seed (ρ = 0)."""
    btc, eth = [100.0, 101.0, 99.0, 103.0, 104.0], [10.0, 10.2, 9.7, 10.5, 10.4]
    a = load_prices(write_prices(tmp_path / "a.csv", btc, eth)).ewma_correlation()
    b = load_prices(write_prices(tmp_path / "b.csv", btc, eth[:-1] + [8.0])).ewma_correlation()
    assert a[0] == 0.0 and (a[:-1] == b[:-1]).all() and a[-1] != b[-1]
