"""Regression tests of the adversarial review's attacks on the engine that need more than one
module's fixtures (issue "Safe to hold money"): a trade-only operator (attack 7) and lowered limits
(attack 8). Each docstring says how the attack went on the old rule; each test shows the exact
error now and that the value stayed put."""

from keel.deploy_engine import model_price
from tests.fixtures.engine import BTC, ETH, option, trade
from tests.fixtures.liquidation import key, set_btc
from tests.support import reverts
from tests.unit.engine.helpers import WAD, breakdown

S = 60_000 * WAD
RIGHT_TRADE = 1


def test_attack_7_trade_only_operator_drains(stack, alice, alice_pm, mallory):
    """Attack 7: alice granted mallory RIGHT_TRADE only. mallory signed two off-market fills
    between alice's account and her own (buy high, sell low) and moved all of alice's equity out
    without a withdraw right. Now an operator's side may not lose equity at model prices beyond
    its fee (SPEC v2 §5 equity rule, INV-9), even inside the band."""
    from keel.deploy_engine import open_account

    stack.vault.setOperator(alice_pm[0], mallory, RIGHT_TRADE, {"from": alice})
    thief = (open_account(stack, mallory, {"USDC": 100_000}), mallory)
    hi = S + S * 2 // 100
    e_alice, e_thief = breakdown(stack, alice_pm[0])["E"], breakdown(stack, thief[0])["E"]
    # mallory signs alice's order (maker) to buy 10 BTC at the top of the band
    operator_taker = (alice_pm[0], mallory)
    maker_fee = S * 10 * 2 // 10_000  # 2 bps of S·|q|
    with reverts(
        "EquityLoss", alice_pm[0], e_alice, e_alice - 10 * (hi - S) - maker_fee, maker_fee
    ):
        trade(stack, (alice_pm[0], mallory), thief, BTC, 10 * WAD, hi)
    # and as the taker of her own order, selling alice's side low
    taker_fee = S * 10 * 5 // 10_000
    lo = S - S * 2 // 100
    with reverts(
        "EquityLoss", alice_pm[0], e_alice, e_alice - 10 * (S - lo) - taker_fee, taker_fee
    ):
        trade(stack, thief, operator_taker, BTC, 10 * WAD, lo)
    assert breakdown(stack, alice_pm[0])["E"] == e_alice
    assert breakdown(stack, thief[0])["E"] == e_thief
    # the operator may still trade for alice at a price that costs her nothing but the fee
    trade(stack, thief, operator_taker, BTC, 10 * WAD, S)
    assert breakdown(stack, alice_pm[0])["E"] == e_alice - taker_fee
    # and alice herself may trade anywhere inside the band (her own decision)
    trade(stack, alice_pm, thief, BTC, 10 * WAD, hi)


def test_attack_11_a_perp_opened_beside_options_keeps_their_equity(
    stack, alice, alice_pm, bob_pm, mallory
):
    """Attack 11's fix, bent the other way: if the "before" state dropped an underlying the
    account held through options when a fill opens its perp (`Before.opened` wrongly true), the
    options' value would leave E_before and the equity rule would let a trade-only operator move
    it out through the price. alice holds a BTC call and no BTC perp; mallory (trade right only)
    commits alice to buy 10 BTC perps at the top of the band from her own account: EquityLoss
    names alice's whole equity, the call included, as the before figure; nothing moves."""
    from keel.deploy_engine import open_account

    call = option(stack, BTC, 62_000 * WAD, 20)
    trade(stack, alice_pm, bob_pm, call, WAD, model_price(stack, call))
    assert stack.engine.perpPosition(alice_pm[0], BTC)[0] == 0
    stack.vault.setOperator(alice_pm[0], mallory, RIGHT_TRADE, {"from": alice})
    thief = (open_account(stack, mallory, {"USDC": 100_000}), mallory)
    e_alice = breakdown(stack, alice_pm[0])["E"]
    hi = S + S * 2 // 100
    maker_fee = S * 10 * 2 // 10_000
    with reverts(
        "EquityLoss", alice_pm[0], e_alice, e_alice - 10 * (hi - S) - maker_fee, maker_fee
    ):
        trade(stack, (alice_pm[0], mallory), thief, BTC, 10 * WAD, hi)
    assert breakdown(stack, alice_pm[0])["E"] == e_alice
    assert stack.engine.perpPosition(alice_pm[0], BTC)[0] == 0


def test_attack_8_lowered_limit_traps_accounts(stack, deployer, alice_pm, bob_pm, carol, mallory):
    """Attack 8: governance lowered maxUnderlyings below what an account held; every bid on it
    then reverted in the bidder's TooManyUnderlyings (INV-3 broken). SPEC v2 §4: limits bind only
    what an account opens by trading; a liquidation transfer is never refused by a limit."""
    from keel.deploy_engine import open_account

    liq = stack.liquidator
    victim = (open_account(stack, carol, {"USDC": 14_000}), carol)
    bidder = (open_account(stack, mallory, {"USDC": 1_000_000}), mallory)
    trade(stack, bob_pm, victim, BTC, -WAD, S)
    trade(stack, bob_pm, victim, ETH, -WAD, 3_000 * WAD)
    trade(stack, bidder, bob_pm, BTC, -WAD // 10, S)  # the bidder already holds BTC
    stack.engine.setParam(key("maxUnderlyings"), 1, {"from": deployer})
    # the victim still holds two underlyings; BTC falls and it goes below MM
    set_btc(stack, 52_000 * WAD)
    b = breakdown(stack, victim[0])
    assert b["AE"] < b["MM"]
    auction = liq.startAuction(victim[0], bidder[0], {"from": mallory}).return_value
    f = liq.maxFraction(victim[0])
    tx = liq.bid(victim[0], auction, bidder[0], f, 2**256 - 1, {"from": mallory})
    assert "SolventBid" in tx.events
    # the bidder now holds ETH too: over the lowered limit, by liquidation only
    assert sorted(stack.engine.accountUnderlyings(bidder[0])) == [BTC, ETH]
    # the victim's remainder still closes (reducing never meets a limit) ...
    trade(stack, bob_pm, victim, ETH, WAD // 2, 3_000 * WAD)
    # ... while the limit still binds what an account opens by trading
    trade(stack, alice_pm, bob_pm, BTC, WAD, 52_000 * WAD)
    with reverts("TooManyUnderlyings", alice_pm[0], 2, 1):
        trade(stack, alice_pm, bob_pm, ETH, WAD, 3_000 * WAD)


def test_limits_count_what_a_liquidation_moved(stack, deployer, alice_pm, bob_pm, carol, mallory):
    """Issue 9 stores an option position as one slot (series, expiry, size) and counts the SPEC §4
    series and expiry limits from the slots. Who gains if the count is bent: an account that grows
    past the limits by trading makes every later check of it, and its liquidation, cost more gas
    (INV-10). A liquidation may take a bidder past the limits (attack 8); what the bidder then
    opens by trading must still count every slot the transfer wrote, with its expiry."""
    from keel.deploy_engine import open_account

    liq = stack.liquidator
    victim = (open_account(stack, carol, {"USDC": 14_000}), carol)
    bidder = (open_account(stack, mallory, {"USDC": 1_000_000}), mallory)
    near, far, own = option(stack, BTC, S, 10), option(stack, BTC, S, 20), option(stack, BTC, S, 30)
    trade(stack, bob_pm, victim, BTC, -WAD, S)
    for inst in (near, far):
        trade(stack, bob_pm, victim, inst, -WAD // 100, model_price(stack, inst))
    trade(stack, bob_pm, bidder, own, -WAD // 100, model_price(stack, own))
    far_expiry = stack.store.series(far - (1 << 128))[1]
    sid = stack.engine.createSeries(BTC, 61_000 * WAD, far_expiry, True, {"from": deployer})
    other = (1 << 128) + sid.return_value  # at the expiry of `far`, which the bidder will hold
    later = option(stack, BTC, S, 40)
    for inst in (other, later):  # the counterparty holds them already: only the bidder opens
        trade(stack, bob_pm, alice_pm, inst, WAD, model_price(stack, inst))
    tx = {"from": deployer}
    stack.engine.setParam(key("maxSeriesPerUnderlying"), 1, tx)
    stack.engine.setParam(key("maxExpiriesPerUnderlying"), 1, tx)
    set_btc(stack, 52_000 * WAD)
    auction = liq.startAuction(victim[0], bidder[0], {"from": mallory}).return_value
    f = liq.maxFraction(victim[0])
    liq.bid(victim[0], auction, bidder[0], f, 2**256 - 1, {"from": mallory})
    held = sorted(stack.engine.accountSeries(bidder[0], BTC))
    assert held == sorted(i - (1 << 128) for i in (near, far, own))  # 3 series, 3 expiries
    # more of a held series: no new slot, no limit
    trade(stack, bob_pm, bidder, near, -WAD // 100, model_price(stack, near))
    # a new series: counted with the three slots the bidder holds
    with reverts("TooManySeries", bidder[0], BTC, 4, 1):
        trade(stack, bob_pm, bidder, other, -WAD // 100, model_price(stack, other))
    # with room for series: an expiry the transfer brought is held (no expiry limit although the
    # bidder holds three of at most one), a new expiry is the fourth
    stack.engine.setParam(key("maxSeriesPerUnderlying"), 16, tx)
    trade(stack, bob_pm, bidder, other, -WAD // 100, model_price(stack, other))
    with reverts("TooManyExpiries", bidder[0], BTC, 4, 1):
        trade(stack, bob_pm, bidder, later, -WAD // 100, model_price(stack, later))


def test_pause_stops_new_risk_only(stack, deployer, alice_pm, bob_pm, carol):
    """SPEC v2 §8b: the guardian pauses new risk at once: no series, no IM-raising fill; a
    reducing fill still goes through."""
    stack.engine.setGuardian(carol, {"from": deployer})
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    im = breakdown(stack, alice_pm[0])["IM"]
    stack.engine.setPaused(True, {"from": carol})
    with reverts("NewRiskPaused", alice_pm[0], im, 2 * im):
        trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    expiry = stack.oracle.feed(BTC)[2] + 86_400
    with reverts("Paused"):
        stack.engine.createSeries(BTC, S, expiry, True, {"from": deployer})
    trade(stack, alice_pm, bob_pm, BTC, -WAD // 2, S)
    assert stack.engine.perpPosition(alice_pm[0], BTC)[0] == WAD // 2
    stack.engine.setPaused(False, {"from": carol})
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
