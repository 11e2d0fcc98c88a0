"""EWMA correlation and the vol floor's history mean (keel/risk/ewma.py, SPEC §3 and §6 [v2]).

The references are independent of the recursion: a worked example by hand, the closed form
    var_n = lam^n var_0 + (1 - lam) sum_i lam^(n-i) r_i^2,   cov_n likewise with r_a,i r_b,i,
evaluated with numpy weights, and the exact values +-1 for a series against itself or its inverse.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.risk.ewma import EwmaCorrelation, EwmaVol, mean_ewma_vol

LAM, PPY, IV = 0.94, 365, 0.8


def closed_form_rho(pa, pb, lam=LAM, ppy=PPY, iv=IV, rho0=0.0):
    ra, rb = np.diff(np.log(pa)), np.diff(np.log(pb))
    n = len(ra)
    w = (1.0 - lam) * lam ** (n - np.arange(1, n + 1))  # weight of return i = 1..n
    v0 = iv**2 / ppy
    var_a = lam**n * v0 + np.sum(w * ra * ra)
    var_b = lam**n * v0 + np.sum(w * rb * rb)
    cov = lam**n * rho0 * v0 + np.sum(w * ra * rb)
    return cov / np.sqrt(var_a * var_b)


def test_hand_computed_example():
    """A: 100 -> 110 -> 99, B: 50 -> 52 -> 53 (lambda 0.94, 365, seeds 80%, rho0 = 0), by hand:
    ra = (ln 1.1, ln 0.9) = (0.0953101798, -0.1053605157)
    rb = (ln 1.04, ln(53/52)) = (0.0392207132, 0.0190481950)
    cov1 = 0.06 * 0.0953101798 * 0.0392207132 = 0.06 * 0.0037381332 = 0.00022428799
    cov2 = 0.94 * 0.00022428799 + 0.06 * (-0.1053605157 * 0.0190481950)
         = 0.00021083071 + 0.06 * (-0.0020069276) = 0.00021083071 - 0.00012041566 = 0.00009041506
    var_a2 = 0.00272771564 (test_vol's example)
    var_b1 = 0.94 * 0.00175342466 + 0.06 * 0.00153826434 = 0.00164821918 + 0.00009229586
           = 0.00174051504
    var_b2 = 0.94 * 0.00174051504 + 0.06 * 0.00036283373 = 0.00163608414 + 0.00002177002
           = 0.00165785416
    rho = 0.00009041506 / sqrt(0.00272771564 * 0.00165785416) = 0.00009041506 / 0.00212653585
        = 0.0425175
    """
    est = EwmaCorrelation.of_prices([100.0, 110.0, 99.0], [50.0, 52.0, 53.0])
    assert est.cov == pytest.approx(0.00009041506, rel=1e-7)
    assert est.b.variance == pytest.approx(0.00165785416, rel=1e-8)
    assert est.rho == pytest.approx(0.0425175, rel=1e-5)


st_path = st.lists(
    st.tuples(st.floats(0.5, 2.0), st.floats(0.5, 2.0)), min_size=1, max_size=80
).map(
    lambda steps: (
        np.cumprod([100.0] + [a for a, _ in steps]),
        np.cumprod([7.0] + [b for _, b in steps]),
    )
)


@given(path=st_path, rho0=st.floats(-1.0, 1.0))
def test_recursion_equals_the_closed_form(path, rho0):
    pa, pb = path
    est = EwmaCorrelation.of_prices(list(pa), list(pb), initial_rho=rho0)
    assert est.rho == pytest.approx(closed_form_rho(pa, pb, rho0=rho0), rel=1e-9, abs=1e-12)
    assert -1.0 <= est.rho <= 1.0


def test_a_series_with_itself_is_one_and_with_its_inverse_minus_one():
    """With matching seeds (rho0 = +-1) the EWMA matrix is singular at every step: exactly +-1."""
    pa = [100.0, 103.0, 97.0, 99.0, 120.0, 80.0]
    assert EwmaCorrelation.of_prices(pa, pa, initial_rho=1.0).rho == pytest.approx(1.0, abs=1e-15)
    inverse = [1.0 / p for p in pa]
    assert EwmaCorrelation.of_prices(pa, inverse, initial_rho=-1.0).rho == pytest.approx(
        -1.0, abs=1e-15
    )


def test_seed_decays_toward_the_data():
    """Identical returns from an independent seed: cov_n = var_n - lam^n var_0 exactly, so
    rho_n = 1 - lam^n var_0 / var_n, which tends to 1."""
    rng = np.random.default_rng(3)
    pa = list(100.0 * np.exp(np.cumsum(rng.normal(0, 0.03, 200))))
    est = EwmaCorrelation.of_prices(pa, pa, initial_rho=0.0)
    v0 = IV**2 / PPY
    assert est.rho == pytest.approx(1.0 - LAM**199 * v0 / est.a.variance, rel=1e-12)
    assert est.rho > 0.9999


def test_it_reads_the_callers_vols_on_shared_ticks():
    """The relayer's use: one EwmaVol per feed, stepped once per tick, and the pair folds the
    returns they gave: the vols are the ones the pair reads."""
    a, b = EwmaVol(LAM, PPY, IV), EwmaVol(LAM, PPY, IV)
    pair = EwmaCorrelation(a, b)
    pa, pb = [10.0, 11.0, 10.5, 12.0], [20.0, 19.0, 21.0, 22.0]
    for x, y in zip(pa, pb, strict=True):
        pair.fold(a.step(x), b.step(y))
    assert pair.rho == pytest.approx(closed_form_rho(np.array(pa), np.array(pb)), rel=1e-12)
    assert a.vol == pytest.approx(EwmaCorrelation.of_prices(pa, pb).a.vol, rel=1e-15)


def test_bad_inputs_are_refused_with_one_line():
    with pytest.raises(ValueError, match="initial_rho must lie in"):
        EwmaCorrelation(EwmaVol(), EwmaVol(), initial_rho=1.0000001)
    with pytest.raises(ValueError, match="one lambda"):
        EwmaCorrelation(EwmaVol(0.94), EwmaVol(0.97))
    with pytest.raises(ValueError, match="same ticks"):
        EwmaCorrelation(EwmaVol(), EwmaVol()).fold(0.01, None)
    with pytest.raises(ValueError, match="one length"):
        EwmaCorrelation.of_prices([1.0, 2.0], [1.0])


# --- the vol floor's default: the mean of the EWMA vol over a history ---


def test_mean_ewma_vol_hand_example():
    """100 -> 110 -> 99: vols after each return sqrt(365 var1) and sqrt(365 var2) with var1, var2
    of test_vol's worked example: (0.8947292 + 0.9978057) / 2 = 0.9462674."""
    v1 = math.sqrt(365 * 0.00219326100)
    v2 = math.sqrt(365 * 0.00272771564)
    assert mean_ewma_vol([100.0, 110.0, 99.0]) == pytest.approx((v1 + v2) / 2, rel=1e-8)
    assert (v1 + v2) / 2 == pytest.approx(0.9462674, abs=1e-7)


@given(prices=st.lists(st.floats(1.0, 1e6), min_size=2, max_size=60))
def test_mean_ewma_vol_is_the_mean_of_the_closed_forms(prices):
    from keel.risk.ewma import ewma_closed_form

    expected = np.mean([ewma_closed_form(prices[: k + 1]) for k in range(1, len(prices))])
    assert mean_ewma_vol(prices) == pytest.approx(expected, rel=1e-9)


def test_mean_ewma_vol_needs_a_return():
    with pytest.raises(ValueError, match="at least two prices"):
        mean_ewma_vol([100.0])
