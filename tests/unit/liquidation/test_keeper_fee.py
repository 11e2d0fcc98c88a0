"""The keeper fee (SPEC §7 [v2]): min(keeperFee, max(E, 0)), so the fee alone never makes an
account insolvent and the insurance fund never pays a keeper fee.

`liq_dust` holds $120 cash and 0.01 BTC long at $60,000: E = 120 + (S − 60,000)/100, exact at the
prices `dust_price` gives, and far below MM at all of them (MM ≈ 12.8%·S/100 ≈ $62).
"""

import pytest

from keel.deploy_engine import BTC, WAD
from tests.fixtures.liquidation import (
    assert_inv1,
    assert_inv6,
    breakdown,
    dust_price,
    set_btc,
)
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import (
    fund_insurance,
    next_block_at,
    start_and_bid_in_one_block,
)

FEE = 5 * WAD


def test_attack_10_keeper_fee_on_dust(liq_stack, liquidator, liq_dust, liq_bidder, liq_keeper):
    """Attack 10 (keeper fee on dust). Old rule: startAuction took the flat $5 fee from any account;
    a dust account with E = $3 was left at E = −$2, and the insolvent bid made the insurance fund
    pay the bidder −E = $2 (plus the bonus): the fund paid the keeper's fee. Now the fee is
    min($5, E) = $3 exactly, E is 0 after the start, and an insolvent bid mined in the start's block
    (bonus 0) takes nothing from the fund: the fund is exactly unchanged."""
    fund_insurance(liq_stack, 1_000)
    acct, bidder, keeper = liq_dust[0], liq_bidder[0], liq_keeper[0]
    vault = liq_stack.vault
    set_btc(liq_stack, dust_price(3 * WAD))
    b = breakdown(liq_stack, acct)
    assert b["E"] == 3 * WAD and b["AE"] < b["MM"]
    cash_v, cash_k, cash_b = (vault.cashOf(a) for a in (acct, keeper, bidder))
    fund = vault.insuranceFund()
    assert fund == 1_000 * WAD
    old_rule_from_fund = FEE - b["E"]  # −(E − 5) + bonus 0: what the fund paid before
    assert old_rule_from_fund == 2 * WAD

    tx_start, tx_bid = start_and_bid_in_one_block(
        liq_stack, liquidator, acct, liq_keeper, liq_bidder
    )
    assert tx_start.events["AuctionStarted"]["keeperFee"] == 3 * WAD == model.keeper_fee(b["E"])
    assert vault.cashOf(keeper) == cash_k + 3 * WAD
    ev = tx_bid.events["InsolventBid"]
    assert (ev["equity"], ev["bonus"], ev["fromFund"], ev["socialised"]) == (0, 0, 0, 0)
    assert [int(x) for x in tx_bid.return_value] == [0, 0]
    assert vault.insuranceFund() == fund  # not fund − 2: the fund paid no keeper fee
    assert vault.cashIndex() == WAD  # nothing socialised either
    # the bidder took cash 120 − 3 − 117 (realised PnL) = 0 and the 0.01 BTC at the spot
    assert cash_v == 120 * WAD and vault.cashOf(bidder) == cash_b
    assert [int(x) for x in liq_stack.engine.perpPosition(bidder, BTC)[:2]] == [
        WAD // 100,
        dust_price(3 * WAD),
    ]
    assert vault.cashOf(acct) == 0 and liq_stack.engine.accountUnderlyings(acct) == ()
    assert not liquidator.inAuction(acct)
    assert_inv1(liq_stack)
    assert_inv6(liq_stack)


def test_capped_fee_leaves_the_fund_only_the_bonus(
    liq_stack, liquidator, liq_dust, liq_bidder, liq_keeper
):
    """Ten minutes after the start, the insolvent bid on the dust account (E = 0 after the capped
    fee) receives exactly bonus(600 s) = 5%·MM·600/3600 from the fund: the bidder's reward for the
    book, nothing for the fee (the old rule paid $2 more)."""
    fund_insurance(liq_stack, 1_000)
    acct = liq_dust[0]
    set_btc(liq_stack, dust_price(3 * WAD))
    started = liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]}).timestamp
    b = breakdown(liq_stack, acct)
    assert b["E"] == 0
    bonus = model.bonus(600, b["MM"])
    assert bonus > 0
    fund = liq_stack.vault.insuranceFund()
    next_block_at(started + 600)
    tx = liquidator.bidInsolvent(acct, 1, liq_bidder[0], bonus, {"from": liq_bidder[1]})
    assert [int(x) for x in tx.return_value] == [bonus, 0]
    assert liq_stack.vault.insuranceFund() == fund - bonus


@pytest.mark.parametrize(
    "equity, fee",
    [
        (FEE + 1, FEE),  # E just above the fee: the flat fee
        (FEE, FEE),  # E == fee: all of it
        (FEE - 1, FEE - 1),  # E just below the fee: E exactly
        (1, 1),  # 1 wei of equity: 1 wei of fee
        (0, 0),  # E == 0: no fee
        (-10 * WAD, 0),  # E < 0: no fee (the fund would pay it)
    ],
)
def test_keeper_fee_is_min_of_fee_and_positive_equity(
    liq_stack, liquidator, liq_dust, liq_keeper, equity, fee
):
    acct, keeper = liq_dust[0], liq_keeper[0]
    vault = liq_stack.vault
    set_btc(liq_stack, dust_price(equity))
    b = breakdown(liq_stack, acct)
    assert b["E"] == equity and b["AE"] < b["MM"]
    cash_v, cash_k = vault.cashOf(acct), vault.cashOf(keeper)
    tx = liquidator.startAuction(acct, keeper, {"from": liq_keeper[1]})
    assert tx.events["AuctionStarted"]["keeperFee"] == fee == model.keeper_fee(equity)
    assert vault.cashOf(keeper) == cash_k + fee
    assert vault.cashOf(acct) == cash_v - fee
    after = breakdown(liq_stack, acct)
    assert after["E"] == equity - fee
    assert after["E"] >= min(equity, 0)  # never pushed below zero by the fee


def test_fee_param_change_applies_with_the_cap(liq_stack, liquidator, liq_dust, liq_keeper):
    """Governance may set a larger flat fee (≤ $100); the cap still holds per account."""
    liquidator.setParam(b"keeperFee".ljust(32, b"\0"), 50 * WAD, {"from": liq_stack.deployer})
    set_btc(liq_stack, dust_price(7 * WAD))
    tx = liquidator.startAuction(liq_dust[0], liq_keeper[0], {"from": liq_keeper[1]})
    assert tx.events["AuctionStarted"]["keeperFee"] == 7 * WAD
    assert breakdown(liq_stack, liq_dust[0])["E"] == 0
