"""Insolvent bids (SPEC §7, E ≤ 0): the whole portfolio to the bidder, −E + bonus(t) from the
insurance fund, the rest socialised through the Vault's cash index; INV-5 (the waterfall)."""

from keel.deploy_engine import BTC, WAD
from tests.fixtures.liquidation import (
    USDC,
    assert_inv1,
    assert_inv6,
    breakdown,
    set_btc,
    sleep,
)
from tests.support import reverts
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import next_block_at


def fund_insurance(liq_stack, amount_usd: int):
    usdc, d = liq_stack.usdc, liq_stack.deployer
    usdc.mint(d, amount_usd * USDC, {"from": d})
    usdc.approve(liq_stack.vault, amount_usd * USDC, {"from": d})
    liq_stack.vault.fundInsurance(amount_usd * USDC, {"from": d})


def start(liquidator, acct, liq_keeper):
    return liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]}).timestamp


def realised_cash(liq_stack, acct) -> int:
    """The account's cash once the engine realises its BTC perp PnL at the spot."""
    p = liq_stack.engine.perpPosition(acct, BTC)
    return liq_stack.vault.cashOf(acct) + p[0] * (liq_stack.oracle.feed(BTC)[0] - p[1]) // WAD


def test_insolvent_bid_paid_by_funded_insurance(
    liq_stack, liquidator, insolvent, liq_bidder, liq_keeper
):
    """Fund ≥ receipt: the bidder gets −E + bonus(30 min) = −E + 2.5%·MM from the fund; nothing
    is socialised; the account ends empty."""
    fund_insurance(liq_stack, 10_000)
    acct, bidder = insolvent[0], liq_bidder[0]
    vault = liq_stack.vault
    started = start(liquidator, acct, liq_keeper)
    b = breakdown(liq_stack, acct)
    assert b["E"] == -1_000 * WAD  # 12,000 − 13,000; no keeper fee on E ≤ 0 (SPEC §7 [v2])
    bonus = model.bonus(1_800, b["MM"])
    assert bonus == b["MM"] * 25 // 1000  # half of 5% of MM
    receipt = -b["E"] + bonus
    cash_b, fund = vault.cashOf(bidder), vault.insuranceFund()
    next_block_at(started + 1_800)
    tx = liquidator.bidInsolvent(acct, 1, bidder, receipt, {"from": liq_bidder[1]})
    assert [int(x) for x in tx.return_value] == [receipt, 0]
    ev = tx.events["InsolventBid"]
    assert (ev["equity"], ev["bonus"], ev["fromFund"], ev["socialised"]) == (
        b["E"],
        bonus,
        receipt,
        0,
    )
    assert vault.insuranceFund() == fund - receipt
    # the bidder took cash −1,000 and a 1 BTC long at 47,000, and received 1,000 + bonus
    assert vault.cashOf(bidder) == cash_b + bonus
    assert [int(x) for x in liq_stack.engine.perpPosition(bidder, BTC)[:2]] == [WAD, 47_000 * WAD]
    assert liq_stack.engine.accountUnderlyings(acct) == ()
    assert vault.cashOf(acct) == 0
    assert not liquidator.inAuction(acct)
    assert tx.events["AuctionEnded"]["cured"] is False
    assert vault.cashIndex() == WAD
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_insolvent_bid_with_empty_fund_socialises_exactly(
    liq_stack, liquidator, insolvent, liq_bidder, liq_keeper, liq_counterparty
):
    """Empty fund: the whole receipt is socialised. The cash index drops by
    ceil(loss·1e18 / Σ positive principal); every positive balance shrinks pro rata (rounded
    down), and the bidder is credited the loss after the cut."""
    acct, bidder, bob = insolvent[0], liq_bidder[0], liq_counterparty[0]
    vault = liq_stack.vault
    assert vault.insuranceFund() == 0
    started = start(liquidator, acct, liq_keeper)
    b = breakdown(liq_stack, acct)
    receipt = -b["E"] + model.bonus(600, b["MM"])
    cash_v = realised_cash(liq_stack, acct)  # −1,000: moved to the bidder
    total_p = vault.totalCashPrincipal()
    p_victim = vault.cashPrincipal(acct)
    p_bob, p_keeper, p_bidder = (vault.cashPrincipal(a) for a in (bob, liq_keeper[0], bidder))
    # principal at the cut: the victim's principal was consumed by its loss, the bidder took its debt
    total_at_cut = total_p - p_victim + cash_v
    index = WAD - (-(-receipt * WAD // total_at_cut))
    bidder_p = p_bidder + cash_v + receipt * WAD // index
    next_block_at(started + 600)
    tx = liquidator.bidInsolvent(acct, 1, bidder, 0, {"from": liq_bidder[1]})
    assert [int(x) for x in tx.return_value] == [0, receipt]
    assert vault.cashIndex() == index
    assert vault.cashOf(bob) == p_bob * index // WAD
    assert vault.cashOf(liq_keeper[0]) == p_keeper * index // WAD
    assert vault.cashOf(bidder) == bidder_p * index // WAD
    assert vault.insuranceFund() == 0
    loss_events = [e for e in tx.events["LossSocialised"] if "auctionId" in e]
    assert len(loss_events) == 1 and loss_events[0]["amount"] == receipt
    # who lost what: positive cash holders other than the bidder lost at most their pro-rata share
    lost = (p_bob - vault.cashOf(bob)) + (p_keeper - vault.cashOf(liq_keeper[0]))
    assert lost == (p_bob + p_keeper) - (p_bob * index // WAD + p_keeper * index // WAD)
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_inv5_waterfall(liq_stack, liquidator, insolvent, liq_bidder, liq_keeper):
    """INV-5: account equity → liquidation penalty → insurance fund → socialisation. With a fund
    of $300 < receipt: the account is emptied first (all its equity used), the fund pays all it
    has and only the remainder is socialised, recorded by an event."""
    fund_insurance(liq_stack, 300)
    acct, bidder = insolvent[0], liq_bidder[0]
    vault = liq_stack.vault
    started = start(liquidator, acct, liq_keeper)
    b = breakdown(liq_stack, acct)
    receipt = -b["E"] + model.bonus(3_600, b["MM"])
    # the bonus is full an hour after the start, when the start's report may be just stale
    # (heartbeat 1 h): report the same prices again shortly before
    sleep(3_540)
    set_btc(liq_stack, 47_000 * WAD)
    next_block_at(started + 3_600)
    tx = liquidator.bidInsolvent(acct, 1, bidder, receipt, {"from": liq_bidder[1]})
    from_fund, socialised = (int(x) for x in tx.return_value)
    assert from_fund == 300 * WAD  # step 3: the fund pays everything it has
    assert socialised == receipt - 300 * WAD  # step 4: only the remainder
    assert vault.insuranceFund() == 0
    assert liq_stack.engine.accountUnderlyings(acct) == () and vault.cashOf(acct) == 0  # step 1
    assert vault.accountAssets(acct) == ()
    ev = [e for e in tx.events["LossSocialised"] if "auctionId" in e][0]
    assert ev["amount"] == socialised
    assert_inv1(liq_stack)


def test_insolvent_receipt_limit_guard(liq_stack, liquidator, insolvent, liq_bidder, liq_keeper):
    acct = insolvent[0]
    started = start(liquidator, acct, liq_keeper)
    b = breakdown(liq_stack, acct)
    receipt = -b["E"] + model.bonus(100, b["MM"])
    next_block_at(started + 100)
    with reverts("ReceiptBelowLimit", acct, receipt, receipt + 1):
        liquidator.bidInsolvent(acct, 1, liq_bidder[0], receipt + 1, {"from": liq_bidder[1]})


def test_insolvent_bid_on_solvent_account_reverts(
    liq_stack, liquidator, underwater, liq_bidder, liq_keeper
):
    start(liquidator, underwater[0], liq_keeper)
    e = breakdown(liq_stack, underwater[0])["E"]
    with reverts("AccountSolvent", underwater[0], e):
        liquidator.bidInsolvent(underwater[0], 1, liq_bidder[0], 0, {"from": liq_bidder[1]})


def test_insolvent_stale_auction_reverts(liq_stack, liquidator, insolvent, liq_bidder, liq_keeper):
    start(liquidator, insolvent[0], liq_keeper)
    with reverts("StaleAuction", insolvent[0], 2, 1):
        liquidator.bidInsolvent(insolvent[0], 2, liq_bidder[0], 0, {"from": liq_bidder[1]})
