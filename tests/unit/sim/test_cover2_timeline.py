"""The simulation's cover-2 series and liquidation timeline (keel.sim.run), from recorded figures."""

from types import SimpleNamespace

import pytest

from keel.sim.run import cover2_summary, liquidation_timeline

WAD = 10**18


def point(requirement, fund, binding="−3R all", accounts=(3, 5)):
    """A `keel.client.cover2.measure` record (only the fields the summary reads)."""
    losses = [requirement * 0.6, requirement * 0.4]
    return {
        "block": 100, "requirement": requirement, "insurance_fund": fund,
        "met": requirement <= fund, "binding_scenario": binding,
        "scenarios": [{"scenario": binding, "accounts": list(accounts),
                       "losses_beyond_equity": losses}],
        "historical_days": [{"kind": "fall", "day": "2017-09-14"}],
    }  # fmt: skip


def sim_with(points):
    daily = [{"t": float(i), "label": f"day {i}"} for i in range(len(points))]
    return SimpleNamespace(daily=daily, cover2_points=points, auction_quotes=[])


def test_a_run_within_the_fund_is_met_at_every_step():
    out = cover2_summary(sim_with([point(100.0, 200.0), point(200.0, 200.0), point(150.0, 180.0)]))
    assert out["met_every_step"] and out["steps_short"] == 0 and out["largest_shortfall"] == 0.0
    assert out["steps_measured"] == 3
    assert (out["max"]["t"], out["max"]["requirement"]) == (1.0, 200.0)  # equal to the fund: met
    assert [s["requirement"] for s in out["steps"]] == [100.0, 200.0, 150.0]


def test_steps_over_the_fund_are_counted_with_the_largest_shortfall():
    pts = [point(100.0, 200.0), point(250.0, 200.0, "+3R ETH", (7, 2)), point(150.0, 140.0)]
    out = cover2_summary(sim_with(pts))
    assert not out["met_every_step"] and out["steps_short"] == 2
    assert out["largest_shortfall"] == 50.0
    worst = out["max"]
    assert (worst["t"], worst["requirement"], worst["insurance_fund"]) == (1.0, 250.0, 200.0)
    assert worst["binding_scenario"] == "+3R ETH" and worst["accounts"] == [7, 2]
    assert worst["losses_beyond_equity"] == [150.0, 100.0]


def test_every_step_needs_its_cover2_figure():
    sim = sim_with([point(100.0, 200.0)])
    sim.daily.append({"t": 1.0, "label": "day 1"})  # a step measured without cover-2
    with pytest.raises(ValueError):
        cover2_summary(sim)


def test_the_timeline_puts_quotes_and_bids_on_minutes_since_the_start():
    started = [
        {"accountId": 4, "auctionId": 1, "ts": 1_000},
        {"accountId": 9, "auctionId": 2, "ts": 1_300},
    ]
    solvent = [
        {"accountId": 4, "auctionId": 1, "ts": 1_900, "fraction": WAD // 4,
         "discount": 3 * WAD // 10, "payment": 700 * WAD, "penalty": 20 * WAD},
        {"accountId": 4, "auctionId": 1, "ts": 1_600, "fraction": WAD // 2,
         "discount": 2 * WAD // 10, "payment": 900 * WAD, "penalty": 25 * WAD},
    ]  # fmt: skip
    insolvent = [
        {"accountId": 9, "auctionId": 2, "ts": 4_900, "bonus": 55 * WAD, "equity": -800 * WAD,
         "fromFund": 855 * WAD, "socialised": 0},
    ]  # fmt: skip
    ended = [{"accountId": 4, "auctionId": 1, "ts": 1_900, "cured": True}]
    quotes = [
        {"account": 4, "auctionId": 1, "ts": 1_000, "discount": 0.05, "bonus": 0.0},
        {"account": 4, "auctionId": 1, "ts": 1_300, "discount": 0.1, "bonus": 3.0},
        {"account": 4, "auctionId": 1, "ts": 1_300, "discount": 0.1, "bonus": 3.0},  # twice
        {"account": 9, "auctionId": 2, "ts": 1_300, "discount": 0.05, "bonus": 0.0},
        {"account": 4, "auctionId": 7, "ts": 1_400, "discount": 0.9, "bonus": 0.0},  # another
    ]
    sim = SimpleNamespace(auction_quotes=quotes)
    out = liquidation_timeline(sim, started, solvent, insolvent, ended, {4: "PM-4"})["auctions"]
    a, b = out
    assert (a["account"], a["auction"], a["book"], a["outcome"]) == (4, 1, "PM-4", "cured")
    assert a["ended_min"] == 15.0
    assert a["quotes"] == [
        {"t_min": 0.0, "discount": 0.05, "bonus": 0.0},
        {"t_min": 5.0, "discount": 0.1, "bonus": 3.0},
    ]
    assert [(x["t_min"], x["fraction"], x["discount"]) for x in a["bids"]] == [
        (10.0, 0.5, 0.2),
        (15.0, 0.25, 0.3),
    ]
    assert (b["book"], b["outcome"], b["ended_min"]) == ("?", "open", None)
    assert b["bids"] == [
        {"t_min": 60.0, "kind": "insolvent", "fraction": 1.0, "bonus": 55.0, "equity": -800.0,
         "from_fund": 855.0, "socialised": 0.0},
    ]  # fmt: skip
