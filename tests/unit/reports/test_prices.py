"""The shared price format and the relayer's EWMA vol along it."""

import math

import pytest

from keel.reports.prices import PriceFileError, load_prices
from keel.risk.ewma import ewma_closed_form

from .helpers import random_walk, write_prices


def test_ewma_vol_is_the_relayers_estimator_without_look_ahead(tmp_path):
    btc, eth = random_walk(30)
    prices = load_prices(write_prices(tmp_path / "p.csv", btc, eth))
    vol = prices.ewma_vol()
    for t in (0, 1, 17, 29):
        assert vol[t, 0] == pytest.approx(ewma_closed_form(btc[: t + 1]), rel=1e-12)
        assert vol[t, 1] == pytest.approx(ewma_closed_form(eth[: t + 1]), rel=1e-12)
    assert vol[0, 0] == pytest.approx(0.8)  # the seed: no return folded in yet


def test_times_are_midnight_utc_one_day_apart(tmp_path):
    prices = load_prices(write_prices(tmp_path / "p.csv", [1.0, 2.0], [3.0, 4.0]))
    assert prices.times[0] == 1_577_836_800  # 2020-01-01T00:00:00Z
    assert prices.times[1] - prices.times[0] == 86400
    assert prices.log_returns[0] == pytest.approx([math.log(2.0), math.log(4.0 / 3.0)], rel=1e-12)


def test_extra_columns_are_ignored(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("date,eth_usd,sol_usd,btc_usd\n2020-01-01,3,9,1\n2020-01-02,4,9,2\n")
    prices = load_prices(path)
    assert prices.spot.tolist() == [[1.0, 3.0], [2.0, 4.0]]


@pytest.mark.parametrize(
    "body, message",
    [
        ("date,btc_usd\n2020-01-01,1\n", ": missing column(s) eth_usd; the header is date,btc_usd"),
        (
            "date,btc_usd,eth_usd\n2020-01-01,1,0\n2020-01-02,1,1\n",
            ":2: eth_usd 0 is not a price (finite and > 0)",
        ),
        (
            "date,btc_usd,eth_usd\n2020-01-02,1,1\n2020-01-01,1,1\n",
            ":3: date 2020-01-01 is not after 2020-01-02 (dates must increase)",
        ),
        (
            "date,btc_usd,eth_usd\n2020-01-01,x,1\n2020-01-02,1,1\n",
            ":2: btc_usd 'x' is not a number",
        ),
        (
            "date,btc_usd,eth_usd\n01/02/2020,1,1\n2020-01-02,1,1\n",
            ":2: date '01/02/2020' is not a date (YYYY-MM-DD)",
        ),
        ("date,btc_usd,eth_usd\n2020-01-01,1,1\n", ": need at least 2 row(s) of prices, found 1"),
    ],
)
def test_malformed_files_are_rejected_with_the_reason(tmp_path, body, message):
    path = tmp_path / "p.csv"
    path.write_text(body)
    with pytest.raises(PriceFileError) as exc:
        load_prices(path)
    assert str(exc.value) == f"{path}{message}"
