"""A solvent bid moves fraction f of everything: every option position, every perp, every
collateral balance and the cash (SPEC §7), amounts truncated towards zero; INV-6 and INV-1 hold."""

from keel.deploy_engine import BTC, ETH, WAD, deposit, open_account, trade
from tests.fixtures.engine import option
from tests.fixtures.liquidation import assert_inv1, assert_inv6, breakdown, set_btc
from tests.unit.engine.helpers import bs
from tests.unit.liquidation import model
from tests.unit.liquidation.helpers import next_block_at

MAX = 2**256 - 1


def test_bid_moves_fraction_of_options_collateral_perps_and_cash(
    liq_stack, liquidator, liq_counterparty, liq_bidder, liq_keeper, accounts
):
    stack, cp, owner = liq_stack, liq_counterparty, accounts[6]
    victim = (open_account(stack, owner, {"USDC": 9_000}), owner)
    deposit(stack, victim[0], owner, "WETH", "1.5")
    put = option(stack, BTC, 60_000 * WAD, 30, False)
    call = option(stack, BTC, 66_000 * WAD, 30, True)
    premium_put = int(bs(False, 60_000.0, 60_000.0, 0.6, 30 / 365) * WAD)
    premium_call = int(bs(True, 60_000.0, 66_000.0, 0.6, 30 / 365) * WAD)
    trade(stack, cp, victim, put, WAD // 2, premium_put)  # the victim sells 0.5 puts
    trade(stack, cp, victim, call, -WAD // 3, premium_call)  # and buys 1/3 call
    trade(stack, cp, victim, BTC, -WAD // 7, 60_000 * WAD)  # and 1/7 BTC long perp
    trade(stack, cp, victim, ETH, 3 * WAD, 3_000 * WAD)  # and 3 ETH short perp
    for price in range(58_000, 30_000, -1_000):
        set_btc(stack, price * WAD)
        b = breakdown(stack, victim[0])
        if b["AE"] < b["MM"]:
            break
    assert 0 < b["MM"] // 2 <= b["E"] and b["AE"] < b["MM"]
    acct, bidder = victim[0], liq_bidder[0]
    started = liquidator.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]}).timestamp
    put_id, call_id = put - (1 << 128), call - (1 << 128)
    engine, vault = stack.engine, stack.vault
    before = {
        "put": engine.optionPosition(acct, put_id),
        "call": engine.optionPosition(acct, call_id),
        "btc": engine.perpPosition(acct, BTC)[0],
        "eth": engine.perpPosition(acct, ETH)[0],
        "weth": vault.collateralBalance(acct, stack.weth),
    }
    f = model.max_fraction(b, model.discount(45)) * 2 // 3
    next_block_at(started + 45)
    liquidator.bid(acct, 1, bidder, f, MAX, {"from": liq_bidder[1]})
    moved = {k: model.part(v, f) for k, v in before.items()}
    assert moved["put"] == -(WAD // 2 * f // WAD)  # a short moves as a short, truncated to zero
    assert engine.optionPosition(acct, put_id) == before["put"] - moved["put"]
    assert engine.optionPosition(bidder, put_id) == moved["put"]
    assert engine.optionPosition(acct, call_id) == before["call"] - moved["call"]
    assert engine.optionPosition(bidder, call_id) == moved["call"]
    assert engine.perpPosition(acct, BTC)[0] == before["btc"] - moved["btc"]
    assert engine.perpPosition(bidder, BTC)[0] == moved["btc"]
    assert engine.perpPosition(acct, ETH)[0] == before["eth"] - moved["eth"]
    assert engine.perpPosition(bidder, ETH)[0] == moved["eth"]
    assert vault.collateralBalance(acct, stack.weth) == before["weth"] - moved["weth"]
    assert vault.collateralBalance(bidder, stack.weth) == moved["weth"]
    # INV-6 for the option series too: every long has a short
    n = vault.accountCount()
    for sid in (put_id, call_id):
        assert sum(engine.optionPosition(a, sid) for a in range(1, n + 1)) == 0
    assert_inv6(stack)
    assert_inv1(stack)
