"""Perpetual funding of SPEC §4 in float64, from the index inputs (not from the chain's own view).

SPEC §4: funding accrues through a cumulative index per underlying; the rate per second is
clamp((mark − S)/S, ±cap)/8 h with cap 0.05 %/h, read (docs/ENGINE.md) as

    rate = clamp((mark − S)/S / 8 h, ± cap / 1 h)                          [fraction per second]
    index(now) = index(last accrual) + rate · (now − last accrual) · S      [USD per unit long]
    owed = q · (index(now) − index at entry)                                [USD, + = the account pays]

with S the feed's current spot. A perp whose mark is 0 (no fill yet) accrues nothing. The inputs are
the perp market's state at its last accrual (stored index, last accrual time, mark), the position's
index at entry, the spot, the cap and the time: everything the chain computes funding from, so that
a wrong rate, period, cap or sign in the contract shows up as a difference in equity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FUNDING_PERIOD_S = 8 * 3600  # the premium is paid over this period              [s]
HOUR_S = 3600  # the cap is per hour                                               [s]


@dataclass(frozen=True)
class PerpFunding:
    """One perp market's funding state as of its last accrual (MarginEngine.perpMarkets; the
    stored index itself is the caller's, who subtracts the index at entry from it exactly)."""

    last_accrual: int  # time of the last accrual                                 [unix s]
    mark: float  # EMA mark price; 0 before the first fill                        [USD]
    cap_per_hour: float  # |rate| cap                                       [fraction per hour]


def funding_rate(mark, spot, cap_per_hour):
    """Funding rate [fraction per second]: clamp((mark − S)/S / 8 h, ± cap/1 h); 0 without a mark
    (mark = 0) or a spot. Works elementwise on arrays."""
    mark, spot = np.asarray(mark, float), np.asarray(spot, float)
    live = (mark != 0.0) & (spot != 0.0)
    premium = np.where(live, (mark - spot) / np.where(spot != 0.0, spot, 1.0), 0.0)
    cap = float(cap_per_hour) / HOUR_S
    rate = np.clip(premium / FUNDING_PERIOD_S, -cap, cap)
    return rate if rate.ndim else float(rate)


def index_accrued(state: PerpFunding, spot: float, now: int) -> float:
    """Index growth since the last accrual: rate · (now − last accrual) · S [USD per unit long]."""
    dt = int(now) - int(state.last_accrual)
    if dt < 0:
        raise ValueError(f"time {now} is before the last funding accrual {state.last_accrual}")
    return funding_rate(state.mark, spot, state.cap_per_hour) * dt * float(spot)


def funding_owed(size: float, index_change: float) -> float:
    """Funding a position of `size` units owes over an index change [USD, + = the account pays]."""
    return float(size) * float(index_change)
