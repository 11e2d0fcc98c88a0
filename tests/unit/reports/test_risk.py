"""VaR/ES of a book on tiny price samples, checked by hand, and the Monte Carlo model."""

import math

import numpy as np
import pytest

from keel.reports.prices import load_prices
from keel.reports.risk import book_risk, estimate_returns, monte_carlo_returns
from keel.risk.bench_portfolios import load_bench

from .helpers import write_prices


def _perp_risk(tmp_path, btc, n_mc=1000):
    prices = load_prices(write_prices(tmp_path / "p.csv", btc, [3000.0] * len(btc)))
    bench = load_bench(["naked_long_perp"])
    (r,), model = book_risk(bench.market, bench.portfolios, bench.names, prices, seed=1, n_mc=n_mc)
    return r, model


def test_var_and_es_of_a_perp_on_ten_days(tmp_path):
    """10 daily returns, the worst −5%: with n = 10 at 99% the VaR is the largest loss
    (k = n − ⌈9.9⌉ + 1 = 1) and ES the mean of the worst 0.1 observations, the same loss:
    1 BTC at $60,000 × 5% = $3,000."""
    btc = [100.0, 101.0, 95.95, 96.0, 97.0, 98.0, 97.5, 98.0, 99.0, 99.5, 100.0]
    r, _ = _perp_risk(tmp_path, btc)
    assert r.hs_var == pytest.approx(3000.0, rel=1e-9)
    assert r.hs_es == pytest.approx(3000.0, rel=1e-9)
    assert r.im == pytest.approx(9600.0)


def test_var_and_es_of_a_perp_on_two_hundred_days(tmp_path):
    """200 returns: 197 of +0.1% and losses of 4%, 6% and 8%. At 99%, VaR is the 3rd largest loss
    (k = 200 − 198 + 1 = 3): 4% → $2,400; ES the mean of the worst two: (8% + 6%)/2 → $4,200."""
    rets = [0.001] * 197 + [-0.04, -0.06, -0.08]
    btc = [100.0]
    for x in rets:
        btc.append(btc[-1] * (1 + x))
    r, _ = _perp_risk(tmp_path, btc)
    assert r.hs_var == pytest.approx(2400.0, rel=1e-9)
    assert r.hs_es == pytest.approx(4200.0, rel=1e-9)


def test_return_model_estimates_vols_and_correlation():
    class P:
        dates = None
        log_returns = None

    from datetime import date, timedelta

    rng = np.random.default_rng(3)
    lr = rng.normal(0, 0.03, 500)
    spot = np.exp(np.cumsum(np.concatenate([[0.0], lr])))
    from keel.reports.prices import PriceHistory

    ph = PriceHistory(
        tuple(date(2020, 1, 1) + timedelta(days=i) for i in range(501)),
        np.column_stack([60000 * spot, 3000 * spot**2]),  # ETH log returns = 2 × BTC's
    )
    m = estimate_returns(ph)
    assert m.correlation == pytest.approx(1.0)
    assert m.daily_vol[1] == pytest.approx(2 * m.daily_vol[0])
    assert m.daily_vol[0] == pytest.approx(np.std(lr, ddof=1))


def test_monte_carlo_is_seeded_and_near_the_normal_quantile(tmp_path):
    rng = np.random.default_rng(5)
    btc = list(60000 * np.exp(np.cumsum(rng.normal(0, 0.04, 400))))
    r1, model = _perp_risk(tmp_path, btc, n_mc=200_000)
    r2, _ = _perp_risk(tmp_path, btc, n_mc=200_000)
    assert r1.mc_var == r2.mc_var
    s = model.daily_vol[0]
    exact = 60000.0 * -math.expm1(-2.326348 * s)  # loss at the 1% quantile of a lognormal move
    assert r1.mc_var == pytest.approx(exact, rel=0.03)


def test_monte_carlo_returns_have_the_model_correlation():
    from keel.reports.risk import ReturnModel

    m = ReturnModel("a", "b", 100, np.array([0.02, 0.03]), -0.4)
    z = np.log1p(monte_carlo_returns(m, 200_000, seed=9))
    assert np.corrcoef(z.T)[0, 1] == pytest.approx(-0.4, abs=0.01)
    assert z.std(axis=0) == pytest.approx([0.02, 0.03], rel=0.01)
