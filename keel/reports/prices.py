"""Daily BTC/ETH closes in the shared data format, and the relayer's EWMA vol along them.

The file format and its checks are keel.pricefile's (one reader for every tool); gaps between dates
are allowed, a return is then taken across the gap, as the relayer replaying the file would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from keel.pricefile import PriceFileError, read_price_file
from keel.risk.ewma import EwmaCorrelation, EwmaVol

__all__ = ["FEEDS", "PriceFileError", "PriceHistory", "load_prices"]

FEEDS = ("BTC", "ETH")  # column order of every (T, 2) array here; feed ids 1, 2 (DESIGN.md)
COLUMNS = {"BTC": "btc_usd", "ETH": "eth_usd"}
DAY = 86400  # [s]


@dataclass(frozen=True)
class PriceHistory:
    """Daily closes of BTC and ETH, columns in `FEEDS` order."""

    dates: tuple[date, ...]
    spot: np.ndarray  # (T, 2) closes                                              [USD]
    source: str = ""

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def times(self) -> np.ndarray:
        """(T,) 00:00 UTC of each date, used as the oracle's observedAt          [unix s]."""
        return np.array(
            [datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() for d in self.dates]
        )

    @property
    def log_returns(self) -> np.ndarray:
        """(T − 1, 2) daily log returns ln(S_t / S_{t−1})."""
        return np.diff(np.log(self.spot), axis=0)

    def ewma_vol(self, **kwargs) -> np.ndarray:
        """(T, 2) the relayer's EWMA vol (keel.risk.ewma.EwmaVol) after each day's close, annualised.

        One estimator per underlying, fed every close in order; row t uses closes 0..t only (no
        look-ahead). Row 0 is the estimator's seed (its `initial_vol`). kwargs go to EwmaVol.
        """
        out = np.empty_like(self.spot)
        for u in range(self.spot.shape[1]):
            est = EwmaVol(**kwargs)
            for t, price in enumerate(self.spot[:, u]):
                out[t, u] = est.update(float(price))
        return out

    def ewma_correlation(self, **kwargs) -> np.ndarray:
        """(T,) the relayer's EWMA BTC/ETH correlation (keel.risk.ewma.EwmaCorrelation, stepped
        as the relayer steps it) after each day's close, no look-ahead; row 0 is the seed. kwargs
        go to EwmaVol (lam, periods_per_year, initial_vol)."""
        est = EwmaCorrelation(EwmaVol(**kwargs), EwmaVol(**kwargs))
        return np.array(
            [est.fold(est.a.step(float(a)), est.b.step(float(b))) for a, b in self.spot]
        )


def load_prices(path: str | Path) -> PriceHistory:
    """Read a CSV of the shared data format (keel.pricefile); PriceFileError with the line at
    fault otherwise. The backtests need at least two rows (one return)."""
    f = read_price_file(path, tuple(COLUMNS[u] for u in FEEDS), min_rows=2)
    return PriceHistory(f.dates, np.array(f.prices, dtype=float), str(f.path))
