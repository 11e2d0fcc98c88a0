"""Coverage statistics on hand-checked numbers: Kupiec POF, binomial p-value, traffic light,
exception counting and over-margining."""

import math

import numpy as np
import pytest

from keel.reports.backtest import (
    Coverage,
    binomial_pvalue,
    exceptions,
    kupiec_pof,
    loss_over_im,
    over_margining,
    traffic_light,
)

# --- Kupiec POF ---


def test_kupiec_statistic_for_five_exceptions_in_250_days():
    """LR = −2[245 ln 0.99 + 5 ln 0.01 − 245 ln 0.98 − 5 ln 0.02]
    = −2[245 ln(0.99/0.98) − 5 ln 2] = −2[245·0.01015237 − 3.46573590] = 1.956810."""
    lr, p = kupiec_pof(250, 5)
    by_hand = -2.0 * (245 * math.log(0.99 / 0.98) - 5 * math.log(2.0))
    assert lr == pytest.approx(by_hand, rel=1e-12)
    assert lr == pytest.approx(1.956810, abs=1e-6)
    # χ²(1) survival: P(Z² > 1.95681) = 2·(1 − Φ(√1.95681)) = 2·(1 − Φ(1.398860)) = 0.16185
    assert p == pytest.approx(0.16185, abs=1e-5)


def test_kupiec_statistic_with_no_exceptions_uses_zero_log_zero():
    """x = 0: LR = −2·n·ln(1 − p) = −500·ln 0.99 = 5.025168 (the x/n term is 0·ln 0 = 0)."""
    lr, p = kupiec_pof(250, 0)
    assert lr == pytest.approx(-500.0 * math.log(0.99), rel=1e-12)
    assert lr == pytest.approx(5.025168, abs=1e-6)
    assert p == pytest.approx(0.02498, abs=1e-4)  # too few exceptions also rejects: two-sided


def test_kupiec_statistic_is_zero_at_the_expected_rate():
    lr, p = kupiec_pof(1000, 10)
    assert lr == pytest.approx(0.0, abs=1e-9)
    assert p == pytest.approx(1.0)


# --- One-sided binomial test of coverage ≥ 99% ---


def test_binomial_pvalue_matches_the_basel_table():
    """Basel (1996) table, 250 days at 99%: P(X ≤ 4) = 89.22%, P(X ≤ 9) = 99.97%."""
    assert binomial_pvalue(250, 5) == pytest.approx(1 - 0.8922, abs=5e-5)
    assert binomial_pvalue(250, 10) == pytest.approx(1 - 0.9997, abs=5e-5)


def test_binomial_pvalue_of_zero_exceptions_is_one():
    assert binomial_pvalue(250, 0) == 1.0


def test_binomial_pvalue_of_one_exception_in_ten_days_by_hand():
    """P(X ≥ 1) = 1 − 0.99¹⁰ = 0.0956179."""
    assert binomial_pvalue(10, 1) == pytest.approx(1 - 0.99**10, rel=1e-12)


# --- Traffic light scaled to 250 days ---


@pytest.mark.parametrize(
    "n, x, zone",
    [
        (250, 4, "green"),
        (250, 5, "yellow"),
        (250, 9, "yellow"),
        (250, 10, "red"),
        (500, 9, "green"),  # 4.5 per 250
        (500, 10, "yellow"),  # 5.0 per 250
        (500, 19, "yellow"),  # 9.5 per 250
        (500, 20, "red"),  # 10.0 per 250
        (125, 2, "green"),  # 4.0 per 250
        (125, 3, "yellow"),  # 6.0 per 250
    ],
)
def test_traffic_light_zone_boundaries(n, x, zone):
    got, scaled = traffic_light(n, x)
    assert got == zone
    assert scaled == pytest.approx(250 * x / n)


# --- Exceptions ---


def test_exception_is_a_loss_strictly_above_im():
    loss = np.array([1.0, 5.0, 3.0, -2.0, np.nan, 7.0])
    im = np.array([2.0, 4.0, 3.0, 1.0, 1.0, 6.9])
    assert exceptions(loss, im).tolist() == [False, True, False, False, False, True]


def test_rounding_noise_on_a_flat_book_is_not_an_exception():
    assert not exceptions(np.array([1e-12]), np.array([0.0])).any()
    assert exceptions(np.array([1e-3]), np.array([0.0])).all()


def test_coverage_of_a_tiny_series():
    exc = np.zeros(100, dtype=bool)
    exc[[3, 50]] = True
    c = Coverage.of(exc)
    assert (c.n, c.exceptions, c.rate) == (100, 2, 0.02)
    assert c.binomial_p == pytest.approx(1 - 0.99**100 - 100 * 0.01 * 0.99**99, rel=1e-12)
    assert c.zone == "yellow"  # 5 per 250
    assert c.passes  # p = 0.2642 ≥ 5%


# --- Over-margining ---


def test_over_margining_on_losses_one_to_hundred():
    """Losses 1..100, IM 198 every day: the 99% quantile is the 2nd largest loss, 99;
    mean IM / q99 = 2; loss/IM = k/198, its 99% quantile 0.5, scale factor 2."""
    loss = np.arange(1.0, 101.0)
    im = np.full(100, 198.0)
    q99, ratio, scale = over_margining(loss, im)
    assert q99 == 99.0
    assert ratio == pytest.approx(2.0)
    assert scale == pytest.approx(2.0)


def test_loss_over_im_where_im_is_zero():
    got = loss_over_im(np.array([0.0, 5.0, 2.0]), np.array([0.0, 0.0, 4.0]))
    assert got.tolist() == [0.0, math.inf, 0.5]
