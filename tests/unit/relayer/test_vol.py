"""EWMA realised vol (keel/risk/ewma.py): hand-computed example, closed form, seeding and clamping."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.risk.ewma import EwmaVol, clamp, ewma_closed_form

st_prices = st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=60)


def test_hand_computed_example():
    """100 -> 110 -> 99 with lambda 0.94, 365 periods, initial vol 80% (worked by hand):
    var0 = 0.64/365 = 0.00175342466
    r1 = ln 1.1 = 0.0953101798,  r1^2 = 0.00908403037
    var1 = 0.94*0.00175342466 + 0.06*0.00908403037 = 0.00164821918 + 0.00054504182 = 0.00219326100
    r2 = ln 0.9 = -0.1053605157, r2^2 = 0.01110083826
    var2 = 0.94*0.00219326100 + 0.06*0.01110083826 = 0.00206166534 + 0.00066605030 = 0.00272771564
    vol = sqrt(0.00272771564 * 365) = sqrt(0.99561621) = 0.9978057
    """
    est = EwmaVol(0.94, 365, 0.8)
    assert est.update(100.0) == pytest.approx(0.8)  # the first price only sets the base
    est.update(110.0)
    assert est.variance == pytest.approx(0.00219326100, rel=1e-8)
    est.update(99.0)
    assert est.variance == pytest.approx(0.00272771564, rel=1e-8)
    assert est.vol == pytest.approx(0.9978057, abs=1e-7)
    assert est.returns == 2


@given(prices=st_prices)
def test_recursion_equals_closed_form(prices):
    est = EwmaVol()
    for p in prices:
        est.update(p)
    assert est.vol == pytest.approx(ewma_closed_form(prices), rel=1e-9, abs=1e-12)


def test_constant_prices_decay_the_seed_by_lambda_per_tick():
    est = EwmaVol(0.94, 365, 0.5)
    for _ in range(11):
        est.update(42.0)
    assert est.vol == pytest.approx(0.5 * math.sqrt(0.94**10))


def test_annualisation_uses_the_period_length():
    daily, hourly = EwmaVol(periods_per_year=365), EwmaVol(periods_per_year=365 * 24)
    for est in (daily, hourly):
        for p in (100.0, 101.0, 99.5, 102.0):
            est.update(p)
    # same returns, same seed vol: the per-period variances differ only through the seed
    assert hourly.vol > 0 and daily.vol > 0
    assert EwmaVol(periods_per_year=4).vol == pytest.approx(0.8)


def test_from_history_seeds_with_mean_squared_return():
    prices = [100.0, 102.0, 101.0, 103.0]
    rs = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
    est = EwmaVol.from_history(prices)
    assert est.variance == pytest.approx(sum(r * r for r in rs) / 3)
    assert est.last_price == 103.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_rejects_non_positive_prices(bad):
    with pytest.raises(ValueError):
        EwmaVol().update(bad)


@pytest.mark.parametrize("lam", [0.0, 1.0, 1.5])
def test_rejects_lambda_outside_open_unit_interval(lam):
    with pytest.raises(ValueError):
        EwmaVol(lam)


def test_clamp():
    assert clamp(5, 1, 10) == 5
    assert clamp(0, 1, 10) == 1
    assert clamp(11, 1, 10) == 10
