"""INV-8 (SPEC §8 [v2]) on the liquidator: no transaction the account's owner or operator did not
sign lowers, by acting on the account, the AE of an account at or above IM.

Every liquidator entry point a third party can call was tried against a healthy account, in the
orders an attacker would pick: start (refused unless AE < MM, boundary exact), end (moves
nothing), bids on a cured auction (end it, buy nothing; see test_cured_bid.py), a bid replayed
after its auction ended and was restarted, a caller without the bidder's right, and the keeper fee
collected by the owner itself (the fee is capped at E, so it costs the fund nothing).
One path stays open and is marked xfail: a cured auction that nobody ended, after a relapse.
"""

import brownie
import pytest

from keel.deploy_engine import BTC, WAD, open_account
from tests.fixtures.liquidation import breakdown, dust_price, set_btc, sleep
from tests.support import reverts
from tests.unit.liquidation.helpers import (
    btc_price_where,
    fund_insurance,
    protocol_state,
    start_and_bid_in_one_block,
)

MAX = 2**256 - 1


def test_inv8_start_boundary_at_mm(liq_stack, liquidator, liq_victim, liq_bidder, liq_keeper):
    """Start needs AE < MM (≤ IM): at AE == MM it is refused with the exact figures and nothing
    moves; at AE == MM − 1 wei it starts and the fee is paid."""
    acct = liq_victim[0]
    btc_price_where(liq_stack, acct, lambda b: b["AE"] - b["MM"], 0, 55_183 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["AE"] == b["MM"]
    before = protocol_state(liq_stack, [acct, liq_keeper[0]])
    with reverts("NotBelowMaintenanceMargin", acct, b["AE"], b["MM"]):
        liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})
    assert protocol_state(liq_stack, [acct, liq_keeper[0]]) == before
    btc_price_where(liq_stack, acct, lambda b: b["AE"] - b["MM"], -1, 55_183 * WAD)
    tx = liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})
    assert tx.events["AuctionStarted"]["keeperFee"] == 5 * WAD
    assert liquidator.inAuction(acct)


def test_inv8_no_entry_point_touches_a_healthy_account(
    liq_stack, liquidator, liq_victim, liq_bidder, liq_keeper, mallory
):
    """A healthy account without an auction: start, end and both bids, by a stranger or by a
    funded bidder, all revert with their exact errors, and nothing of the account moves."""
    acct, bidder = liq_victim[0], liq_bidder[0]
    b = breakdown(liq_stack, acct)
    assert b["AE"] >= b["IM"]
    before = protocol_state(liq_stack, [acct, bidder, liq_keeper[0]])
    with reverts("NotBelowMaintenanceMargin", acct, b["AE"], b["MM"]):
        liquidator.startAuction(acct, liq_keeper[0], {"from": mallory})
    with reverts("NoAuction", acct):
        liquidator.endAuction(acct, {"from": mallory})
    with reverts("NoAuction", acct):
        liquidator.bid(acct, 1, bidder, WAD, MAX, {"from": liq_bidder[1]})
    with reverts("NoAuction", acct):
        liquidator.bidInsolvent(acct, 1, bidder, 0, {"from": liq_bidder[1]})
    assert protocol_state(liq_stack, [acct, bidder, liq_keeper[0]]) == before


def test_inv8_cured_auction_can_only_be_ended(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, mallory
):
    """A running auction on a cured account: a second start is refused, a stranger cannot bid with
    someone else's account even to end it (INV-7 is checked before the cure), and anyone ends it
    with endAuction. Nothing of the account moves."""
    acct, bidder = underwater[0], liq_bidder[0]
    liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})
    set_btc(liq_stack, 58_000 * WAD)
    before = protocol_state(liq_stack, [acct, bidder, liq_keeper[0]])
    with reverts("AuctionAlreadyRunning", acct, 1):
        liquidator.startAuction(acct, liq_keeper[0], {"from": mallory})
    with reverts("NotBidderAuthorised", bidder, mallory):
        liquidator.bid(acct, 1, bidder, WAD, MAX, {"from": mallory})
    with reverts("NotBidderAuthorised", bidder, mallory):
        liquidator.bidInsolvent(acct, 1, bidder, 0, {"from": mallory})
    tx = liquidator.endAuction(acct, {"from": mallory})
    assert tx.events["AuctionEnded"]["cured"] is True
    assert protocol_state(liq_stack, [acct, bidder, liq_keeper[0]]) == before


def test_inv8_cured_ending_bid_cannot_be_replayed_on_a_restart(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper
):
    """A bid that ended a cured auction, sent again, finds no auction; once the account falls
    below MM again the new auction has a new id and the old bid is refused as stale, so a bid
    signed against one auction never lands on another (a fresh discount, a fresh decision)."""
    acct, bidder = underwater[0], liq_bidder[0]
    liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})
    set_btc(liq_stack, 58_000 * WAD)
    args = (acct, 1, bidder, WAD // 10, MAX, {"from": liq_bidder[1]})
    assert liquidator.bid(*args).events["AuctionEnded"]["cured"] is True
    with reverts("NoAuction", acct):
        liquidator.bid(*args)
    set_btc(liq_stack, 55_000 * WAD)
    assert liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]}).return_value == 2
    with reverts("StaleAuction", acct, 1, 2):
        liquidator.bid(*args)


def test_inv8_self_start_pays_no_fee(liq_stack, liquidator, underwater):
    """The owner naming its own account as the starter pays no fee, and the event says 0 (the old
    event reported $5 though nothing moved)."""
    acct, owner = underwater
    cash = liq_stack.vault.cashOf(acct)
    tx = liquidator.startAuction(acct, acct, {"from": owner})
    assert tx.events["AuctionStarted"]["keeperFee"] == 0
    assert liq_stack.vault.cashOf(acct) == cash


def test_inv8_self_liquidation_collects_no_fee_from_the_fund(
    liq_stack, liquidator, liq_dust, liq_bidder
):
    """Self-liquidation to collect fees: the dust account's owner starts its auction naming its
    own second account, and bids insolvent with that account in the same block. The fee moves
    E = $3 between the owner's accounts (their total is unchanged) and the insolvent bid takes
    nothing from the fund (old rule: $5 fee, E = −$2, and the fund paid the owner $2)."""
    fund_insurance(liq_stack, 1_000)
    acct, owner = liq_dust
    second = (open_account(liq_stack, owner, {"USDC": 1_000}), owner)
    set_btc(liq_stack, dust_price(3 * WAD))
    total = breakdown(liq_stack, acct)["E"] + breakdown(liq_stack, second[0])["E"]
    fund = liq_stack.vault.insuranceFund()
    tx_start, tx_bid = start_and_bid_in_one_block(liq_stack, liquidator, acct, second, second)
    assert tx_start.events["AuctionStarted"]["keeperFee"] == 3 * WAD
    assert [int(x) for x in tx_bid.return_value] == [0, 0]
    assert liq_stack.vault.insuranceFund() == fund
    assert breakdown(liq_stack, acct)["E"] + breakdown(liq_stack, second[0])["E"] == total


@pytest.mark.xfail(
    strict=True,
    reason="open (needs a SPEC §7 decision): an auction that nobody ended while its account was "
    "cured keeps the discount grown since its start; a relapse to between MM and IM, which no "
    "start could auction, then sells the whole account for the 2% penalty",
)
def test_inv8_open_cured_auction_relapse(liq_stack, liquidator, underwater, liq_bidder, liq_keeper):
    """Found in review, NOT closed. Started at BTC $55,000; the market cures the account ($58,000:
    AE ≥ IM) and nobody calls endAuction or bids; 15 min + 12 h later BTC is at $57,000: AE $8,875
    is above MM $7,296 (no auction could start) but below IM $9,120, so the old auction accepts a
    bid at d = 100%: f_max = 1, the whole account (E = $8,995) for a payment of 0 and the $179.90
    penalty. A submitter choosing a report at the low edge of the observation spread can cause
    such a dip. Asserted here: whatever the rule chosen, a bid with a price limit of 0 does not
    take the account."""
    acct, bidder = underwater[0], liq_bidder[0]
    liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})
    set_btc(liq_stack, 58_000 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["AE"] >= b["IM"]  # cured; nobody ends the auction
    sleep(15 * 60 + 12 * 3600)
    set_btc(liq_stack, 57_000 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["MM"] <= b["AE"] < b["IM"]  # not liquidatable, not cured
    try:
        liquidator.bid(acct, 1, bidder, WAD, 0, {"from": liq_bidder[1]})
    except brownie.exceptions.VirtualMachineError:
        pass
    assert liq_stack.engine.perpPosition(acct, BTC)[0] == WAD
