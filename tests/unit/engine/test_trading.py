"""Fills (SPEC §5): premium, fees, position limits, open-interest caps, the post-trade margin rule
(INV-2), the circuit breaker's reduce-only mode and stale prices."""

import brownie
import pytest

from keel.deploy_engine import model_price
from tests.fixtures.engine import BTC, ETH, fresh, option, sleep, trade
from tests.support import reverts
from tests.unit.engine.helpers import WAD, breakdown, ints

S = 60_000 * WAD


def key(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


def test_perp_fill_fees_exact(stack, alice_pm, bob_pm):
    """Maker 2 bps, taker 5 bps of S·|q|, to the insurance fund."""
    fund0 = stack.vault.insuranceFund()
    tx = trade(stack, alice_pm, bob_pm, BTC, 2 * WAD, S)
    assert ints(tx.return_value) == (24 * WAD, 60 * WAD)
    assert stack.vault.cashOf(alice_pm[0]) == 1_000_000 * WAD - 24 * WAD
    assert stack.vault.cashOf(bob_pm[0]) == 1_000_000 * WAD - 60 * WAD
    assert stack.vault.insuranceFund() == fund0 + 84 * WAD
    assert ints(stack.engine.perpPosition(alice_pm[0], BTC)) == (2 * WAD, S, 0)
    assert stack.engine.perpPosition(bob_pm[0], BTC)[0] == -2 * WAD


def test_option_premium_and_capped_fee(stack, alice_pm, bob_pm):
    """Premium moves buyer → seller; option fees are min(bps of S·|q|, 12.5% of premium)."""
    call = option(stack, BTC, 90_000 * WAD, 30)
    premium = 10 * WAD  # $10 per BTC: 12.5% of premium ($2.5 for 2 BTC) < 2 bps of $120k
    tx = trade(stack, alice_pm, bob_pm, call, 2 * WAD, premium)
    assert ints(tx.return_value) == (25 * WAD // 10, 25 * WAD // 10)
    assert stack.vault.cashOf(alice_pm[0]) == 1_000_000 * WAD - 20 * WAD - 25 * WAD // 10
    assert stack.vault.cashOf(bob_pm[0]) == 1_000_000 * WAD + 20 * WAD - 25 * WAD // 10
    sid = call - (1 << 128)
    assert stack.engine.optionPosition(alice_pm[0], sid) == 2 * WAD
    assert stack.engine.optionPosition(bob_pm[0], sid) == -2 * WAD


def test_option_fee_bps_when_below_cap(stack, alice_pm, bob_pm):
    call = option(stack, BTC, 60_000 * WAD, 30)
    tx = trade(stack, alice_pm, bob_pm, call, WAD, 4_000 * WAD)
    assert ints(tx.return_value) == (12 * WAD, 30 * WAD)


def test_fill_below_initial_margin_reverts(stack, carol, carol_pm, bob_pm):
    """INV-2: $1000 cannot carry 10 BTC long: BelowInitialMargin(account, AE, IM) after the fill."""
    from keel.deploy_engine import deposit

    deposit(stack, carol_pm[0], carol, "USDC", 1_000)
    cash = 1_000 * WAD - 300 * WAD  # after the 5 bps taker fee on $600k
    with reverts("BelowInitialMargin", carol_pm[0], cash - cash // 100, 96_000 * WAD):
        trade(stack, bob_pm, carol_pm, BTC, -10 * WAD, S)


def test_risk_reducing_fill_allowed_below_im(stack, carol, carol_pm, bob_pm):
    """Below IM after a price move, closing half the position is allowed (IM and shortfall fall)."""
    from keel.deploy_engine import deposit

    deposit(stack, carol_pm[0], carol, "USDC", 12_000)
    trade(stack, bob_pm, carol_pm, BTC, -WAD, S)
    fresh(stack, {BTC: (57_000 * WAD, 6 * WAD // 10)})
    b = breakdown(stack, carol_pm[0])
    assert b["AE"] < b["IM"]
    trade(stack, bob_pm, carol_pm, BTC, WAD // 2, 57_000 * WAD)
    after = breakdown(stack, carol_pm[0])
    assert after["IM"] < b["IM"] and after["IM"] - after["AE"] <= b["IM"] - b["AE"]


def _short_at(stack, carol, carol_pm, bob_pm, spot):
    """carol: $12k and short 1 BTC from bob at $60k; BTC then at `spot`: below IM. Funding off,
    so that E does not drift between the view and the transaction."""
    from keel.deploy_engine import deposit

    stack.engine.setParam(key("fundingCapPerHour"), 0, {"from": stack.deployer})
    deposit(stack, carol_pm[0], carol, "USDC", 12_000)
    trade(stack, bob_pm, carol_pm, BTC, WAD, S)
    fresh(stack, {BTC: (spot, 6 * WAD // 10)})
    b = breakdown(stack, carol_pm[0])
    assert b["AE"] < b["IM"]
    return b


def _balances(stack, *accounts):
    return [(stack.vault.cashOf(a), tuple(stack.engine.perpPosition(a, BTC))) for a in accounts]


def _taker_fee(spot):
    return (spot * 5 // 10_000 * WAD + WAD - 1) // WAD  # 5 bps of S·|q| (q = 1), rounded up


def test_attack_1_off_market_close_below_im(stack, carol, carol_pm, bob_pm):
    """Attack 1: an account below IM closed against a friendly account at a price far from the
    oracle; the old rule accepted it (IM fell, shortfall IM − AE did not rise) and the friend
    withdrew the difference, leaving bad debt to the insurance fund. Now the fill is outside the
    band (SPEC v2 §5), and a close just inside the band that leaves carol below IM with less
    equity fails the equity rule (INV-9). Nothing moves either time."""
    spot = 71_000 * WAD
    b = _short_at(stack, carol, carol_pm, bob_pm, spot)
    e0, fee = b["E"], _taker_fee(spot)
    assert 0 < e0 < spot * 2 // 100  # the band's edge would take more than carol has
    lo, hi = spot - spot * 2 // 100, spot + spot * 2 // 100
    before = _balances(stack, carol_pm[0], bob_pm[0])
    # carol buys her short back from bob at 1.5 S: far outside the band
    with reverts("PriceOutsideBand", BTC, spot * 3 // 2, lo, hi):
        trade(stack, bob_pm, carol_pm, BTC, -WAD, spot * 3 // 2)
    with reverts("PriceOutsideBand", BTC, hi + 1, lo, hi):
        trade(stack, bob_pm, carol_pm, BTC, -WAD, hi + 1)
    # at the band's edge carol would end below IM (E < 0) having lost q·(p − S) to bob
    with reverts("EquityLoss", carol_pm[0], e0, e0 - (hi - spot) - fee, fee):
        trade(stack, bob_pm, carol_pm, BTC, -WAD, hi)
    assert _balances(stack, carol_pm[0], bob_pm[0]) == before
    # at the oracle price the close goes through and carol keeps her equity less the fee
    trade(stack, bob_pm, carol_pm, BTC, -WAD, spot)
    assert stack.engine.perpPosition(carol_pm[0], BTC)[0] == 0
    assert breakdown(stack, carol_pm[0])["E"] == e0 - fee


def test_attack_3_full_close_keeps_closed_underlying(stack, carol, carol_pm, bob_pm):
    """Attack 3: the "before" state was built after the fill pruned the closed underlying, so
    a genuine full close of an under-water account reverted BelowInitialMargin (its before state
    lost the position's IM and value), and the same blindness let a below-IM account give its
    unrealised profit away. Now the before state values the closed underlying: the full close at
    the oracle price passes; one a dollar worse for carol fails the equity rule."""
    spot = 73_000 * WAD
    b = _short_at(stack, carol, carol_pm, bob_pm, spot)
    e0, fee = b["E"], _taker_fee(spot)
    assert e0 < 0
    before = _balances(stack, carol_pm[0], bob_pm[0])
    with reverts("EquityLoss", carol_pm[0], e0, e0 - WAD - fee, fee):
        trade(stack, bob_pm, carol_pm, BTC, -WAD, spot + WAD)
    assert _balances(stack, carol_pm[0], bob_pm[0]) == before
    # the genuine full close at the oracle price (IM → 0) passes
    trade(stack, bob_pm, carol_pm, BTC, -WAD, spot)
    assert stack.engine.accountUnderlyings(carol_pm[0]) == []
    assert breakdown(stack, carol_pm[0])["E"] == e0 - fee


def test_risk_increasing_fill_below_im_reverts(stack, carol, carol_pm, bob_pm):
    from keel.deploy_engine import deposit

    deposit(stack, carol_pm[0], carol, "USDC", 12_000)
    trade(stack, bob_pm, carol_pm, BTC, -WAD, S)
    fresh(stack, {BTC: (57_000 * WAD, 6 * WAD // 10)})
    with brownie.reverts(revert_pattern=rf"BelowInitialMargin: {carol_pm[0]}, -?\d+, \d+"):
        trade(stack, bob_pm, carol_pm, BTC, -WAD // 10, 57_000 * WAD)


def test_reduce_only_blocks_new_risk(stack, alice_pm, bob_pm):
    """Circuit breaker: after a > 20% jump, fills on that underlying must not raise IM."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    fresh(stack, {BTC: (75_000 * WAD, 6 * WAD // 10)})
    assert stack.oracle.isReduceOnly(BTC)
    im = breakdown(stack, alice_pm[0])["IM"]
    new_im = im * 2  # q doubles at the same S and R
    with reverts("ReduceOnly", alice_pm[0], BTC, im, new_im):
        trade(stack, alice_pm, bob_pm, BTC, WAD, 75_000 * WAD)
    trade(stack, alice_pm, bob_pm, BTC, -WAD // 2, 75_000 * WAD)  # reducing is fine
    assert stack.engine.perpPosition(alice_pm[0], BTC)[0] == WAD // 2


def test_stale_price_reverts_fill(stack, alice_pm, bob_pm):
    sleep(3_601)
    obs = stack.oracle.feed(BTC)[2]
    with brownie.reverts(revert_pattern=rf"StalePrice: {BTC}, {obs}, \d+"):
        trade(stack, alice_pm, bob_pm, BTC, WAD, S)


def test_stale_other_feed_reverts_fill(stack, alice_pm, bob_pm):
    """A needed feed (ETH, of an existing position) is stale while BTC is fresh."""
    trade(stack, alice_pm, bob_pm, ETH, WAD, 3_000 * WAD)
    sleep(3_601)
    from keel.deploy_engine import push_prices

    push_prices(stack, {BTC: (S, 6 * WAD // 10)})
    obs = stack.oracle.feed(ETH)[2]
    with brownie.reverts(revert_pattern=rf"StalePrice: {ETH}, {obs}, \d+"):
        trade(stack, alice_pm, bob_pm, BTC, WAD, S)


def test_unknown_instrument_reverts(stack, alice_pm, bob_pm):
    with reverts("UnknownInstrument", 7):
        trade(stack, alice_pm, bob_pm, 7, WAD, S)
    with reverts("UnknownInstrument", (1 << 128) + 99):
        trade(stack, alice_pm, bob_pm, (1 << 128) + 99, WAD, S)


def test_expired_series_cannot_trade(stack, alice_pm, bob_pm):
    call = option(stack, BTC, S, 1 / 24)
    sid = call - (1 << 128)
    expiry = stack.store.series(sid)[1]
    sleep(3_700)
    fresh(stack)
    with brownie.reverts(revert_pattern=rf"SeriesExpired: {sid}, {expiry}, \d+"):
        trade(stack, alice_pm, bob_pm, call, WAD, 100 * WAD)


def test_too_many_series(stack, alice_pm, bob_pm, deployer):
    stack.engine.setParam(key("maxSeriesPerUnderlying"), 2, {"from": deployer})
    for k in (60_000, 61_000):
        inst = option(stack, BTC, k * WAD, 30)
        trade(stack, alice_pm, bob_pm, inst, WAD, model_price(stack, inst))
    third = option(stack, BTC, 62_000 * WAD, 30)
    with reverts("TooManySeries", alice_pm[0], BTC, 3, 2):
        trade(stack, alice_pm, bob_pm, third, WAD, model_price(stack, third))


def test_too_many_expiries(stack, alice_pm, bob_pm, deployer):
    stack.engine.setParam(key("maxExpiriesPerUnderlying"), 1, {"from": deployer})
    for inst in (option(stack, BTC, S, 30), option(stack, BTC, S, 30, False)):
        trade(stack, alice_pm, bob_pm, inst, WAD, model_price(stack, inst))
    later = option(stack, BTC, S, 60)
    with reverts("TooManyExpiries", alice_pm[0], BTC, 2, 1):
        trade(stack, alice_pm, bob_pm, later, WAD, model_price(stack, later))


def test_too_many_underlyings(stack, alice_pm, bob_pm, deployer):
    stack.engine.setParam(key("maxUnderlyings"), 1, {"from": deployer})
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    with reverts("TooManyUnderlyings", alice_pm[0], 2, 1):
        trade(stack, alice_pm, bob_pm, ETH, WAD, 3_000 * WAD)


def test_closing_frees_limit_slots(stack, alice_pm, bob_pm, deployer):
    stack.engine.setParam(key("maxUnderlyings"), 1, {"from": deployer})
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    trade(stack, alice_pm, bob_pm, BTC, -WAD, S)
    assert stack.engine.accountUnderlyings(alice_pm[0]) == []
    trade(stack, alice_pm, bob_pm, ETH, WAD, 3_000 * WAD)


def test_open_interest_cap(stack, alice_pm, bob_pm, deployer):
    stack.engine.setOpenInterestCap(BTC, WAD, {"from": deployer})
    with reverts("OpenInterestCapExceeded", BTC, 2 * WAD, WAD):
        trade(stack, alice_pm, bob_pm, BTC, 2 * WAD, S)
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    assert ints(stack.engine.openInterest(BTC)) == (WAD, WAD)


@pytest.mark.parametrize(
    "name,value,lo,hi",
    [("somRate", 2 * WAD // 10 + 1, 0, 2 * WAD // 10), ("maxUnderlyings", 5, 1, 4)],
)
def test_param_bounds(stack, deployer, name, value, lo, hi):
    with brownie.reverts(f"ParamOutOfBounds: {key(name)}, {value}, {lo}, {hi}"):
        stack.engine.setParam(key(name), value, {"from": deployer})


def test_v1_correlation_credit_is_gone(stack, deployer):
    """SPEC v2 §6: the correlation feed replaces v1's fixed credit c, so no parameter sets it."""
    with brownie.reverts(f"UnknownParam: {key('correlationCredit')}"):
        stack.engine.setParam(key("correlationCredit"), 0, {"from": deployer})


def test_params_governance_only(stack, mallory):
    """INV-7: only governance changes parameters."""
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.setParam(key("somRate"), 0, {"from": mallory})


def test_governance_functions_are_owner_only(stack, mallory):
    """INV-7: listing, caps, wiring and ownership belong to governance."""
    tx = {"from": mallory}
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.listPerp(9, WAD, tx)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.setOpenInterestCap(BTC, 0, tx)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.setExchange(mallory, tx)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.transferOwnership(mallory, tx)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.setStore(mallory, tx)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.setGuardian(mallory, tx)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        stack.engine.setLister(mallory, True, tx)
    with reverts("NotGuardian", mallory.address):
        stack.engine.setPaused(True, tx)


def test_option_band_edges(stack, alice_pm, bob_pm):
    """INV-9 (SPEC v2 §5): an option fills only within |p − V| ≤ 0.5%·S + 10%·V of its model
    value V at the fresh feed; one wei past either edge reverts PriceOutsideBand."""
    from keel.deploy_engine import model_price

    inst = option(stack, BTC, 62_000 * WAD, 30)
    v = model_price(stack, inst)
    width = S * 5 // 1_000 + v * 10 // 100
    lo, hi = v - width, v + width
    with reverts("PriceOutsideBand", inst, hi + 1, lo, hi):
        trade(stack, alice_pm, bob_pm, inst, WAD, hi + 1)
    with reverts("PriceOutsideBand", inst, lo - 1, lo, hi):
        trade(stack, alice_pm, bob_pm, inst, WAD, lo - 1)
    trade(stack, alice_pm, bob_pm, inst, WAD, hi)
    trade(stack, alice_pm, bob_pm, inst, -WAD, lo)
    assert stack.engine.optionPosition(alice_pm[0], inst - (1 << 128)) == 0


def test_perp_band_lower_edge(stack, alice_pm, bob_pm):
    lo, hi = S - S * 2 // 100, S + S * 2 // 100
    with reverts("PriceOutsideBand", BTC, lo - 1, lo, hi):
        trade(stack, alice_pm, bob_pm, BTC, WAD, lo - 1)
    trade(stack, alice_pm, bob_pm, BTC, WAD, lo)
    assert stack.engine.perpPosition(alice_pm[0], BTC)[0] == WAD


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@pytest.mark.parametrize("kind", ["option", "capped option", "perp"])
def test_premium_and_fees_round_against_the_payer_to_the_wei(stack, alice_pm, bob_pm, kind):
    """Every amount of a fill that cannot be exact rounds against whoever pays it, checked with
    exact integer arithmetic here (not the engine's):
    - premium ⌈price·|q|⌉ against the buyer, and the seller receives exactly what the buyer pays;
    - notional ⌊S·|q|⌋, each fee ⌈rate·notional⌉ against its payer, an option's fee at most
      ⌊12.5%·premium⌋ (the cap is a promise to the payer, so it never rounds above 12.5%);
    - the insurance fund receives exactly the two fees.
    The spot, the size and the price are a few wei off round numbers so that every division has a
    remainder (asserted, so that the test cannot pass by exact arithmetic)."""
    spot = 60_000 * WAD + 3  # [wad USD]
    fresh(stack, {BTC: (spot, stack.oracle.feed(BTC)[1])})
    q = 3 * WAD + 7  # [wad BTC] bought by alice (maker) from bob (taker)
    if kind == "option":  # the bps fees are below the cap
        instrument = option(stack, BTC, 60_000 * WAD, 30)
        price = 4_000 * WAD + 1  # [wad USD per BTC]
    elif kind == "capped option":  # a far call: 12.5% of its premium is below the bps fees
        instrument = option(stack, BTC, 90_000 * WAD, 30)
        price = 10 * WAD + 1
    else:
        instrument, price = BTC, spot
    maker_rate, taker_rate = stack.engine.makerFeeRate(), stack.engine.takerFeeRate()  # [wad]
    cap_rate = stack.engine.optionFeeCap()  # [wad] of the premium
    cash0 = stack.vault.cashOf(alice_pm[0]), stack.vault.cashOf(bob_pm[0])
    fund0 = stack.vault.insuranceFund()

    tx = trade(stack, alice_pm, bob_pm, instrument, q, price)

    notional = spot * q // WAD
    assert spot * q % WAD and notional * maker_rate % WAD and notional * taker_rate % WAD
    maker_fee = _ceil_div(notional * maker_rate, WAD)
    taker_fee = _ceil_div(notional * taker_rate, WAD)
    premium = 0
    if kind != "perp":
        assert price * q % WAD
        premium = _ceil_div(price * q, WAD)
        cap = premium * cap_rate // WAD
        assert (cap < maker_fee) == (kind == "capped option") and premium * cap_rate % WAD
        maker_fee, taker_fee = min(maker_fee, cap), min(taker_fee, cap)
    assert ints(tx.return_value) == (maker_fee, taker_fee)
    cash = stack.vault.cashOf(alice_pm[0]), stack.vault.cashOf(bob_pm[0])
    assert cash[0] == cash0[0] - premium - maker_fee
    assert cash[1] == cash0[1] + premium - taker_fee
    assert stack.vault.insuranceFund() == fund0 + maker_fee + taker_fee
