"""A cured account is never sold (SPEC §7 [v2], INV-8): a bid, solvent or insolvent, on an account
at or above IM at fresh prices ends the auction (AuctionEnded(cured = true), returns zeros, no
revert) instead of buying anything, whatever the discount has grown to.

The victim (alice, 1 BTC long perp, $12,000 cash) is started at BTC $55,000 (keeper fee $5: cash
$11,995), so AE = 11,875.05 + (S − 60,000) and IM = 16%·S: cured from S ≈ $57,291.6 up, and
below IM·(1 + b) = 18.4%·S up to S ≈ $58,976.7, the band where the old rule's f_max let a bid take
all of a healthy account once the discount reached 100%.
"""

import brownie

from keel.deploy_engine import BTC, WAD
from tests.fixtures.liquidation import USDC, assert_inv1, assert_inv6, breakdown, set_btc, sleep
from tests.support import reverts
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import (
    btc_price_where,
    next_block_at,
    now,
    protocol_state,
)

MAX = 2**256 - 1
FAST, SLOW = 15 * 60, 12 * 3600


def start(liquidator, acct, liq_keeper):
    return liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})


def only_ended_cured(tx, acct, auction_id):
    """The bid emitted AuctionEnded(acct, auction_id, cured = true) and nothing else: no bid
    event, no position transfer, no PnL realisation, no cash or collateral movement."""
    names = [name for name in tx.events.keys()]
    assert names == ["AuctionEnded"], names
    ev = tx.events["AuctionEnded"]
    assert (ev["accountId"], ev["auctionId"], ev["cured"]) == (acct, auction_id, True)
    assert [int(x) for x in tx.return_value] == [0, 0]


def test_attack_2_cured_account_sold(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, liq_counterparty
):
    """Attack 2 (a cured account is sold anyway). Old rule: bid() never re-checked AE < IM and the
    auction lived until someone called endAuction. Started at BTC $55,000, the market recovered to
    $58,000 (AE 9,875.05 ≥ IM 9,280, the account healthy again); 15 min + 12 h later the discount
    was 100%, so f_max = gap / (gap + E·(1 − d)) = 1 and a bid of f = 1 with a price limit of 0
    took the whole account (1 BTC long, E = $9,995) for nothing but the 2% penalty ($199.90 to the
    fund). Now the bid ends the auction: nothing moves, every balance and position is unchanged."""
    acct, bidder = underwater[0], liq_bidder[0]
    started = start(liquidator, acct, liq_keeper).timestamp
    sleep(FAST + SLOW)
    set_btc(liq_stack, 58_000 * WAD)  # the market recovered; fresh prices
    b = breakdown(liq_stack, acct)
    assert b["E"] == 9_995 * WAD  # 11,995 − 2,000
    assert b["AE"] == b["E"] - 11_995 * WAD // 100  # 1% haircut on the cash
    assert b["IM"] <= b["AE"] < b["IM"] * 115 // 100  # healthy, inside the old rule's band
    # what the old rule allowed: d = 100%, the whole account for a payment of 0
    assert model.discount(FAST + SLOW) == WAD
    assert model.max_fraction(b, WAD) == WAD and model.per_unit(b["E"], WAD) == 0
    # the view now reports what a bid would get at AE ≥ MM: the start discount (INV-8)
    assert liquidator.currentDiscount(acct) == model.P.start
    assert liquidator.maxFraction(acct) == 0  # cured: a bid takes nothing
    assert model.penalty(WAD, b["E"]) == 19_990 * WAD // 100
    before = protocol_state(liq_stack, [acct, bidder, liq_keeper[0], liq_counterparty[0]])

    next_block_at(started + FAST + SLOW + 120)
    tx = liquidator.bid(acct, 1, bidder, WAD, 0, {"from": liq_bidder[1]})
    only_ended_cured(tx, acct, 1)
    assert protocol_state(liq_stack, [acct, bidder, liq_keeper[0], liq_counterparty[0]]) == before
    assert not liquidator.inAuction(acct)
    assert [int(x) for x in liquidator.auction(acct)] == [0, 0, 0]
    with reverts("NoAuction", acct):  # nothing left to bid on
        liquidator.bid(acct, 1, bidder, WAD, 0, {"from": liq_bidder[1]})
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_insolvent_bid_on_cured_account_ends_it(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, liq_counterparty
):
    """bidInsolvent on a cured account (E > 0) ends the auction too, instead of reverting
    AccountSolvent: the insurance fund pays nothing, nothing moves."""
    acct, bidder = underwater[0], liq_bidder[0]
    start(liquidator, acct, liq_keeper)
    set_btc(liq_stack, 58_000 * WAD)
    before = protocol_state(liq_stack, [acct, bidder, liq_counterparty[0]])
    tx = liquidator.bidInsolvent(acct, 1, bidder, 0, {"from": liq_bidder[1]})
    only_ended_cured(tx, acct, 1)
    assert protocol_state(liq_stack, [acct, bidder, liq_counterparty[0]]) == before
    assert not liquidator.inAuction(acct)


def test_bid_at_ae_equal_im_ends_auction(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, liq_counterparty
):
    """Boundary: AE == IM exactly is cured (SPEC §7: AE ≥ IM): the bid ends the auction and buys
    nothing; endAuction would have done the same."""
    acct, bidder = underwater[0], liq_bidder[0]
    start(liquidator, acct, liq_keeper)
    price = btc_price_where(liq_stack, acct, lambda b: b["AE"] - b["IM"], 0, 57_291 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["AE"] == b["IM"] and liquidator.maxFraction(acct) == 0
    before = protocol_state(liq_stack, [acct, bidder, liq_counterparty[0]])
    tx = liquidator.bid(acct, 1, bidder, WAD // 10, MAX, {"from": liq_bidder[1]})
    only_ended_cured(tx, acct, 1)
    assert protocol_state(liq_stack, [acct, bidder, liq_counterparty[0]]) == before
    assert liq_stack.oracle.feed(BTC)[0] == price


def test_bid_at_ae_one_wei_below_im_proceeds(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper
):
    """Boundary: AE == IM − 1 wei is not cured: endAuction refuses it and a bid buys, at f_max
    (exact payment and penalty), which brings the account back to IM·(1 + b) and ends the auction
    as cured by the bid. AE ≥ MM there, so the bid's discount is the start discount (INV-8), not
    d(t) (test_inv8.py: the relapse and the MM boundary)."""
    acct, bidder = underwater[0], liq_bidder[0]
    started = start(liquidator, acct, liq_keeper).timestamp
    btc_price_where(liq_stack, acct, lambda b: b["AE"] - b["IM"], -1, 57_291 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["AE"] == b["IM"] - 1
    with reverts("NotCured", acct, b["AE"], b["IM"]):
        liquidator.endAuction(acct, {"from": liq_bidder[1]})
    at = now() + 5
    d = model.bid_discount(at - started, b)
    assert d == model.P.start < model.discount(at - started)
    f = model.max_fraction(b, d)
    assert 0 < f < WAD
    assert (liquidator.currentDiscount(acct), liquidator.maxFraction(acct)) == (d, f)
    next_block_at(at)
    tx = liquidator.bid(acct, 1, bidder, f, MAX, {"from": liq_bidder[1]})
    assert [int(x) for x in tx.return_value] == [
        model.payment(f, b["E"], d),
        model.penalty(f, b["E"]),
    ]
    ev = tx.events["SolventBid"]
    assert (ev["fraction"], ev["discount"], ev["equity"]) == (f, d, b["E"])
    assert tx.events["AuctionEnded"]["cured"] is True  # f_max restores AE ≥ IM
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_bid_after_owner_cures_in_same_block_buys_nothing(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, liq_counterparty
):
    """INV-8: the cure check runs when the bid executes, not when the bidder quoted it. The owner's
    deposit (AE ≥ IM afterwards) and a bid quoted before it, at f_max of the uncured account, are
    mined in one block, the deposit first: the bid ends the auction and buys nothing."""
    acct, owner = underwater
    bidder = liq_bidder[0]
    started = start(liquidator, acct, liq_keeper).timestamp
    f = model.max_fraction(breakdown(liq_stack, acct), model.discount(60))
    usdc = liq_stack.usdc
    usdc.mint(owner, 5_000 * USDC, {"from": owner})
    usdc.approve(liq_stack.vault, 5_000 * USDC, {"from": owner})
    others = [bidder, liq_keeper[0], liq_counterparty[0]]
    before = protocol_state(liq_stack, others)
    cash0 = liq_stack.vault.cashOf(acct)
    web3 = brownie.web3
    gas_price = web3.eth.gas_price
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        opts = {"gas_limit": 3_000_000, "required_confs": 0, "allow_revert": True}
        dep = liq_stack.vault.deposit(
            acct, usdc, 5_000 * USDC, dict(opts, **{"from": owner, "gas_price": 3 * gas_price})
        )
        tx = liquidator.bid(
            acct, 1, bidder, f, MAX, dict(opts, **{"from": liq_bidder[1], "gas_price": gas_price})
        )
        web3.provider.make_request("evm_mine", [started + 60])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    dep.wait(1)
    tx.wait(1)
    assert dep.block_number == tx.block_number and dep.txindex < tx.txindex
    assert dep.status == 1 and tx.status == 1
    only_ended_cured(tx, acct, 1)
    assert liq_stack.vault.cashOf(acct) == cash0 + 5_000 * WAD  # the deposit only
    assert liq_stack.engine.perpPosition(acct, BTC)[0] == WAD  # the position stayed
    assert protocol_state(liq_stack, others) == before
    assert not liquidator.inAuction(acct)


def test_bid_on_stale_prices_neither_sells_nor_ends(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper
):
    """'At fresh prices': once the feed is stale, a bid reverts StalePrice (it neither buys nor
    ends the auction), as endAuction does; with a fresh report the same bid ends the auction."""
    acct, bidder = underwater[0], liq_bidder[0]
    start(liquidator, acct, liq_keeper)
    set_btc(liq_stack, 58_000 * WAD)
    obs = liq_stack.oracle.feed(BTC)[2]
    next_block_at(obs + 3_601)  # heartbeat 1 h
    with reverts("StalePrice", BTC, obs, obs + 3_601):
        liquidator.bid(acct, 1, bidder, WAD // 10, MAX, {"from": liq_bidder[1]})
    next_block_at(obs + 3_602)
    with reverts("StalePrice", BTC, obs, obs + 3_602):
        liquidator.endAuction(acct, {"from": liq_bidder[1]})
    assert liquidator.inAuction(acct)
    set_btc(liq_stack, 58_000 * WAD)
    tx = liquidator.bid(acct, 1, bidder, WAD // 10, MAX, {"from": liq_bidder[1]})
    only_ended_cured(tx, acct, 1)
