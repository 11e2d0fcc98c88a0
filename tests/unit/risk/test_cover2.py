"""Cover-2 fund sizing (keel.risk.cover2) against hand computations on small portfolios.

Expected figures are written out from the definitions: R = clamp(2.576·σ·√(2/365), 16%, 50%),
±3R moves (down capped at 90%), σ_up = max(σ(1 + 0.5m), 50%) with m = (30/max(τ_days, 1))^p,
options priced by the 40-digit Black–Scholes of the test helpers, loss beyond equity
max(0, −(E + P)) and the two largest summed per scenario.
"""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from keel.risk import Account, Option, portfolio_pnl
from keel.risk.cover2 import (
    cover2,
    cover2_scenarios,
    joint_moves,
    worst_joint_days,
)
from keel.risk.model import Portfolios

from .helpers import BTC, ETH, T0, market, mp_bs, option, perp

ROOT = Path(__file__).resolve().parents[3]


def scan(vol: float) -> float:
    return min(max(2.576 * vol * math.sqrt(2 / 365), 0.16), 0.50)


def books(m, *accounts: Account) -> Portfolios:
    return Portfolios.from_accounts(list(accounts), m)


NAMES = ("+3R all", "−3R all", "+3R BTC", "−3R BTC", "+3R ETH", "−3R ETH")


def test_scenarios_are_plus_minus_3r_together_then_each_alone():
    m = market(btc=(60000.0, 0.6), eth=(3000.0, 2.0))  # ETH: 3R = 114% > 90%, the cap binds
    sc = cover2_scenarios(m)
    r_btc, r_eth = scan(0.6), scan(2.0)
    assert (r_btc, round(r_eth, 4)) == (0.16, 0.3814)
    assert sc.names == NAMES
    expected = [
        [3 * r_btc, 3 * r_eth],
        [-3 * r_btc, -0.9],
        [3 * r_btc, 0.0],
        [-3 * r_btc, 0.0],
        [0.0, 3 * r_eth],
        [0.0, -0.9],
    ]
    assert sc.moves.ravel().tolist() == pytest.approx(np.ravel(expected), rel=1e-12)
    # a moved underlying takes σ_up (1), an unmoved one keeps σ (0)
    assert sc.vol_states.tolist() == [[1, 1], [1, 1], [1, 0], [1, 0], [0, 1], [0, 1]]


def test_the_90_percent_cap_just_inside_and_just_outside():
    vol_at_cap = 0.3 / (2.576 * math.sqrt(2 / 365))  # R = 30%: 3R = 90% exactly
    for vol, down in (
        (vol_at_cap * 0.999, -3 * scan(vol_at_cap * 0.999)),
        (vol_at_cap * 1.001, -0.9),
    ):
        sc = cover2_scenarios(market(eth=(3000.0, vol)))
        assert sc.moves[5, 1] == pytest.approx(down, rel=1e-12)
        assert sc.moves[4, 1] == pytest.approx(3 * scan(vol), rel=1e-12)  # the rise is never capped


def test_linear_books_by_hand():
    """Perps and linked collateral: P = exposure·x; B = max(0, −(E + P))."""
    m = market(btc=(60000.0, 0.6), eth=(3000.0, 1.2))
    r_btc, r_eth = scan(0.6), scan(1.2)  # 16%, 22.88%
    a = Account(1, cash=20000.0, perps=[perp(BTC, 2.0, 60000.0)])  # long 2 BTC on $20k
    b = Account(2, cash=5000.0, perps=[perp(ETH, -10.0, 3000.0)])  # short 10 ETH on $5k
    c = Account(3, cash=-50000.0, collateral={"WETH": 30.0})  # 30 WETH bought on credit
    d = Account(4, cash=1000.0, perps=[perp(BTC, 1.0, 60000.0), perp(BTC, -1.0, 60000.0)])
    out = cover2(m, books(m, a, b, c, d), cover2_scenarios(m))
    equity = [20000.0, 5000.0, 40000.0, 1000.0]
    exposure = [(120000.0, 0.0), (0.0, -30000.0), (0.0, 90000.0), (0.0, 0.0)]  # USD per unit x
    moves = {
        "+3R all": (3 * r_btc, 3 * r_eth),
        "−3R all": (-3 * r_btc, -3 * r_eth),
        "+3R BTC": (3 * r_btc, 0.0),
        "−3R BTC": (-3 * r_btc, 0.0),
        "+3R ETH": (0.0, 3 * r_eth),
        "−3R ETH": (0.0, -3 * r_eth),
    }
    assert out.equity.tolist() == pytest.approx(equity)
    for k, name in enumerate(NAMES):
        xb, xe = moves[name]
        beyond = [
            max(0.0, -(e + eb * xb + ee * xe)) for e, (eb, ee) in zip(equity, exposure, strict=True)
        ]
        assert out.beyond[:, k].tolist() == pytest.approx(beyond, rel=1e-12, abs=1e-9), name
        assert out.covered[k] == pytest.approx(sum(sorted(beyond)[-2:]), rel=1e-12), name
    # −3R all: A loses 57,600 on 20,000 (37,600 beyond), C 61,785 on 40,000 (21,785 beyond)
    k = NAMES.index("−3R all")
    assert out.covered[k] == pytest.approx(37600.0 + (90000 * 3 * r_eth - 40000), rel=1e-12)
    assert [int(out.account_ids[i]) for i in out.top[k]] == [1, 3]
    assert out.requirement == pytest.approx(out.covered.max()) and out.binding == k
    js = out.to_json()
    assert js["binding_scenario"] == "−3R all" and js["accounts"] == 4
    assert js["scenarios"][k]["accounts"] == [1, 3]


def test_options_are_revalued_fully_at_sigma_up():
    """A short 30-day ETH call and a long 60-day BTC put on $2,000 of cash."""
    m = market(btc=(60000.0, 0.6), eth=(3000.0, 1.2))
    acc = Account(
        7,
        cash=2000.0,
        options=[option(ETH, 3000.0, 30, True, -1.0), option(BTC, 50000.0, 60, False, 0.1)],
    )
    out = cover2(m, books(m, acc), cover2_scenarios(m))
    call_now = mp_bs(3000, 3000, 1.2, 30 / 365, True)
    put_now = mp_bs(60000, 50000, 0.6, 60 / 365, False)
    assert out.equity[0] == pytest.approx(2000 - call_now + 0.1 * put_now, rel=1e-12)
    up_eth = 1.2 * 1.5  # τ = 30 d: m = 1, σ_up = σ(1 + 0.5)
    up_btc = max(0.6 * (1 + 0.5 * (30 / 60) ** 0.13), 0.5)  # τ = 60 d: p = 0.13

    def eth_leg(x, vol):
        return -(mp_bs(3000 * (1 + x), 3000, vol, 30 / 365, True) - call_now)

    def btc_leg(x, vol):
        return 0.1 * (mp_bs(60000 * (1 + x), 50000, vol, 60 / 365, False) - put_now)

    r_btc, r_eth = scan(0.6), scan(1.2)
    pnl = {
        "+3R all": eth_leg(3 * r_eth, up_eth) + btc_leg(3 * r_btc, up_btc),
        "−3R all": eth_leg(-3 * r_eth, up_eth) + btc_leg(-3 * r_btc, up_btc),
        "+3R BTC": btc_leg(3 * r_btc, up_btc),  # ETH unmoved: its call keeps σ, P = 0
        "−3R BTC": btc_leg(-3 * r_btc, up_btc),
        "+3R ETH": eth_leg(3 * r_eth, up_eth),
        "−3R ETH": eth_leg(-3 * r_eth, up_eth),
    }
    for k, name in enumerate(NAMES):
        assert out.pnl[0, k] == pytest.approx(pnl[name], rel=1e-10, abs=1e-8), name
        assert out.covered[k] == pytest.approx(max(0.0, -(out.equity[0] + pnl[name])), abs=1e-8)
    worst = min(pnl.values())  # +3R all: the call loses and the put loses its value too
    assert out.requirement == pytest.approx(-(out.equity[0] + worst), rel=1e-10)
    assert NAMES[out.binding] == "+3R all" and pnl["+3R all"] < pnl["+3R ETH"] < 0
    assert out.top[NAMES.index("+3R ETH")].tolist() == [0, -1]  # one account: one loss


def test_an_expired_settled_option_does_not_move():
    """Its value is the payoff at the fixed price, in E; no scenario moves it."""
    expiry = T0 - 3600
    m = market(settlement_prices={(ETH, expiry): 2500.0})
    acc = Account(1, cash=100.0, options=[Option(ETH, 3000.0, expiry, False, -1.0)])  # short put
    out = cover2(m, books(m, acc), cover2_scenarios(m))
    assert out.equity[0] == pytest.approx(100.0 - 500.0)
    assert out.pnl[0].tolist() == [0.0] * 6
    assert out.beyond[0].tolist() == [400.0] * 6  # already insolvent: −E in every scenario


def test_loss_equal_to_equity_is_just_inside():
    m = market()  # R = 16%: −3R = −48%, a 1-BTC long loses 28,800
    for cash, beyond in ((28800.01, 0.0), (28799.99, 0.01)):
        acc = Account(1, cash=cash, perps=[perp(BTC, 1.0, 60000.0)])
        out = cover2(m, books(m, acc), cover2_scenarios(m))
        assert out.beyond[0, NAMES.index("−3R BTC")] == pytest.approx(beyond, abs=1e-9)


def test_two_largest_of_three_and_fewer_accounts():
    m = market()
    short = [
        Account(i + 1, cash=c, perps=[perp(BTC, -1.0, 60000.0)])
        for i, c in enumerate((18800.0, -1200.0, 8800.0))
    ]
    out = cover2(m, books(m, *short), cover2_scenarios(m))
    k = NAMES.index("+3R BTC")  # each short loses 28,800: B = 10,000, 30,000, 20,000
    assert out.beyond[:, k].tolist() == pytest.approx([10000.0, 30000.0, 20000.0])
    assert out.covered[k] == pytest.approx(50000.0)
    assert out.top[k].tolist() == [1, 2]
    none = cover2(m, books(m), cover2_scenarios(m))
    assert none.requirement == 0.0 and none.top.tolist() == [[-1, -1]] * 6
    assert none.to_json()["scenarios"][0]["accounts"] == []


def test_joint_move_is_the_smaller_same_sign_return():
    r = np.array([[-0.10, -0.20], [0.10, -0.10], [-0.20, 0.0], [0.10, 0.20], [-0.05, -0.30]])
    assert joint_moves(r).tolist() == [-0.10, 0.0, 0.0, 0.10, -0.05]


def test_worst_joint_days_of_a_small_history():
    # returns row to row: (−10%, −20%), (+10%, −10%), (−20%, 0), (+10%, +20%), (−5%, −30%)
    closes = [[100, 10], [90, 8], [99, 7.2], [79.2, 7.2], [87.12, 8.64], [82.764, 6.048]]
    dates = [f"2020-01-0{i + 1}" for i in range(6)]
    fall, rise = worst_joint_days(dates, closes, [BTC, ETH])
    assert (fall.kind, fall.day, fall.previous) == ("fall", "2020-01-02", "2020-01-01")
    assert fall.returns == pytest.approx({BTC: -0.10, ETH: -0.20}) and fall.joint == pytest.approx(
        -0.1
    )
    # (−5%, −30%) has the larger mean fall but the smaller joint one
    assert (rise.day, rise.joint) == ("2020-01-05", pytest.approx(0.10))
    m = market()
    sc = cover2_scenarios(m, [fall, rise])
    assert sc.names[6:] == ("2020-01-02 joint fall", "2020-01-05 joint rise")
    assert sc.moves[6].tolist() == pytest.approx([-0.10, -0.20])
    assert sc.vol_states[6].tolist() == [1, 1]


def test_a_history_that_never_rose_together_and_bad_histories():
    days = worst_joint_days(["a", "b", "c"], [[100, 10], [90, 9], [95, 8]], [BTC, ETH])
    assert [d.kind for d in days] == ["fall"]
    with pytest.raises(ValueError, match="at least two closes"):
        worst_joint_days(["a"], [[100, 10]], [BTC, ETH])
    with pytest.raises(ValueError, match="one feed per column"):
        worst_joint_days(["a", "b"], [[100, 10], [90, 9]], [BTC])


def test_worst_joint_fall_of_the_shared_file_is_14_september_2017():
    rows = list(csv.DictReader((ROOT / "data" / "btc_eth_daily_2016_2019.csv").open()))
    dates = [r["date"] for r in rows]
    closes = [[float(r["btc_usd"]), float(r["eth_usd"])] for r in rows]
    fall, rise = worst_joint_days(dates, closes, [BTC, ETH])
    i = dates.index("2017-09-14")
    assert fall.day == "2017-09-14" and fall.previous == "2017-09-13"
    assert fall.returns[BTC] == pytest.approx(closes[i][0] / closes[i - 1][0] - 1, rel=1e-12)
    assert fall.returns[ETH] == pytest.approx(closes[i][1] / closes[i - 1][1] - 1, rel=1e-12)
    assert (round(fall.returns[BTC], 3), round(fall.returns[ETH], 3)) == (-0.187, -0.228)
    assert rise.day == "2019-04-02"
    assert (round(rise.returns[BTC], 3), round(rise.returns[ETH], 3)) == (0.174, 0.156)


def test_vol_states_input_is_checked():
    m = market()
    book = books(m, Account(1, options=[option(BTC, 60000.0, 30, True, 1.0)]))
    with pytest.raises(ValueError, match="not both"):
        portfolio_pnl(m, book, [[0.1, 0.0]], vol_returns=[[0.0, 0.0]], vol_states=[[1, 0]])
    with pytest.raises(ValueError, match="ints in 0..2"):
        portfolio_pnl(m, book, [[0.1, 0.0]], vol_states=[[3, 0]])
    with pytest.raises(ValueError, match="ints in 0..2"):
        portfolio_pnl(m, book, [[0.1, 0.0]], vol_states=[[1]])
