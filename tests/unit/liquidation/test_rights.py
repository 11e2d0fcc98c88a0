"""Rights during and around auctions: withdrawals stop (SPEC §7), flagged accounts may only reduce
risk, and nobody outside its rights changes liquidation state (INV-7)."""

import brownie

from keel.deploy_engine import BTC, WAD, trade
from tests.fixtures.liquidation import USDC, key, set_btc
from tests.support import reverts

MAX = 2**256 - 1


def start(liquidator, acct, liq_keeper):
    return liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]})


def test_withdrawal_blocked_during_auction(liq_stack, liquidator, underwater, liq_keeper):
    acct, owner = underwater
    start(liquidator, acct, liq_keeper)
    with reverts("AccountInLiquidation", acct):
        liq_stack.vault.withdraw(acct, liq_stack.usdc, USDC, owner, {"from": owner})


def test_withdrawal_allowed_again_after_cure(liq_stack, liquidator, underwater, liq_keeper):
    acct, owner = underwater
    start(liquidator, acct, liq_keeper)
    set_btc(liq_stack, 62_000 * WAD)
    liquidator.endAuction(acct, {"from": owner})
    liq_stack.vault.withdraw(acct, liq_stack.usdc, USDC, owner, {"from": owner})


def test_flagged_account_cannot_add_risk(
    liq_stack, liquidator, underwater, liq_keeper, liq_counterparty
):
    """The post-trade rule (SPEC §5) already forbids a below-IM account to raise its IM."""
    acct = underwater
    start(liquidator, acct[0], liq_keeper)
    with brownie.reverts(revert_pattern=rf"BelowInitialMargin: {acct[0]}, -?\d+, \d+"):
        trade(liq_stack, liq_counterparty, acct, BTC, -WAD // 10, 55_000 * WAD)


def test_flagged_account_may_reduce_risk(
    liq_stack, liquidator, underwater, liq_keeper, liq_counterparty
):
    acct = underwater
    start(liquidator, acct[0], liq_keeper)
    trade(liq_stack, liq_counterparty, acct, BTC, WAD // 2, 55_000 * WAD)
    assert liq_stack.engine.perpPosition(acct[0], BTC)[0] == WAD // 2


def test_only_bidder_owner_or_operator_bids(
    liq_stack, liquidator, underwater, liq_keeper, liq_bidder, mallory
):
    """INV-7: a bid commits the bidder account's cash: only its owner or trade operator."""
    start(liquidator, underwater[0], liq_keeper)
    with reverts("NotBidderAuthorised", liq_bidder[0], mallory):
        liquidator.bid(underwater[0], 1, liq_bidder[0], WAD // 10, MAX, {"from": mallory})
    with reverts("NotBidderAuthorised", liq_bidder[0], mallory):
        liquidator.bidInsolvent(underwater[0], 1, liq_bidder[0], 0, {"from": mallory})
    liq_stack.vault.setOperator(liq_bidder[0], mallory, 1, {"from": liq_bidder[1]})
    liquidator.bid(underwater[0], 1, liq_bidder[0], WAD // 10, MAX, {"from": mallory})


def test_only_liquidator_transfers_positions(liq_stack, underwater, liq_bidder, mallory):
    with reverts("Unauthorised", mallory):
        liq_stack.engine.transferPositions(underwater[0], liq_bidder[0], WAD, {"from": mallory})


def test_only_governance_sets_liquidator(liq_stack, mallory):
    with reverts("OwnableUnauthorizedAccount", mallory):
        liq_stack.engine.setLiquidator(mallory, {"from": mallory})


def test_only_owner_sets_params(liquidator, mallory):
    with reverts("OwnableUnauthorizedAccount", mallory):
        liquidator.setParam(key("keeperFee"), 0, {"from": mallory})


def test_param_setters_bounded_with_events(liq_stack, liquidator):
    d = {"from": liq_stack.deployer}
    tx = liquidator.setParam(key("keeperFee"), 7 * WAD, d)
    assert tx.events["ParamSet"]["value"] == 7 * WAD and liquidator.keeperFee() == 7 * WAD
    # SPEC §7: the penalty stays below the starting discount (the bidder pays it)
    start_d = liquidator.startDiscount()
    with reverts("ParamOutOfBounds", key("penaltyRate"), start_d, 0, start_d - 1):
        liquidator.setParam(key("penaltyRate"), start_d, d)
    pen = liquidator.penaltyRate()
    with reverts("ParamOutOfBounds", key("startDiscount"), pen, pen + 1, liquidator.midDiscount()):
        liquidator.setParam(key("startDiscount"), pen, d)
    with reverts("ParamOutOfBounds", key("bonusRate"), WAD, 0, WAD // 5):
        liquidator.setParam(key("bonusRate"), WAD, d)
    with reverts("UnknownParam", key("nope")):
        liquidator.setParam(key("nope"), 1, d)


def test_ownership_is_two_step(liq_stack, liquidator, alice):
    liquidator.transferOwnership(alice, {"from": liq_stack.deployer})
    assert liquidator.owner() == liq_stack.deployer
    liquidator.acceptOwnership({"from": alice})
    assert liquidator.owner() == alice
