"""Starting and ending auctions (SPEC §7): when they may start, the keeper fee, curing."""

from keel.deploy_engine import BTC, WAD
from tests.fixtures.liquidation import breakdown, set_btc
from tests.support import reverts
from tests.unit.liquidation.helpers import next_block_at


def test_start_below_mm_flags_and_pays_keeper_fee(liq_stack, liquidator, underwater, liq_keeper):
    acct = underwater[0]
    b = breakdown(liq_stack, acct)
    assert b["AE"] < b["MM"]
    cash0 = liq_stack.vault.cashOf(acct)
    tx = liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})
    auction_id = tx.return_value
    assert auction_id == liquidator.auctionCount() == 1
    assert liquidator.inAuction(acct)
    a = liquidator.auction(acct)
    assert [int(x) for x in a] == [auction_id, tx.timestamp, liq_keeper[0]]
    assert liq_stack.vault.cashOf(liq_keeper[0]) == 5 * WAD
    assert liq_stack.vault.cashOf(acct) == cash0 - 5 * WAD
    ev = tx.events["AuctionStarted"]
    assert ev["accountId"] == acct and ev["keeperFee"] == 5 * WAD
    assert ev["adjustedEquity"] == b["AE"] and ev["maintenanceMargin"] == b["MM"]


def test_start_refuses_account_above_mm(liq_stack, liquidator, liq_victim, liq_keeper):
    b = breakdown(liq_stack, liq_victim[0])
    with reverts("NotBelowMaintenanceMargin", liq_victim[0], b["AE"], b["MM"]):
        liquidator.startAuction(liq_victim[0], liq_keeper[0], {"from": liq_keeper[1]})


def test_start_refuses_stale_price(liq_stack, liquidator, underwater, liq_keeper):
    obs = liq_stack.oracle.feed(BTC)[2]
    next_block_at(obs + 3_601)  # heartbeat 1 h
    with reverts("StalePrice", BTC, obs, obs + 3_601):
        liquidator.startAuction(underwater[0], liq_keeper[0], {"from": liq_keeper[1]})


def test_start_refuses_running_auction(liq_stack, liquidator, underwater, liq_keeper):
    liquidator.startAuction(underwater[0], liq_keeper[0], {"from": liq_keeper[1]})
    with reverts("AuctionAlreadyRunning", underwater[0], 1):
        liquidator.startAuction(underwater[0], liq_keeper[0], {"from": liq_keeper[1]})


def test_start_refuses_unknown_account(liq_stack, liquidator, underwater, liq_keeper):
    with reverts("UnknownAccount", 999):
        liquidator.startAuction(999, liq_keeper[0], {"from": liq_keeper[1]})
    with reverts("UnknownAccount", 998):
        liquidator.startAuction(underwater[0], 998, {"from": liq_keeper[1]})


def test_end_refuses_uncured_account(liq_stack, liquidator, underwater, liq_keeper):
    liquidator.startAuction(underwater[0], liq_keeper[0], {"from": liq_keeper[1]})
    b = breakdown(liq_stack, underwater[0])
    with reverts("NotCured", underwater[0], b["AE"], b["IM"]):
        liquidator.endAuction(underwater[0], {"from": liq_keeper[1]})


def test_end_without_auction_reverts(liq_stack, liquidator, liq_victim, liq_keeper):
    with reverts("NoAuction", liq_victim[0]):
        liquidator.endAuction(liq_victim[0], {"from": liq_keeper[1]})


def test_cured_by_price_recovery_anyone_ends(
    liq_stack, liquidator, underwater, liq_keeper, mallory
):
    liquidator.startAuction(underwater[0], liq_keeper[0], {"from": liq_keeper[1]})
    set_btc(liq_stack, 60_000 * WAD)
    b = breakdown(liq_stack, underwater[0])
    assert b["AE"] >= b["IM"]
    tx = liquidator.endAuction(underwater[0], {"from": mallory})
    assert tx.events["AuctionEnded"]["cured"] is True
    assert not liquidator.inAuction(underwater[0])


def test_cured_by_deposit(liq_stack, liquidator, underwater, liq_keeper):
    """A flagged account may still deposit (SPEC §7); enough cash cures it."""
    from keel.deploy_engine import deposit

    liquidator.startAuction(underwater[0], liq_keeper[0], {"from": liq_keeper[1]})
    deposit(liq_stack, underwater[0], underwater[1], "USDC", 5_000)
    liquidator.endAuction(underwater[0], {"from": liq_keeper[1]})
    assert not liquidator.inAuction(underwater[0])
