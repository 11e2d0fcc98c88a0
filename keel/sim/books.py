"""Pure logic of the simulation's population: books scaled to the market, and the expiry calendar.

- `scale_book`: a book of bench/portfolios.json was written against the file's market snapshot
  (BTC $60,000, ETH $3,000). At another spot it keeps its *moneyness* (strikes are fractions of
  spot already) and its *USD notional*: sizes on an underlying, and collateral linked to it, are
  multiplied by snapshot spot / current spot. USD collateral is unchanged.
- `expiry_calendar` / `snap_expiry`: options are listed on a rolling calendar, weekly expiries
  (Fridays 08:00 UTC) and monthly ones (the last Friday of the month), as venues do. A book's
  "30 days" leg trades the listed expiry nearest to 30 days out, so that a population shares a
  few series per underlying (the engine allows 4 expiries per underlying per account).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping

DAY = 86_400
WEEK = 7 * DAY
EXPIRY_HOUR = 8  # 08:00 UTC, the usual crypto options expiry time
LINKED = {"WETH": "ETH", "WBTC": "BTC"}  # collateral token -> the underlying its price follows


def scale_book(
    book: Mapping, snapshot: Mapping[str, float], spot: Mapping[str, float], factor: float = 1.0
) -> dict:
    """`book` ({"collateral": {...}, "positions": [...]}) at constant moneyness and USD notional.

    `snapshot` and `spot` map underlyings ("BTC", "ETH") to the snapshot's and today's spot;
    `factor` scales the whole book (positions and collateral) on top.
    """
    ratio = {u: snapshot[u] / spot[u] for u in spot}
    collateral = {
        tok: amount * factor * (ratio[LINKED[tok]] if tok in LINKED else 1.0)
        for tok, amount in book["collateral"].items()
    }
    positions = [
        {**p, "size": p["size"] * factor * ratio[p["underlying"]]} for p in book["positions"]
    ]
    return {"collateral": collateral, "positions": positions}


def _fridays(start: dt.date, end: dt.date) -> list[dt.date]:
    d = start + dt.timedelta(days=(4 - start.weekday()) % 7)
    out = []
    while d <= end:
        out.append(d)
        d += dt.timedelta(days=7)
    return out


def _last_friday(year: int, month: int) -> dt.date:
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=(last.weekday() - 4) % 7)


def _ts(d: dt.date) -> int:
    return calendar.timegm((d.year, d.month, d.day, EXPIRY_HOUR, 0, 0))


def expiry_calendar(now: int, weeklies: int = 4, monthlies: int = 3) -> list[int]:
    """Listed expiries at time `now` [unix s], ascending: the next `weeklies` Fridays and the
    last Fridays of the next `monthlies` months, all strictly after `now` + 1 day (a series is not
    listed for its last day)."""
    first = now + DAY
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    weekly = [t for t in map(_ts, _fridays(today, today + dt.timedelta(days=7 * (weeklies + 1))))]
    weekly = [t for t in weekly if t > first][:weeklies]
    monthly, y, m = [], today.year, today.month
    while len(monthly) < monthlies:
        t = _ts(_last_friday(y, m))
        if t > first:
            monthly.append(t)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return sorted(set(weekly) | set(monthly))


def snap_expiry(now: int, days: float, listed: list[int]) -> int:
    """The listed expiry nearest to `now` + `days` (ties go to the earlier one)."""
    if not listed:
        raise ValueError("no listed expiry")
    target = now + days * DAY
    return min(listed, key=lambda t: (abs(t - target), t))


def round_strike(strike: float, spot: float) -> float:
    """A listed strike: rounded to a grid of about 1% of spot with 1-2-5 steps (e.g. $100 at $8,000),
    so that books opened on nearby days share series."""
    step = 10 ** int(f"{spot * 0.01:e}".split("e")[1])
    lead = spot * 0.01 / step
    step *= 1 if lead < 2 else (2 if lead < 5 else 5)
    return max(step, round(strike / step) * step)
