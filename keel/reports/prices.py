"""Daily BTC/ETH closes in the shared data format, and the relayer's EWMA vol along them.

Format (data/README.md): a header `date,btc_usd,eth_usd`, then one row per day, ISO dates
ascending, prices in USD. Columns are found by name, so extra columns are ignored. Every price must
be finite and positive and dates strictly increasing; gaps are allowed (a return is then taken
across the gap, as the relayer replaying the file would do).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from keel.risk.ewma import EwmaVol

FEEDS = ("BTC", "ETH")  # column order of every (T, 2) array here; feed ids 1, 2 (DESIGN.md)
COLUMNS = {"BTC": "btc_usd", "ETH": "eth_usd"}
DAY = 86400  # [s]


class PriceFileError(ValueError):
    """The price file is not in the shared data format."""


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


def load_prices(path: str | Path) -> PriceHistory:
    """Read a CSV of the shared data format; PriceFileError with the line at fault otherwise."""
    path = Path(path)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        missing = [c for c in ("date", *COLUMNS.values()) if c not in fields]
        if missing:
            raise PriceFileError(f"{path}: missing column(s) {missing}; header is {fields}")
        dates, rows = [], []
        for line, row in enumerate(reader, start=2):
            try:
                d = date.fromisoformat(row["date"].strip())
                prices = [float(row[COLUMNS[f]]) for f in FEEDS]
            except (ValueError, TypeError, AttributeError) as exc:
                raise PriceFileError(f"{path}:{line}: cannot parse {row}: {exc}") from None
            if not all(math.isfinite(p) and p > 0 for p in prices):
                raise PriceFileError(f"{path}:{line}: prices must be finite and > 0, got {prices}")
            if dates and d <= dates[-1]:
                raise PriceFileError(f"{path}:{line}: date {d} is not after {dates[-1]}")
            dates.append(d)
            rows.append(prices)
    if len(rows) < 2:
        raise PriceFileError(f"{path}: need at least two rows of prices, found {len(rows)}")
    return PriceHistory(tuple(dates), np.array(rows, dtype=float), str(path))
