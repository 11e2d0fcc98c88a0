"""keel.sim.relayer.ScriptedSource: day ticks, a crash that persists, and holds."""

from __future__ import annotations

import pytest

from keel.sim.relayer import ScriptedSource
from oracle.sources import BTC, ETH, PriceSource, Tick


class Steps(PriceSource):
    feed_ids = (BTC, ETH)
    periods_per_year = 365.0

    def ticks(self):
        for i in range(5):
            yield Tick(i, {BTC: 100.0 + i, ETH: 10.0 + i}, label=f"day{i}")


def take(src: ScriptedSource, it, *command) -> Tick:
    src.command = command
    return next(it)


def test_days_skip_the_reported_tick_and_follow_the_base_source():
    src = ScriptedSource(Steps(), skip=1)
    it = src.ticks()
    t = take(src, it, "day")
    assert (t.prices, t.label, t.index) == ({BTC: 101.0, ETH: 11.0}, "day1", 0)


def test_crash_moves_the_last_prices_and_persists_on_later_days():
    src = ScriptedSource(Steps(), skip=1)
    it = src.ticks()
    take(src, it, "day")
    crash = take(src, it, "crash", {ETH: -0.4, BTC: -0.35})
    assert crash.prices[ETH] == pytest.approx(11.0 * 0.6)
    assert crash.prices[BTC] == pytest.approx(101.0 * 0.65)
    after = take(src, it, "day")
    assert after.prices[ETH] == pytest.approx(12.0 * 0.6)
    assert after.prices[BTC] == pytest.approx(102.0 * 0.65)


def test_hold_repeats_the_last_prices_and_the_source_ends():
    src = ScriptedSource(Steps(), skip=0)
    it = src.ticks()
    first = take(src, it, "day")
    held = take(src, it, "hold")
    assert held.prices == first.prices and held.label == "hold"
    for _ in range(4):
        take(src, it, "day")
    with pytest.raises(StopIteration):
        take(src, it, "day")
