"""Anti-procyclicality (SPEC v2 §6): the reports' default σ_floor and the APC metrics of an IM series.

Floor. σ_eff = max(σ, σ_floor) sets the scan ranges and haircuts. The SPEC's default floor is the
mean of the relayer's vol over its whole history, at least 10 years where data allows (EMIR RTS
153/2013 art. 28(1)(c)). The reports take the mean of the relayer's estimator
(`keel.risk.ewma.EwmaVol`, λ = 0.94 on daily log returns, the rows of `PriceHistory.ewma_vol`) over
the whole price file given to them, less its warm-up rows: there the estimator still carries its
80% seed rather than the data (the backtest tests none of those rows either). It is one number per
underlying for the whole backtest, so it knows days after the tested one (a live floor would be the
mean up to the day); the report says so.

Metrics of a daily IM series (one value per row of the price file, in order):
  - largest n-day rise: max over t of (IM(t + n) − IM(t)) / IM(t), taken over the t with IM(t) > 0,
    for n = 1 and n = 30 rows (days of the file);
  - peak-to-trough ratio: max IM / min IM over the whole series (undefined when min IM = 0).
A series whose IM is zero on every day (a book the scenarios see as flat) has none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backtest import ABS_TOL
from .prices import PriceHistory

RISE_WINDOWS = (1, 30)  # [rows of the price file = days]


def default_vol_floor(prices: PriceHistory, warmup: int) -> np.ndarray:
    """(2,) σ_floor per underlying (FEEDS order): the mean EWMA vol over rows warmup.. [vol]."""
    if not 0 <= warmup < len(prices):
        raise ValueError(f"a warm-up of {warmup} days leaves no day of {len(prices)} for the floor")
    return prices.ewma_vol()[warmup:].mean(axis=0)


@dataclass(frozen=True)
class Rise:
    """The largest relative rise of IM over `days` rows: IM(later) / IM(earlier) − 1."""

    days: int
    ratio: float  # (IM_after − IM_before) / IM_before                          [fraction]
    start: str  # date of IM_before (ISO)
    end: str  # date of IM_after (ISO)
    im_before: float  # [USD]
    im_after: float  # [USD]

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Procyclicality:
    """APC metrics of one IM series; None where IM is zero throughout (or at the trough)."""

    rises: dict[int, Rise | None]  # window in rows → the largest rise
    peak_to_trough: float | None  # max IM / min IM                              [ratio]
    peak: tuple[str, float]  # (date, IM) of the maximum                         [USD]
    trough: tuple[str, float]  # (date, IM) of the minimum                       [USD]

    def to_json(self) -> dict:
        return {
            **{f"max_rise_{n}d": r.to_json() if r else None for n, r in self.rises.items()},
            "peak_to_trough": self.peak_to_trough,
            "peak": {"date": self.peak[0], "im": self.peak[1]},
            "trough": {"date": self.trough[0], "im": self.trough[1]},
        }


def largest_rise(im: np.ndarray, dates: list[str], n: int) -> Rise | None:
    """max over t of (IM(t + n) − IM(t)) / IM(t) over the t with IM(t) > $1e-6; None if no pair."""
    im = np.asarray(im, float)
    if n < 1:
        raise ValueError(f"a rise is over at least 1 day, got {n}")
    before, after = im[:-n], im[n:]
    ok = np.flatnonzero(before > ABS_TOL)
    if ok.size == 0:
        return None
    rel = (after[ok] - before[ok]) / before[ok]
    t = int(ok[np.argmax(rel)])
    return Rise(n, float(rel.max()), dates[t], dates[t + n], float(im[t]), float(im[t + n]))


def procyclicality(im, dates: list[str]) -> Procyclicality:
    """The APC metrics of a daily IM series (see the module docstring)."""
    im = np.asarray(im, float)
    if im.ndim != 1 or im.size != len(dates) or im.size == 0:
        raise ValueError("need one IM per date, at least one")
    hi, lo = int(np.argmax(im)), int(np.argmin(im))
    ratio = float(im[hi] / im[lo]) if im[lo] > ABS_TOL else None
    return Procyclicality(
        rises={n: largest_rise(im, dates, n) for n in RISE_WINDOWS},
        peak_to_trough=ratio,
        peak=(dates[hi], float(im[hi])),
        trough=(dates[lo], float(im[lo])),
    )
