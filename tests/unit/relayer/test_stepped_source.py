"""oracle.stepped.ScriptedSource: day ticks, a crash that persists, and holds."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.sources import BTC, ETH, PriceSource, Tick
from oracle.stepped import ScriptedSource

ROOT = Path(__file__).resolve().parents[3]
DATA = "data/btc_eth_daily_2016_2019.csv"


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


def peek(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oracle.stepped", "--peek", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_peek_prints_the_first_tick_of_the_csv_row_asked_for():
    rows = list(csv.DictReader((ROOT / DATA).open()))
    out = peek("--source", "csv", "--csv", str(ROOT / DATA), "--csv-start", "3")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "label": rows[3]["date"],
        "prices": {str(BTC): float(rows[3]["btc_usd"]), str(ETH): float(rows[3]["eth_usd"])},
    }


def test_without_peek_the_stepped_relayer_needs_a_chain():
    out = subprocess.run(
        [sys.executable, "-m", "oracle.stepped", "--source", "gbm"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .endswith("error: --rpc and --oracle are required (unless --peek)")
    )
