"""Solvent bids (SPEC §7): exact payment and penalty, f_max and the full take, the discount curve,
the bidder's IM check and the front-running guards (price limit, auction id)."""

import brownie
import pytest

from keel.deploy_engine import BTC, WAD
from tests.fixtures.liquidation import (
    assert_inv1,
    assert_inv6,
    breakdown,
    set_btc,
    sleep,
)
from tests.support import reverts
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import next_block_at


def start(liq_stack, liquidator, acct, liq_keeper):
    return liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})


def test_solvent_bid_at_fmax_exact_and_cures(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper
):
    """Bid f = f_max one minute in: payment f·E·(1 − d) down, penalty p·f·E up, every balance
    moves by exactly fraction f; the account is back above IM and the auction ends."""
    acct, bidder = underwater[0], liq_bidder[0]
    vault, engine = liq_stack.vault, liq_stack.engine
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    b = breakdown(liq_stack, acct)
    d = model.discount(60)
    f = model.max_fraction(b, d)
    # E = 12,000 − 5 − 5,000; AE = E − 1% of cash 11,995; IM = 16% of 55,000; d = 5% + 25%/15
    e, ae, target, d_f = 6_995.0, 6_995 - 119.95, 8_800 * 1.15, 0.05 + 0.25 * 60 / 900
    assert f / WAD == pytest.approx((target - ae) / (target - ae + e * (1 - d_f)), rel=1e-15)
    assert f == 332_011_179_757_749_178  # 33.2% of the account
    pay, pen = model.payment(f, b["E"], d), model.penalty(f, b["E"])
    cash_v, cash_b, fund = vault.cashOf(acct), vault.cashOf(bidder), vault.insuranceFund()
    pos = engine.perpPosition(acct, BTC)
    spot = liq_stack.oracle.feed(BTC)[0]
    pnl = pos[0] * (spot - pos[1]) // WAD  # realised into cash by the engine before the move
    moved_cash = model.part(cash_v + pnl, f)
    moved_q = model.part(pos[0], f)

    next_block_at(started + 60)
    tx = liquidator.bid(acct, 1, bidder, f, model.per_unit(b["E"], d), {"from": liq_bidder[1]})
    assert [int(x) for x in tx.return_value] == [pay, pen]
    ev = tx.events["SolventBid"]
    assert (ev["fraction"], ev["discount"], ev["equity"]) == (f, d, b["E"])
    assert (ev["payment"], ev["penalty"]) == (pay, pen)
    assert vault.cashOf(acct) == cash_v + pnl - moved_cash + pay
    assert vault.cashOf(bidder) == cash_b + moved_cash - pay - pen
    assert vault.insuranceFund() == fund + pen
    assert engine.perpPosition(acct, BTC)[0] == pos[0] - moved_q
    assert [int(x) for x in engine.perpPosition(bidder, BTC)[:2]] == [moved_q, spot]
    after = breakdown(liq_stack, acct)
    assert after["AE"] >= after["IM"]
    assert tx.events["AuctionEnded"]["cured"] is True
    assert not liquidator.inAuction(acct)
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_partial_bid_keeps_auction_running(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper
):
    acct = underwater[0]
    start(liq_stack, liquidator, acct, liq_keeper)
    b = breakdown(liq_stack, acct)
    f = model.max_fraction(b, model.discount(0)) // 4
    liquidator.bid(acct, 1, liq_bidder[0], f, 2**256 - 1, {"from": liq_bidder[1]})
    after = breakdown(liq_stack, acct)
    assert after["AE"] < after["IM"]
    assert liquidator.inAuction(acct)
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_fraction_above_fmax_reverts(liq_stack, liquidator, underwater, liq_bidder, liq_keeper):
    acct = underwater[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    b = breakdown(liq_stack, acct)
    f = model.max_fraction(b, model.discount(30))
    next_block_at(started + 30)
    with reverts("FractionOutOfBounds", acct, f + 1, f):
        liquidator.bid(acct, 1, liq_bidder[0], f + 1, 2**256 - 1, {"from": liq_bidder[1]})


def test_zero_fraction_reverts(liq_stack, liquidator, underwater, liq_bidder, liq_keeper):
    acct = underwater[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    f = model.max_fraction(breakdown(liq_stack, acct), model.discount(10))
    next_block_at(started + 10)
    with reverts("FractionOutOfBounds", acct, 0, f):
        liquidator.bid(acct, 1, liq_bidder[0], 0, 2**256 - 1, {"from": liq_bidder[1]})


def test_full_take_below_half_mm(liq_stack, liquidator, liq_victim, liq_bidder, liq_keeper):
    """E < ½·MM: the whole account may be taken (f = 1); the account is then empty and the
    auction ends (not cured). The account keeps only the payment."""
    set_btc(liq_stack, 51_000 * WAD)
    acct = liq_victim[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    b = breakdown(liq_stack, acct)
    assert 0 < b["E"] < b["MM"] // 2
    d = model.discount(120)
    next_block_at(started + 120)
    tx = liquidator.bid(acct, 1, liq_bidder[0], WAD, 2**256 - 1, {"from": liq_bidder[1]})
    assert tx.events["AuctionEnded"]["cured"] is False
    assert liq_stack.engine.accountUnderlyings(acct) == ()
    assert liq_stack.vault.cashOf(acct) == model.payment(WAD, b["E"], d)
    assert liq_stack.engine.perpPosition(liq_bidder[0], BTC)[0] == WAD
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_full_take_refused_above_half_mm(liq_stack, liquidator, underwater, liq_bidder, liq_keeper):
    acct = underwater[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    b = breakdown(liq_stack, acct)
    assert b["E"] >= b["MM"] // 2
    f = model.max_fraction(b, model.discount(5))
    next_block_at(started + 5)
    with reverts("FractionOutOfBounds", acct, WAD, f):
        liquidator.bid(acct, 1, liq_bidder[0], WAD, 2**256 - 1, {"from": liq_bidder[1]})


@pytest.mark.parametrize(
    "elapsed, expected",
    [
        (1, 5 * WAD // 100 + 25 * WAD // 100 // 900),  # fast phase, first second
        (450, 175 * WAD // 1000),  # fast phase, half way: 17.5%
        (900, 30 * WAD // 100),  # end of the fast phase: 30%
        (900 + 6 * 3600, 65 * WAD // 100),  # slow phase, half way: 65%
        (900 + 12 * 3600, WAD),  # end of the slow phase: 100%
        (900 + 20 * 3600, WAD),  # stays at 100%
    ],
)
def test_discount_curve(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, elapsed, expected
):
    """d(t): 5% → 30% over 15 min, then 30% → 100% over 12 h (exact, rounded down)."""
    acct = underwater[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    assert model.discount(elapsed) == expected
    if elapsed > 3000:
        sleep(elapsed - 60)
        set_btc(liq_stack, 55_000 * WAD)  # keep the feeds fresh
    b = breakdown(liq_stack, acct)
    f = model.max_fraction(b, expected) // 2
    next_block_at(started + elapsed)
    tx = liquidator.bid(acct, 1, liq_bidder[0], f, 2**256 - 1, {"from": liq_bidder[1]})
    assert tx.events["SolventBid"]["discount"] == expected
    assert tx.return_value[0] == model.payment(f, b["E"], expected)


def test_bidder_must_pass_im(liq_stack, liquidator, underwater, liq_bidder, liq_keeper):
    """The keeper's account (only its $5 fee) cannot carry half a BTC perp."""
    acct = underwater[0]
    start(liq_stack, liquidator, acct, liq_keeper)
    f = model.max_fraction(breakdown(liq_stack, acct), model.discount(0)) // 2
    with brownie.reverts(revert_pattern=rf"BidderBelowInitialMargin: {liq_keeper[0]}, -?\d+, \d+"):
        liquidator.bid(acct, 1, liq_keeper[0], f, 2**256 - 1, {"from": liq_keeper[1]})


def test_price_limit_guard(liq_stack, liquidator, underwater, liq_bidder, liq_keeper):
    """The payment per unit E·(1 − d) above the bidder's limit reverts (front-running guard)."""
    acct = underwater[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    b = breakdown(liq_stack, acct)
    unit = model.per_unit(b["E"], model.discount(90))
    next_block_at(started + 90)
    with reverts("PaymentAboveLimit", acct, unit, unit - 1):
        liquidator.bid(acct, 1, liq_bidder[0], WAD // 10, unit - 1, {"from": liq_bidder[1]})


def test_stale_auction_id_guard(liq_stack, liquidator, underwater, liq_bidder, liq_keeper, bob):
    """A bid naming another auction reverts; so does one aimed at an auction that ended and was
    restarted with a new id."""
    acct = underwater[0]
    start(liq_stack, liquidator, acct, liq_keeper)
    with reverts("StaleAuction", acct, 7, 1):
        liquidator.bid(acct, 7, liq_bidder[0], WAD // 10, 2**256 - 1, {"from": liq_bidder[1]})
    set_btc(liq_stack, 60_000 * WAD)
    liquidator.endAuction(acct, {"from": bob})
    with reverts("NoAuction", acct):
        liquidator.bid(acct, 1, liq_bidder[0], WAD // 10, 2**256 - 1, {"from": liq_bidder[1]})
    set_btc(liq_stack, 55_000 * WAD)
    assert start(liq_stack, liquidator, acct, liq_keeper).return_value == 2
    with reverts("StaleAuction", acct, 1, 2):
        liquidator.bid(acct, 1, liq_bidder[0], WAD // 10, 2**256 - 1, {"from": liq_bidder[1]})


def test_bid_on_insolvent_account_reverts(liq_stack, liquidator, insolvent, liq_bidder, liq_keeper):
    start(liq_stack, liquidator, insolvent[0], liq_keeper)
    e = breakdown(liq_stack, insolvent[0])["E"]
    with reverts("AccountInsolvent", insolvent[0], e):
        liquidator.bid(insolvent[0], 1, liq_bidder[0], WAD, 2**256 - 1, {"from": liq_bidder[1]})


def test_self_bid_reverts(liq_stack, liquidator, underwater, liq_keeper):
    start(liq_stack, liquidator, underwater[0], liq_keeper)
    with reverts("SelfBid", underwater[0]):
        liquidator.bid(
            underwater[0], 1, underwater[0], WAD // 10, 2**256 - 1, {"from": underwater[1]}
        )


def test_two_bids_in_one_block(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper, bob, liq_counterparty
):
    """Two bids at f_max mined in the same block: the first cures and ends the auction, the second
    reverts (NoAuction) and changes nothing; balances stay consistent (INV-1, INV-6)."""
    acct = underwater[0]
    started = start(liq_stack, liquidator, acct, liq_keeper).timestamp
    f = model.max_fraction(breakdown(liq_stack, acct), model.discount(60))
    second = liq_counterparty[0]
    cash2 = liq_stack.vault.cashOf(second)
    web3 = brownie.web3
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        opts = {"gas_limit": 3_000_000, "required_confs": 0, "allow_revert": True}
        tx1 = liquidator.bid(
            acct, 1, liq_bidder[0], f, 2**256 - 1, dict(opts, **{"from": liq_bidder[1]})
        )
        tx2 = liquidator.bid(acct, 1, second, f, 2**256 - 1, dict(opts, **{"from": bob}))
        web3.provider.make_request("evm_mine", [started + 60])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    tx1.wait(1)
    tx2.wait(1)
    assert tx1.block_number == tx2.block_number
    assert tx1.status == 1 and tx2.status == 0
    assert not liquidator.inAuction(acct)
    assert liq_stack.vault.cashOf(second) == cash2
    assert liq_stack.engine.perpPosition(second, BTC)[0] == -WAD
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)
