"""EWMA realised volatility (RiskMetrics, lambda = 0.94) on log returns, annualised.

For log returns r_t = ln(S_t / S_{t-1}) the per-period variance follows
    var_t = lambda * var_{t-1} + (1 - lambda) * r_t^2,
so after n returns, in closed form,
    var_n = lambda^n * var_0 + (1 - lambda) * sum_{i=1..n} lambda^(n-i) * r_i^2,
and the annualised vol is sqrt(var_n * periods_per_year). The relayer uses it for a feed unless its
source supplies an implied vol (SPEC §3), and clamps the result to the feed's on-chain bounds.

Seeding: var_0 = initial_vol^2 / periods_per_year. The default initial_vol of 80% is the SPEC's
reference vol sigma_ref (a typical BTC/ETH ATM vol); with lambda = 0.94 its weight halves every
~11 ticks, so after a few weeks of daily replay the estimate is the data's. `from_history` seeds
from a warm-up window's mean squared return instead.

[v2] Correlation (SPEC §3 correlation feed), the same RiskMetrics recursion on the cross product of
two series' log returns, zero-mean like the variance:
    cov_t = lambda * cov_{t-1} + (1 - lambda) * r_a,t * r_b,t,   rho_t = cov_t / sqrt(var_a,t var_b,t),
with var_a, var_b the two series' EwmaVol variances on the same returns. Seed: cov_0 = initial_rho *
sqrt(var_a,0 var_b,0), initial_rho = 0 by default (no information; its weight decays like the
variances'). The 2x2 EWMA matrix stays positive semi-definite (a sum of PSD terms with positive
weights), so |rho| <= 1 up to rounding; `rho` clips the rounding.

[v2] Vol floor (SPEC §6 anti-procyclicality): `mean_ewma_vol` is the mean of the EWMA vol path over a
whole price history (the value after each return), the relayer's default sigma_floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_LAMBDA = 0.94
DEFAULT_INITIAL_VOL = 0.8  # SPEC §2 sigma_ref


class EwmaVol:
    """Exponentially weighted realised vol of one price series."""

    def __init__(
        self,
        lam: float = DEFAULT_LAMBDA,
        periods_per_year: float = 365,
        initial_vol: float = DEFAULT_INITIAL_VOL,
    ) -> None:
        if not 0.0 < lam < 1.0:
            raise ValueError(f"lambda must be in (0, 1), got {lam}")
        if periods_per_year <= 0 or initial_vol < 0:
            raise ValueError("periods_per_year must be > 0 and initial_vol >= 0")
        self.lam = lam
        self.periods_per_year = periods_per_year
        self.variance = initial_vol**2 / periods_per_year  # per-period variance   [1/period]
        self.last_price: float | None = None
        self.returns = 0  # number of returns folded in

    @classmethod
    def from_history(
        cls, prices: Sequence[float], lam: float = DEFAULT_LAMBDA, periods_per_year: float = 365
    ) -> EwmaVol:
        """Seeded with the mean squared log return of `prices` (>= 2 prices), last price set."""
        rs = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
        if not rs:
            raise ValueError("need at least two prices to seed from history")
        est = cls(lam, periods_per_year, 0.0)
        est.variance = sum(r * r for r in rs) / len(rs)
        est.last_price = float(prices[-1])
        return est

    def update(self, price: float) -> float:
        """Folds in the log return to `price` (the first price only sets the base); returns vol."""
        self.step(price)
        return self.vol

    def step(self, price: float) -> float | None:
        """Folds in the log return to `price` and returns it (None for the first price)."""
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"price must be finite and > 0, got {price}")
        r = None
        if self.last_price is not None:
            r = math.log(price / self.last_price)
            self.variance = self.lam * self.variance + (1.0 - self.lam) * r * r
            self.returns += 1
        self.last_price = float(price)
        return r

    @property
    def vol(self) -> float:
        """Annualised vol as a fraction (0.8 = 80%)."""
        return math.sqrt(self.variance * self.periods_per_year)


class EwmaCorrelation:
    """Exponentially weighted correlation of two price series (module docstring).

    It reads the variances of two `EwmaVol`s that the caller steps with the same ticks (a relayer
    already keeps one per feed): `fold(r_a, r_b)` takes the returns their `step` gave. `of_prices`
    builds its own pair for one-off use.
    """

    def __init__(self, a: EwmaVol, b: EwmaVol, initial_rho: float = 0.0) -> None:
        if a.lam != b.lam:
            raise ValueError(f"both series need one lambda, got {a.lam} and {b.lam}")
        if not -1.0 <= initial_rho <= 1.0:
            raise ValueError(f"initial_rho must lie in [-1, 1], got {initial_rho}")
        self.a, self.b = a, b
        self.cov = initial_rho * math.sqrt(a.variance * b.variance)  # [1/period]

    def fold(self, r_a: float | None, r_b: float | None) -> float:
        """Folds in one tick's returns of both series (None, None on the first tick); returns rho."""
        if (r_a is None) != (r_b is None):
            raise ValueError("both series must move on the same ticks")
        if r_a is not None:
            lam = self.a.lam
            self.cov = lam * self.cov + (1.0 - lam) * r_a * r_b
        return self.rho

    @property
    def rho(self) -> float:
        """The correlation in [-1, 1] (0 while either variance is 0)."""
        den = math.sqrt(self.a.variance * self.b.variance)
        return 0.0 if den == 0.0 else max(-1.0, min(1.0, self.cov / den))

    @classmethod
    def of_prices(
        cls,
        prices_a: Sequence[float],
        prices_b: Sequence[float],
        lam: float = DEFAULT_LAMBDA,
        periods_per_year: float = 365,
        initial_vol: float = DEFAULT_INITIAL_VOL,
        initial_rho: float = 0.0,
    ) -> EwmaCorrelation:
        """The estimator after both price series (same length), with its own two EwmaVols."""
        if len(prices_a) != len(prices_b):
            raise ValueError("the two price series must have one length")
        est = cls(
            EwmaVol(lam, periods_per_year, initial_vol),
            EwmaVol(lam, periods_per_year, initial_vol),
            initial_rho,
        )
        for pa, pb in zip(prices_a, prices_b, strict=True):
            est.fold(est.a.step(pa), est.b.step(pb))
        return est


def mean_ewma_vol(
    prices: Sequence[float],
    lam: float = DEFAULT_LAMBDA,
    periods_per_year: float = 365,
    initial_vol: float = DEFAULT_INITIAL_VOL,
) -> float:
    """The mean of the annualised EWMA vol over `prices` (its value after each of the >= 1
    returns): the relayer's default vol floor for a history (SPEC §6 [v2])."""
    if len(prices) < 2:
        raise ValueError("need at least two prices for one return")
    est = EwmaVol(lam, periods_per_year, initial_vol)
    est.update(prices[0])
    return math.fsum(est.update(p) for p in prices[1:]) / (len(prices) - 1)


def ewma_closed_form(
    prices: Sequence[float],
    lam: float = DEFAULT_LAMBDA,
    periods_per_year: float = 365,
    initial_vol: float = DEFAULT_INITIAL_VOL,
) -> float:
    """The annualised vol after `prices`, from the closed form of the recursion (for tests)."""
    rs = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
    n = len(rs)
    var = lam**n * initial_vol**2 / periods_per_year
    var += (1.0 - lam) * sum(lam ** (n - i) * r * r for i, r in enumerate(rs, start=1))
    return math.sqrt(var * periods_per_year)


def clamp(value: int, lo: int, hi: int) -> int:
    """`value` clamped to [lo, hi] (wad integers)."""
    return max(lo, min(hi, value))
