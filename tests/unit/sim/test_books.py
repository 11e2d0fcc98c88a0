"""keel.sim.books: books scaled to the market, and the rolling expiry calendar."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest

from keel.sim.books import expiry_calendar, round_strike, scale_book, snap_expiry

SNAP = {"BTC": 60_000.0, "ETH": 3_000.0}
BOOK = {
    "collateral": {"USDC": 20_000, "WETH": 10},
    "positions": [
        {"type": "perp", "underlying": "BTC", "size": 1.0},
        {"type": "option", "underlying": "ETH", "expiry_days": 30, "strike": 1.1, "kind": "call",
         "size": -10.0},
    ],
}  # fmt: skip


def ts(y, m, d, h=0) -> int:
    return calendar.timegm((y, m, d, h, 0, 0))


def test_scale_book_keeps_usd_notional_and_moneyness():
    spot = {"BTC": 6_000.0, "ETH": 150.0}
    out = scale_book(BOOK, SNAP, spot)
    btc, eth = out["positions"]
    assert btc["size"] * spot["BTC"] == pytest.approx(1.0 * SNAP["BTC"])
    assert eth["size"] * spot["ETH"] == pytest.approx(-10.0 * SNAP["ETH"])
    assert eth["strike"] == 1.1  # moneyness unchanged
    assert out["collateral"]["USDC"] == 20_000
    assert out["collateral"]["WETH"] * spot["ETH"] == pytest.approx(10 * SNAP["ETH"])


def test_scale_book_factor_scales_everything_and_leaves_the_input_alone():
    out = scale_book(BOOK, SNAP, SNAP, factor=2.0)
    assert out["collateral"] == {"USDC": 40_000, "WETH": 20}
    assert [p["size"] for p in out["positions"]] == [2.0, -20.0]
    assert BOOK["positions"][0]["size"] == 1.0


def test_expiry_calendar_lists_fridays_at_eight_and_month_ends():
    now = ts(2026, 11, 21, 12)  # a Saturday
    listed = expiry_calendar(now, weeklies=4, monthlies=3)
    days = [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in listed]
    assert all(d.weekday() == 4 and d.hour == 8 for d in days)
    assert listed == sorted(set(listed))
    assert ts(2026, 11, 27, 8) in listed  # next Friday
    assert ts(2026, 12, 25, 8) in listed and ts(2027, 1, 29, 8) in listed  # last Fridays
    # Nov 27 is both a weekly and November's monthly: three monthlies are Nov, Dec and Jan
    assert ts(2027, 2, 26, 8) not in listed and len(listed) == 6


def test_expiry_calendar_skips_an_expiry_less_than_a_day_away_and_rolls_forward():
    friday_morning = ts(2026, 11, 27, 7)  # one hour before the weekly expiry
    listed = expiry_calendar(friday_morning)
    assert ts(2026, 11, 27, 8) not in listed
    assert min(listed) == ts(2026, 12, 4, 8)
    later = expiry_calendar(friday_morning + 7 * 86_400)
    assert min(later) > min(listed)


def test_snap_expiry_takes_the_nearest_listed_expiry():
    now = ts(2026, 11, 21, 12)
    listed = expiry_calendar(now)
    assert snap_expiry(now, 7, listed) == ts(2026, 11, 27, 8)
    assert snap_expiry(now, 30, listed) == ts(2026, 12, 18, 8)
    assert snap_expiry(now, 90, listed) == max(listed)
    with pytest.raises(ValueError):
        snap_expiry(now, 7, [])


@pytest.mark.parametrize(
    "strike, spot, expected",
    [(8_950.3, 8_123.0, 8_950), (301.5, 300.0, 302), (54_000.0, 60_000.0, 54_000), (0.1, 100.0, 1)],
)
def test_round_strike_uses_a_one_percent_grid(strike, spot, expected):
    assert round_strike(strike, spot) == expected
