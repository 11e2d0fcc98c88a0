"""Price sources (oracle/sources.py): CSV replay and the seeded GBM-with-jumps simulator."""

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from keel.pricefile import PriceFileError
from oracle.sources import CsvReplaySource, GbmJumpSource, GbmParams, PriceSource

ROOT = Path(__file__).resolve().parents[3]
CSV = ROOT / "data" / "btc_eth_daily_2016_2019.csv"


def test_csv_replays_every_row_in_order():
    src = CsvReplaySource(CSV)
    ticks = list(src.ticks())
    assert len(ticks) == len(src) == 1461
    assert ticks[0].prices == {1: 434.334015, 2: 0.948024}
    assert ticks[0].label == "2016-01-01"
    assert ticks[-1].label == "2019-12-31"
    assert ticks[-1].prices == {1: 7193.599121, 2: 129.610855}
    assert [t.index for t in ticks[:3]] == [0, 1, 2]
    assert src.feed_ids == (1, 2) and src.periods_per_year == 365
    assert all(t.vols == {} for t in ticks[:5])  # no implied vol: the relayer's EWMA is used


def test_csv_feed_ids_are_configurable():
    src = CsvReplaySource(CSV, {7: "eth_usd"}, start=1, limit=2)
    ticks = list(src.ticks())
    assert [t.prices for t in ticks] == [{7: 0.937124}, {7: ticks[1].prices[7]}]
    assert len(ticks) == 2 and ticks[0].label == "2016-01-02"


def test_csv_restarts_from_the_beginning():
    src = CsvReplaySource(CSV, limit=3)
    assert list(src.ticks()) == list(src.ticks())


def test_csv_rejects_missing_columns_and_bad_prices(tmp_path):
    bad = tmp_path / "bad.csv"
    for body, message in [
        ("date,btc_usd\n2020-01-01,1\n", ": missing column(s) eth_usd; the header is date,btc_usd"),
        ("date,btc_usd,eth_usd\n2020-01-01,1,0\n", ":2: eth_usd 0 is not a price (finite and > 0)"),
        ("date,btc_usd,eth_usd\n2020-01-01,1,\n", ":2: eth_usd '' is not a number"),
        (
            "date,btc_usd,eth_usd\n2020/01/01,1,1\n",
            ":2: date '2020/01/01' is not a date (YYYY-MM-DD)",
        ),
    ]:
        bad.write_text(body)
        with pytest.raises(PriceFileError) as exc:
            CsvReplaySource(bad)
        assert str(exc.value) == f"{bad}{message}"


def test_csv_start_must_be_a_row_of_the_file():
    assert len(CsvReplaySource(CSV, start=1460)) == 1  # the last row
    with pytest.raises(PriceFileError) as exc:
        CsvReplaySource(CSV, start=1461)
    assert str(exc.value) == f"{CSV}: start row 1461 is not one of its 1461 rows"


def _path(src, n):
    return list(itertools.islice(src.ticks(), n))


def test_gbm_is_deterministic_for_a_seed():
    a, b = _path(GbmJumpSource(7), 50), _path(GbmJumpSource(7), 50)
    assert a == b
    assert _path(GbmJumpSource(8), 50) != a


def test_gbm_starts_at_s0_and_stops_after_steps():
    src = GbmJumpSource(1, {1: GbmParams(s0=123.0)}, steps=4)
    ticks = list(src.ticks())
    assert len(ticks) == 4 and ticks[0].prices == {1: 123.0}


def test_gbm_moments_are_roughly_right():
    """Daily log returns over 20,000 steps: mean, variance and correlation near theory."""
    params = {
        1: GbmParams(
            s0=100.0, mu=0.1, sigma=0.6, jump_intensity=5.0, jump_mean=-0.04, jump_std=0.06
        ),
        2: GbmParams(s0=50.0, mu=0.0, sigma=0.9, jump_intensity=0.0),
    }
    n = 20_000
    src = GbmJumpSource(11, params, correlation=0.7, steps=n + 1)
    logs = np.log([[t.prices[1], t.prices[2]] for t in src.ticks()])
    r = np.diff(logs, axis=0)
    dt = 1 / 365
    p1 = params[1]
    k = math.exp(p1.jump_mean + p1.jump_std**2 / 2) - 1
    mean1 = (
        p1.mu - p1.sigma**2 / 2 - p1.jump_intensity * k + p1.jump_intensity * p1.jump_mean
    ) * dt
    var1 = p1.total_vol() ** 2 * dt
    assert r[:, 0].var() == pytest.approx(var1, rel=0.05)
    assert r[:, 1].var() == pytest.approx(0.81 * dt, rel=0.05)
    # the mean is noisy: within 4 standard errors
    assert abs(r[:, 0].mean() - mean1) < 4 * math.sqrt(var1 / n)
    # only feed 2 is pure diffusion; with jumps on feed 1 the correlation is diluted a little
    rho = np.corrcoef(r.T)[0, 1]
    assert 0.6 < rho < 0.72


def test_gbm_can_supply_implied_vol():
    src = GbmJumpSource(3, supply_vol=True)
    t = next(iter(src.ticks()))
    assert t.vols == {f: p.total_vol() for f, p in src.params.items()}


def test_gbm_rejects_an_invalid_correlation():
    with pytest.raises(ValueError, match="correlation"):
        GbmJumpSource(0, correlation=1.5)


def test_price_source_is_abstract():
    with pytest.raises(TypeError):
        PriceSource()
