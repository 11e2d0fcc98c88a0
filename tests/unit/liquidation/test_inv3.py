"""INV-3: an account below MM with fresh prices can always be liquidated.

Hypothesis builds portfolios (cash, WETH collateral, BTC and ETH perps, a short BTC option),
opens them against a counterparty at fair prices, then moves the prices until the account is
below MM. The auction must start, and bids (solvent at f_max, or insolvent) must resolve it: the
account ends cured or empty within a few rounds. INV-1 and INV-6 hold at the end.
"""

import os

from brownie import chain
from brownie.exceptions import VirtualMachineError
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel.deploy_engine import BTC, ETH, WAD, deposit, trade
from tests.fixtures.engine import option
from tests.fixtures.liquidation import assert_inv1, assert_inv6, breakdown, push_prices
from tests.unit.engine.helpers import bs
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import next_block_at

EXAMPLES = {"ci": 12, "local": 60}.get(os.environ.get("KEEL_PROFILE", "ci"), 12)
MAX = 2**256 - 1
MOVES = [3, 6, 10, 15, 20, 30, 45, 60]  # [%]

st_portfolio = st.fixed_dictionaries(
    {
        "cash": st.integers(4_000, 40_000),
        "weth": st.sampled_from([0, 1, 3]),
        "btc": st.integers(-20, 20),  # tenths of a BTC
        "eth": st.integers(-30, 30),  # ETH
        "opt": st.integers(0, 10),  # tenths of a BTC short option
        "call": st.booleans(),
        "strike": st.sampled_from([54_000, 60_000, 66_000]),
        "down": st.booleans(),
        "overshoot": st.integers(0, 3),  # moves past the first one below MM (gaps, crashes)
    }
)


def test_inv3_below_mm_always_liquidatable(
    liq_stack, liquidator, liq_victim, liq_bidder, liq_keeper, liq_counterparty, accounts
):
    dave = accounts[6]
    stack = liq_stack
    cp = liq_counterparty
    base = {f: tuple(stack.oracle.feed(f)[:2]) for f in (BTC, ETH)}
    chain.snapshot()
    outcomes = []

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(p=st_portfolio)
    @example(
        p=dict(
            cash=10_000,
            weth=0,
            btc=-10,
            eth=0,
            opt=0,
            call=True,
            strike=60_000,
            down=False,
            overshoot=3,
        )
    )
    @example(
        p=dict(
            cash=20_000,
            weth=1,
            btc=10,
            eth=0,
            opt=0,
            call=False,
            strike=60_000,
            down=True,
            overshoot=0,
        )
    )
    @example(
        p=dict(
            cash=40_000,
            weth=1,
            btc=10,
            eth=5,
            opt=5,
            call=False,
            strike=60_000,
            down=True,
            overshoot=0,
        )
    )
    def run(p):
        chain.revert()
        push_prices(stack, base)
        victim = (stack.vault.openAccount({"from": dave}).return_value, dave)
        deposit(stack, victim[0], dave, "USDC", p["cash"])
        if p["weth"]:
            deposit(stack, victim[0], dave, "WETH", p["weth"])
        try:
            if p["btc"]:
                trade(stack, cp, victim, BTC, -p["btc"] * WAD // 10, base[BTC][0])
            if p["eth"]:
                trade(stack, cp, victim, ETH, -p["eth"] * WAD, base[ETH][0])
            if p["opt"]:
                inst = option(stack, BTC, p["strike"] * WAD, 30, p["call"])
                fair = bs(p["call"], 60_000.0, float(p["strike"]), 0.6, 30 / 365)
                # the victim sells: the counterparty (maker) buys at the fair premium
                trade(stack, cp, victim, inst, p["opt"] * WAD // 10, int(fair * WAD))
        except VirtualMachineError:
            return  # the post-trade rule refused it: not an account that could exist
        b = breakdown(stack, victim[0])
        if b["AE"] < b["IM"]:
            return  # could not have been opened: not a portfolio of interest
        sign = -1 if p["down"] else 1
        for k, move in enumerate(MOVES):
            prices = {f: (base[f][0] * (100 + sign * move) // 100, base[f][1]) for f in base}
            push_prices(stack, prices)
            b = breakdown(stack, victim[0])
            if b["AE"] < b["MM"]:
                first = k
                break
        else:
            return  # no move in range pushes this (e.g. flat, or hedged) portfolio below MM
        if p["overshoot"]:
            move = MOVES[min(first + p["overshoot"], len(MOVES) - 1)]
            prices = {f: (base[f][0] * (100 + sign * move) // 100, base[f][1]) for f in base}
            push_prices(stack, prices)
            b = breakdown(stack, victim[0])
        # INV-3: startable ...
        outcomes.append("insolvent" if b["E"] <= 0 else "solvent")
        tx = liquidator.startAuction(victim[0], liq_keeper[0], {"from": liq_keeper[1]})
        aid, started = tx.return_value, tx.timestamp
        # ... and resolvable by bids
        for _ in range(6):
            if not liquidator.inAuction(victim[0]):
                break
            b = breakdown(stack, victim[0])
            if b["E"] <= 0:
                liquidator.bidInsolvent(victim[0], aid, liq_bidder[0], 0, {"from": liq_bidder[1]})
            elif b["AE"] >= b["IM"]:
                liquidator.endAuction(victim[0], {"from": liq_keeper[1]})
            else:
                at = chain[-1].timestamp + 1
                f = model.max_fraction(b, model.discount(at - started))
                next_block_at(at)
                liquidator.bid(victim[0], aid, liq_bidder[0], f, MAX, {"from": liq_bidder[1]})
            chain.sleep(300)
            push_prices(stack, prices)
        assert not liquidator.inAuction(victim[0])
        assert_inv1(stack)
        assert_inv6(stack)

    run()
    # not vacuous: the explicit examples reach both kinds of auction
    assert "insolvent" in outcomes and "solvent" in outcomes
