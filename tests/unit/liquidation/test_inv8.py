"""INV-8 (SPEC §8 [v2]) on the liquidator: no transaction the account's owner or operator did not
sign lowers, by acting on the account, the AE of an account at or above IM.

Every liquidator entry point a third party can call was tried against a healthy account, in the
orders an attacker would pick: start (refused unless AE < MM, boundary exact), end (moves
nothing), bids on a cured auction (end it, buy nothing; see test_cured_bid.py), a bid replayed
after its auction ended and was restarted, a caller without the bidder's right, and the keeper fee
collected by the owner itself (the fee is capped at E, so it costs the fund nothing), and a
cured auction that nobody ended, after a relapse to between MM and IM: a bid there gets the start
discount only, never more than a freshly started auction would give (boundary at AE = MM exact).
"""

import pytest

from keel.deploy_engine import BTC, WAD, open_account
from tests.fixtures.liquidation import (
    assert_inv1,
    assert_inv6,
    breakdown,
    dust_price,
    set_btc,
    sleep,
)
from tests.support import reverts
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import (
    btc_price_where,
    fund_insurance,
    next_block_at,
    now,
    protocol_state,
    start_and_bid_in_one_block,
)

MAX = 2**256 - 1
FAST, SLOW = 15 * 60, 12 * 3600


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


def relapse(liq_stack, liquidator, acct, liq_keeper, elapsed: int):
    """Starts the auction at BTC $55,000, cures the account at $58,000 (nobody ends the
    auction), lets `elapsed` seconds pass. Returns the start time."""
    started = liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]}).timestamp
    set_btc(liq_stack, 58_000 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["AE"] >= b["IM"]  # cured; nobody ends the auction
    sleep(elapsed)
    return started


def test_inv8_open_cured_auction_relapse(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, liq_counterparty
):
    """Found in review (INV-8). Old rule: an auction that nobody ended while its account was cured
    kept the discount grown since its start. Started at BTC $55,000, cured at $58,000, not ended;
    15 min + 12 h later BTC is at $57,000: AE $8,875.05 is above MM $7,296 (no auction could
    start) but below IM $9,120, and the old auction took a bid at d = 100%: f_max = 1, the whole
    account (1 BTC long, E = $8,995) for a payment of 0 and the $179.90 penalty. A submitter
    choosing a report at the low edge of the observation spread can cause such a dip.
    Now a bid at or above MM gets the start discount (5%), never more than a freshly started
    auction: the attack bid (f = 1, limit 0) reverts PaymentAboveLimit and f = 1 at any price
    FractionOutOfBounds, nothing moves; a bid at f_max pays E·0.95 per unit, exactly."""
    acct, bidder = underwater[0], liq_bidder[0]
    started = relapse(liq_stack, liquidator, acct, liq_keeper, FAST + SLOW)
    set_btc(liq_stack, 57_000 * WAD)
    b = breakdown(liq_stack, acct)
    assert b == {
        "E": 8_995 * WAD,  # 11,995 − 3,000
        "AE": 8_875_05 * WAD // 100,  # 1% haircut on the cash
        "IM": 9_120 * WAD,  # 16% of 57,000
        "MM": 7_296 * WAD,  # 12.8% of 57,000
    }
    assert b["MM"] <= b["AE"] < b["IM"]  # not liquidatable, not cured
    # what the old rule gave: d = 100%, the whole account for 0 plus the penalty
    assert model.discount(now() - started) == WAD
    assert model.max_fraction(b, WAD) == WAD and model.penalty(WAD, b["E"]) == 17_990 * WAD // 100
    # now: the start discount, in the views as in the bid
    d = model.P.start
    unit = model.per_unit(b["E"], d)
    f = model.max_fraction(b, d)
    assert unit == 8_545_25 * WAD // 100  # E·(1 − 5%)
    assert f == 158_783_052_115_532_279  # (10,488 − 8,875.05) / (10,488 − 8,875.05 + 8,545.25)
    assert (liquidator.currentDiscount(acct), liquidator.maxFraction(acct)) == (d, f)

    others = [acct, bidder, liq_keeper[0], liq_counterparty[0]]
    before = protocol_state(liq_stack, others)
    with reverts("PaymentAboveLimit", acct, unit, 0):  # the attack: all of it for nothing
        liquidator.bid(acct, 1, bidder, WAD, 0, {"from": liq_bidder[1]})
    with reverts("FractionOutOfBounds", acct, WAD, f):  # all of it at any price
        liquidator.bid(acct, 1, bidder, WAD, MAX, {"from": liq_bidder[1]})
    with reverts("PaymentAboveLimit", acct, unit, unit - 1):  # a limit 1 wei under 5%
        liquidator.bid(acct, 1, bidder, f, unit - 1, {"from": liq_bidder[1]})
    assert protocol_state(liq_stack, others) == before
    assert liq_stack.engine.perpPosition(acct, BTC)[0] == WAD

    tx = liquidator.bid(acct, 1, bidder, f, unit, {"from": liq_bidder[1]})
    payment, penalty = model.payment(f, b["E"], d), model.penalty(f, b["E"])
    assert [int(x) for x in tx.return_value] == [payment, penalty]
    assert payment == 1_356_840_876_090_252_207_124  # $1,356.84 = f·E·0.95 (down), not 0
    assert penalty == 28_565_071_075_584_256_993  # $28.57 = f·E·2% (up), not $179.90
    ev = tx.events["SolventBid"]
    assert (ev["fraction"], ev["discount"], ev["equity"]) == (f, d, b["E"])
    assert tx.events["AuctionEnded"]["cured"] is True  # f_max restores AE ≥ IM
    assert liq_stack.engine.perpPosition(acct, BTC)[0] == WAD - f
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


@pytest.mark.parametrize("offset", [-1, 0], ids=["AE=MM-1", "AE=MM"])
def test_inv8_relapse_discount_boundary_at_mm(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, offset
):
    """The cap's boundary on the relapsed auction (cured, not ended, 15 min + 6 h later d(t) =
    65%): at AE = MM − 1 wei the account is liquidatable and a bid gets the running d(t); at
    AE = MM exactly it is not, and a bid gets the start discount. The views agree with the bid
    (same d, same f_max) on both sides, and the bid's payment is exact."""
    acct, bidder = underwater[0], liq_bidder[0]
    started = relapse(liq_stack, liquidator, acct, liq_keeper, FAST + SLOW // 2)
    btc_price_where(liq_stack, acct, lambda b: b["AE"] - b["MM"], offset, 55_183 * WAD)
    b = breakdown(liq_stack, acct)
    assert b["AE"] - b["MM"] == offset
    # the views, read on the latest block, say what a bid in that block would get
    t = now() - started
    assert 65 * WAD // 100 <= model.discount(t) < 66 * WAD // 100  # d(t) grew to ~65%
    d = model.discount(t) if offset < 0 else model.P.start
    assert model.bid_discount(t, b) == d
    assert liquidator.currentDiscount(acct) == d
    assert liquidator.maxFraction(acct) == model.max_fraction(b, d)
    # the bid, mined 5 s later, at f_max of its own block and a price limit of exactly E·(1 − d)
    at = now() + 5
    d = model.discount(at - started) if offset < 0 else model.P.start
    f, unit = model.max_fraction(b, d), model.per_unit(b["E"], d)
    assert 0 < f < WAD
    next_block_at(at)
    tx = liquidator.bid(acct, 1, bidder, f, unit, {"from": liq_bidder[1]})
    assert [int(x) for x in tx.return_value] == [
        model.payment(f, b["E"], d),
        model.penalty(f, b["E"]),
    ]
    ev = tx.events["SolventBid"]
    assert (ev["fraction"], ev["discount"], ev["equity"]) == (f, d, b["E"])
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)
