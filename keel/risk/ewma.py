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
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"price must be finite and > 0, got {price}")
        if self.last_price is not None:
            r = math.log(price / self.last_price)
            self.variance = self.lam * self.variance + (1.0 - self.lam) * r * r
            self.returns += 1
        self.last_price = float(price)
        return self.vol

    @property
    def vol(self) -> float:
        """Annualised vol as a fraction (0.8 = 80%)."""
        return math.sqrt(self.variance * self.periods_per_year)


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


class EwmaCorrelation:
    """Exponentially weighted correlation of two price series (RiskMetrics, λ = 0.94, log returns).

    With r, s the two log returns of a period: var_r ← λ var_r + (1 − λ) r², var_s likewise, and
    cov ← λ cov + (1 − λ) r s; ρ = cov / sqrt(var_r var_s). The variances are EwmaVol's recursion.
    Seed: both variances from `initial_vol` annualised over `periods_per_year` (as EwmaVol: 80% a
    year is 0.64/365 a day) and cov from `initial_corr` (default 0: no view); with λ = 0.94 the seed's
    weight is λⁿ after n returns (2% after 60)."""

    def __init__(
        self,
        lam: float = DEFAULT_LAMBDA,
        initial_vol: float = DEFAULT_INITIAL_VOL,
        initial_corr=0.0,
        periods_per_year: float = 365,
    ) -> None:
        if not -1.0 <= initial_corr <= 1.0:
            raise ValueError(f"initial correlation must be in [-1, 1], got {initial_corr}")
        self.legs = (
            EwmaVol(lam, periods_per_year, initial_vol),
            EwmaVol(lam, periods_per_year, initial_vol),
        )
        self.lam = lam
        self.cov = initial_corr * self.legs[0].variance  # per-period covariance [1/period]

    def update(self, price_a: float, price_b: float) -> float:
        """Folds in one close of each series (the first only sets the base); returns ρ."""
        a, b = self.legs
        prev = (a.last_price, b.last_price)
        a.update(price_a)
        b.update(price_b)
        if prev[0] is not None and prev[1] is not None:
            r, s = math.log(price_a / prev[0]), math.log(price_b / prev[1])
            self.cov = self.lam * self.cov + (1.0 - self.lam) * r * s
        return self.rho

    @property
    def rho(self) -> float:
        """ρ in [−1, 1] (clipped against rounding)."""
        den = math.sqrt(self.legs[0].variance * self.legs[1].variance)
        return max(-1.0, min(1.0, self.cov / den)) if den > 0 else 0.0
