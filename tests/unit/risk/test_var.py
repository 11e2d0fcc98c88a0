"""Historical-simulation VaR / ES: the estimator on tiny hand-made samples, and full revaluation."""

import numpy as np
import pytest

from keel.risk import historical_var, portfolio_pnl, var_es

from .helpers import BTC, ETH, market, mp_bs, one, option, perp


def test_var_es_on_100_samples_by_hand():
    """n = 100, α = 99%: VaR is the 2nd-largest loss, ES the mean of the worst n(1 − α) = 1 loss."""
    pnl = np.zeros(100)
    pnl[[3, 50, 70]] = [-10.0, -30.0, -20.0]
    var, es = var_es(pnl, 0.99)
    assert var == 20.0
    assert es == pytest.approx(30.0)


def test_var_es_with_a_fractional_tail():
    """n = 250: n(1 − α) = 2.5 → VaR = 3rd-largest loss, ES = (L1 + L2 + 0.5·L3) / 2.5."""
    pnl = np.zeros(250)
    pnl[:4] = [-100.0, -60.0, -40.0, -35.0]
    var, es = var_es(pnl, 0.99)
    assert var == 40.0
    assert es == pytest.approx((100 + 60 + 0.5 * 40) / 2.5)


def test_var_es_at_95_percent_on_20_samples():
    """n = 20, α = 95%: 19 of 20 losses ≤ VaR → VaR = 18 (2nd largest); ES = mean of the worst 1."""
    pnl = -np.arange(20.0)  # losses 0..19
    var, es = var_es(pnl, 0.95)
    assert (var, float(es)) == (18.0, pytest.approx(19.0))
    var90, es90 = var_es(pnl, 0.90)  # 18 of 20 ≤ VaR → 17; ES = mean of the worst 2 = 18.5
    assert (var90, float(es90)) == (17.0, pytest.approx(18.5))


def test_var_es_vectorised_over_accounts():
    pnl = np.array([[-1.0, -2.0, -3.0, -4.0], [4.0, 3.0, 2.0, 1.0]])
    var, es = var_es(pnl, 0.5)  # losses 1..4 and −4..−1: the 2nd of 4 from below
    assert var.tolist() == [2.0, -3.0]
    assert es.tolist() == pytest.approx([3.5, -1.5])


def test_linear_book_pnl_is_exposure_times_return():
    m = market()
    book = one(
        m, collateral={"WETH": 10.0}, perps=[perp(BTC, 2.0, 60000.0), perp(ETH, -4.0, 3000.0)]
    )
    r = np.array([[0.10, -0.05], [-0.20, 0.02]])
    pnl = portfolio_pnl(m, book, r)
    # dollar exposure: BTC 120000, ETH 30000 − 12000 = 18000
    assert pnl[0].tolist() == pytest.approx([120000 * 0.10 - 18000 * 0.05, -24000 + 18000 * 0.02])


def test_option_pnl_is_full_revaluation_with_a_day_of_decay_and_vol_shift():
    m = market()
    book = one(m, options=[option(BTC, 60000.0, 30, True, -1.0)])
    pnl = portfolio_pnl(m, book, [[-0.1, 0.0]], vol_returns=[[0.2, 0.0]])
    expected = -(
        mp_bs(54000, 60000, 0.72, 29 / 365, True) - mp_bs(60000, 60000, 0.6, 30 / 365, True)
    )
    assert pnl[0, 0] == pytest.approx(expected, rel=1e-12)


def test_historical_var_bundles_pnl_var_and_es():
    m = market()
    book = one(m, perps=[perp(BTC, 1.0, 60000.0)])
    r = np.column_stack([np.linspace(-0.1, 0.1, 101), np.zeros(101)])
    out = historical_var(m, book, r, alpha=0.99)
    assert out.pnl.shape == (1, 101)
    assert out.var[0] == pytest.approx(60000 * 0.098)
    assert out.es[0] >= out.var[0]
