"""Anti-procyclicality: the default σ_floor and the APC metrics, on hand-computed series."""

import math

import numpy as np
import pytest

from keel.reports.apc import default_vol_floor, largest_rise, procyclicality
from keel.reports.backtest import BacktestSeries, evaluate
from keel.reports.prices import load_prices
from keel.risk.ewma import ewma_closed_form

from .helpers import random_walk, write_prices

DATES = [f"2020-01-{d:02d}" for d in range(1, 32)]


def test_metrics_of_a_hand_computed_series():
    """IM = 100, 120, 60, 150, 150, 90. 1-day rises: +20%, −50%, +150%, 0%, −40%: the largest is
    60 → 150 (+150%, from day 3 to day 4). Peak 150 (first on day 4), trough 60: ratio 2.5."""
    im = [100.0, 120.0, 60.0, 150.0, 150.0, 90.0]
    m = procyclicality(im, DATES[:6])
    r1 = m.rises[1]
    assert (r1.ratio, r1.start, r1.end, r1.im_before, r1.im_after) == (
        1.5,
        "2020-01-03",
        "2020-01-04",
        60.0,
        150.0,
    )
    assert m.peak_to_trough == 2.5
    assert m.peak == ("2020-01-04", 150.0) and m.trough == ("2020-01-03", 60.0)
    # the series is shorter than 30 days: no 30-day pair
    assert m.rises[30] is None
    # 2-day rises: 60/100 − 1, 150/120 − 1 = +25%, 150/60 − 1 = +150%, 90/150 − 1: largest +150%
    r2 = largest_rise(np.array(im), DATES[:6], 2)
    assert (r2.ratio, r2.start, r2.end) == (1.5, "2020-01-03", "2020-01-05")


def test_thirty_day_rise_just_inside_and_outside_the_window():
    """31 days: IM 100 on day 0, 50 on days 1..29, 400 on day 30. The only 30-day pair is
    (day 0, day 30): +300%. With 30 days (day 30 dropped) there is none."""
    im = [100.0] + [50.0] * 29 + [400.0]
    assert largest_rise(np.array(im), DATES, 30).ratio == 3.0
    assert largest_rise(np.array(im[:30]), DATES[:30], 30) is None
    # the 1-day window sees 50 → 400 (+700%)
    assert largest_rise(np.array(im), DATES, 1).ratio == 7.0


def test_zero_im_days_are_not_a_base_and_a_zero_trough_has_no_ratio():
    """IM 0, 0, 50, 100: the rises from 0 are undefined (skipped); 50 → 100 is +100%;
    the trough is 0, so peak/trough is undefined; all-zero IM has no metric at all."""
    m = procyclicality([0.0, 0.0, 50.0, 100.0], DATES[:4])
    assert m.rises[1].ratio == 1.0 and m.peak_to_trough is None
    flat = procyclicality([0.0] * 5, DATES[:5])
    assert flat.rises == {1: None, 30: None} and flat.peak_to_trough is None
    # IM just above the $1e-6 tolerance is a base; at it, not
    assert largest_rise(np.array([1.1e-6, 2.2e-6]), DATES[:2], 1).ratio == pytest.approx(1.0)
    assert largest_rise(np.array([1e-6, 1.0]), DATES[:2], 1) is None


def test_bad_series_are_refused():
    with pytest.raises(ValueError, match="one IM per date"):
        procyclicality([1.0, 2.0], DATES[:3])
    with pytest.raises(ValueError, match="at least 1 day"):
        largest_rise(np.ones(3), DATES[:3], 0)


def test_default_floor_is_the_mean_ewma_vol_after_the_warmup(tmp_path):
    """Each row's vol from the closed form of the recursion, averaged by hand over rows 5..39."""
    btc, eth = random_walk(40, seed=11)
    prices = load_prices(write_prices(tmp_path / "p.csv", btc, eth))
    floor = default_vol_floor(prices, 5)
    for u, closes in enumerate((btc, eth)):
        by_hand = math.fsum(ewma_closed_form(closes[: t + 1]) for t in range(5, 40)) / 35
        assert floor[u] == pytest.approx(by_hand, rel=1e-12)
    # the warm-up bounds: 39 leaves one row, 40 none
    assert default_vol_floor(prices, 39) == pytest.approx(
        [ewma_closed_form(btc), ewma_closed_form(eth)], rel=1e-12
    )
    with pytest.raises(ValueError, match="leaves no day of 40 for the floor"):
        default_vol_floor(prices, 40)


def test_mean_shortfall_is_the_mean_excess_over_the_exception_days():
    """Losses 5, 12, 9, 30 against IM 10, 10, 10, 20: exceptions on days 2 and 4 with excesses
    2 and 10: mean shortfall 6; worst loss/IM 30/20 = 1.5."""
    im = np.array([[10.0, 10.0, 10.0, 20.0]])
    s = BacktestSeries(
        names=["b"],
        dates=DATES[:4],
        spot=np.ones((4, 2)),
        vol=np.ones((4, 2)),
        im=im,
        loss={1: np.array([[5.0, 12.0, 9.0, 30.0]])},
        warmup=0,
    )
    r = evaluate(s, 0, 1)
    assert r.overlapping.exceptions == 2
    assert r.mean_shortfall == 6.0 and r.max_loss_to_im == 1.5
    assert r.to_json()["mean_shortfall_on_exception_days"] == 6.0
    s0 = BacktestSeries(["b"], DATES[:4], s.spot, s.vol, im, {1: im * 0.5}, 0)
    assert math.isnan(evaluate(s0, 0, 1).mean_shortfall)  # no exception: undefined
