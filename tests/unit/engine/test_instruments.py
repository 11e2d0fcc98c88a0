"""Instruments (SPEC §4): series creation, funding, PnL realisation, expiry settlement, INV-6."""

import brownie

from keel.deploy_engine import push_prices
from tests.fixtures.engine import BTC, ETH, create_series, fresh, option, sleep, trade
from tests.support import reverts
from tests.unit.engine.helpers import WAD, ints

S = 60_000 * WAD
YEAR2 = 2 * 365 * 86_400
CAP_PER_S = 5 * 10**14 // 3600  # 0.05%/h as the contract divides it [wad/s]
N0 = 100_000 * WAD  # markReferenceNotional [wad USD]


def test_governance_creates_series_and_registers_expiry(stack, deployer):
    expiry = stack.oracle.feed(BTC)[2] + 86_400
    sid = create_series(stack, BTC, 1 * WAD, expiry, False)  # any strike for governance
    assert [int(x) for x in stack.store.series(sid)] == [BTC, expiry, 0, WAD]
    assert expiry in stack.oracle.pendingExpiries(BTC)
    with reverts("SeriesExists", sid):
        create_series(stack, BTC, 1 * WAD, expiry, False)


def scheduled_expiry(stack, days=1):
    """The first 08:00 UTC (the listers' expiry time) at least `days` after the last round."""
    t = stack.oracle.feed(BTC)[2] + days * 86_400
    return t - t % 86_400 + 8 * 3_600 + (86_400 if t % 86_400 > 8 * 3_600 else 0)


def test_attack_5_listing_slots_exhausted(stack, mallory):
    """Attack 5: anyone listed far-dated series (~6M gas) until the feed's 32 pending-expiry slots
    were full, after which nobody, governance included, could list an expiry. SPEC v2 §4: only
    governance or a lister lists; a stranger's createSeries reverts and takes no slot."""
    expiry = scheduled_expiry(stack, 700)
    pending = list(stack.oracle.pendingExpiries(BTC))
    count = stack.store.seriesCount()
    with reverts("NotLister", mallory.address):
        stack.engine.createSeries(BTC, 60_000 * WAD, expiry, True, {"from": mallory})
    assert list(stack.oracle.pendingExpiries(BTC)) == pending
    assert stack.store.seriesCount() == count


def test_lister_series_on_schedule_within_bounds(stack, deployer, carol):
    stack.engine.setLister(carol, True, {"from": deployer})
    expiry = scheduled_expiry(stack)
    tx = stack.engine.createSeries(BTC, 70_000 * WAD, expiry, True, {"from": carol})
    assert stack.store.series(tx.return_value)[3] == 70_000 * WAD
    with reverts("InvalidStrike", 200_000 * WAD, 20_000 * WAD, 180_000 * WAD):
        stack.engine.createSeries(BTC, 200_000 * WAD, expiry, True, {"from": carol})
    # the schedule: 08:00 UTC exactly; a second later is off it
    latest = stack.oracle.feed(BTC)[2]  # block times sit a few seconds past this
    with brownie.reverts(revert_pattern=rf"InvalidExpiry: {expiry + 1}, \d+, \d+"):
        stack.engine.createSeries(BTC, 71_000 * WAD, expiry + 1, True, {"from": carol})
    assert latest > 0
    # the horizon: the last scheduled expiry within 2 years lists, the next one does not
    stack.engine.setLister(carol, False, {"from": deployer})
    with reverts("NotLister", carol.address):
        stack.engine.createSeries(BTC, 71_000 * WAD, expiry, True, {"from": carol})


def test_lister_horizon(stack, deployer, carol):
    stack.engine.setLister(carol, True, {"from": deployer})
    stack.engine.setParam(b"maxHorizon".ljust(32, b"\0"), 10 * 86_400, {"from": deployer})
    inside = scheduled_expiry(stack, 9)
    outside = inside + 2 * 86_400
    stack.engine.createSeries(BTC, 60_000 * WAD, inside, True, {"from": carol})
    with brownie.reverts(revert_pattern=rf"InvalidExpiry: {outside}, \d+, \d+"):
        stack.engine.createSeries(BTC, 60_000 * WAD, outside, True, {"from": carol})


def test_series_expiry_bounds(stack, deployer):
    with brownie.reverts(revert_pattern=r"InvalidExpiry: 5, \d+, \d+"):
        create_series(stack, BTC, S, 5, True)
    far = stack.oracle.feed(BTC)[2] + YEAR2 + 3_600
    with brownie.reverts(revert_pattern=rf"InvalidExpiry: {far}, \d+, \d+"):
        create_series(stack, BTC, S, far, True)


def test_series_needs_listed_underlying(stack, deployer):
    with reverts("UnknownInstrument", 9):
        create_series(stack, 9, S, stack.oracle.feed(BTC)[2] + 86_400, True)


def expected_index(idx0, mark, spot, dt):
    premium = (mark - spot) * WAD // spot if mark >= spot else -((spot - mark) * WAD // spot)
    rate = int(premium / 28_800) if premium >= 0 else -((-premium) // 28_800)
    rate = max(-CAP_PER_S, min(CAP_PER_S, rate))
    prod = rate * dt * spot
    return idx0 + (prod // WAD if prod >= 0 else -((-prod) // WAD))


def first_mark(price, spot, notional, reference=N0):
    """SPEC v2 §4: the first fill pulls the mark from the spot by n/(n + N₀)."""
    weight = notional * WAD // (notional + reference)
    return spot + (price - spot) * WAD // WAD * weight // WAD


def test_funding_accrues_and_realises_exactly(stack, alice_pm, bob_pm):
    """Mark above spot: longs pay. realisePnl (owner) moves q(S − entry) − funding into cash."""
    t0 = trade(stack, alice_pm, bob_pm, BTC, WAD, 61_000 * WAD).timestamp
    mark = first_mark(61_000 * WAD, S, S)  # 60,375: a $60k fill against N₀ = $100k
    assert stack.engine.perpMarkets(BTC)[3] == mark == 60_375 * WAD
    cash0 = stack.vault.cashOf(alice_pm[0])
    sleep(1_800)
    fresh(stack)
    tx = stack.engine.realisePnl(alice_pm[0], BTC, {"from": alice_pm[1]})
    idx = expected_index(0, mark, S, tx.timestamp - t0)
    assert idx == CAP_PER_S * (tx.timestamp - t0) * 60_000  # capped at 0.05%/h
    assert stack.engine.fundingIndex(BTC) == idx
    pnl = 60_000 * WAD - 61_000 * WAD
    assert stack.vault.cashOf(alice_pm[0]) == cash0 + pnl - idx
    assert ints(stack.engine.perpPosition(alice_pm[0], BTC)) == (WAD, S, idx)
    ev = tx.events["PnlRealised"]
    assert (ev["pnl"], ev["funding"], ev["price"]) == (pnl, idx, S)


def test_mark_is_ema_with_ten_minute_half_life(stack, alice_pm, bob_pm):
    """One half-life after a fill at spot, a fill $1,000 above pulls the mark by ½ · n/(n + N₀)."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, 60_000 * WAD)
    assert stack.engine.perpMarkets(BTC)[3] == S
    t0 = stack.engine.perpMarkets(BTC)[2]
    sleep(599)
    tx = trade(stack, alice_pm, bob_pm, BTC, 10 * WAD, 61_000 * WAD)
    alpha = 1 - 2 ** (-(tx.timestamp - t0) / 600)
    weight = 600_000 / (600_000 + 100_000)
    assert abs(stack.engine.perpMarkets(BTC)[3] / WAD - (60_000 + 1_000 * alpha * weight)) < 1e-6


def test_attack_6_dust_fill_steers_funding(stack, alice_pm, bob_pm):
    """Attack 6: the mark weighted fills by time only and fills had no band, so a 1-wei fill at
    100× spot pinned funding at its cap. Now the fill is outside the band, and a dust fill inside
    the band moves the mark by nothing (its weight n/(n + N₀) rounds to zero)."""
    hi = S * 102 // 100
    with reverts("PriceOutsideBand", BTC, 100 * S, S - S * 2 // 100, hi):
        trade(stack, alice_pm, bob_pm, BTC, 1, 100 * S)
    with reverts("PriceOutsideBand", BTC, hi + 1, S - S * 2 // 100, hi):
        trade(stack, alice_pm, bob_pm, BTC, 1, hi + 1)
    assert stack.engine.perpMarkets(BTC)[3] == 0
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)  # mark = spot
    sleep(3_000)
    fresh(stack)
    t_before = stack.engine.perpMarkets(BTC)[2]
    trade(stack, alice_pm, bob_pm, BTC, 1, hi)  # just inside the band, 1 wei
    market = stack.engine.perpMarkets(BTC)
    assert market[3] == S  # the mark did not move
    assert market[2] == t_before  # nor did its clock: dust cannot freeze the mark either


def test_attack_9_third_party_realisation(stack, alice_pm, bob_pm, mallory):
    """Attack 9: anyone could realise a victim's PnL into cash, which takes the cash haircut and
    pushed a healthy account below MM. INV-8: only the owner or a trade operator may realise."""
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    fresh(stack, {BTC: (61_000 * WAD, 6 * WAD // 10)})
    before = (stack.vault.cashOf(alice_pm[0]), tuple(stack.engine.perpPosition(alice_pm[0], BTC)))
    with reverts("NotAccountAuthorised", alice_pm[0], mallory.address):
        stack.engine.realisePnl(alice_pm[0], BTC, {"from": mallory})
    assert (
        stack.vault.cashOf(alice_pm[0]),
        tuple(stack.engine.perpPosition(alice_pm[0], BTC)),
    ) == before
    stack.vault.setOperator(alice_pm[0], mallory, 1, {"from": alice_pm[1]})  # RIGHT_TRADE
    stack.engine.realisePnl(alice_pm[0], BTC, {"from": mallory})
    assert stack.vault.cashOf(alice_pm[0]) == before[0] + 1_000 * WAD


def test_realise_without_position_reverts(stack, alice_pm):
    with reverts("NoPosition", alice_pm[0], BTC):
        stack.engine.realisePnl(alice_pm[0], BTC, {"from": alice_pm[1]})


def test_settlement_at_fixed_price(stack, alice_pm, bob_pm, mallory):
    """After expiry the oracle fixes the price; settle pays q·payoff and removes the position."""
    call = option(stack, BTC, 58_000 * WAD, 1 / 24)
    sid = call - (1 << 128)
    expiry = stack.store.series(sid)[1]
    trade(stack, alice_pm, bob_pm, call, 3 * WAD, 2_500 * WAD)
    with reverts("SettlementPriceNotFixed", sid, expiry):
        stack.engine.settle(alice_pm[0], sid, {"from": mallory})
    sleep(3_700)
    push_prices(stack, {BTC: (61_000 * WAD, 6 * WAD // 10), ETH: (3_000 * WAD, 75 * WAD // 100)})
    assert stack.oracle.settlementPrice(BTC, expiry) == 61_000 * WAD
    ca, cb = stack.vault.cashOf(alice_pm[0]), stack.vault.cashOf(bob_pm[0])
    stack.engine.settle(alice_pm[0], sid, {"from": mallory})
    stack.engine.settle(bob_pm[0], sid, {"from": mallory})
    assert stack.vault.cashOf(alice_pm[0]) == ca + 9_000 * WAD
    assert stack.vault.cashOf(bob_pm[0]) == cb - 9_000 * WAD
    assert stack.engine.optionPosition(alice_pm[0], sid) == 0
    assert stack.engine.accountUnderlyings(alice_pm[0]) == []
    with reverts("NoPosition", alice_pm[0], call):
        stack.engine.settle(alice_pm[0], sid)


def test_expired_fixed_option_valued_at_payoff(stack, alice_pm, bob_pm):
    """DESIGN: once fixed, an expired option is worth its payoff with no scenario risk."""
    put = option(stack, BTC, 62_000 * WAD, 1 / 24, is_call=False)
    trade(stack, alice_pm, bob_pm, put, 2 * WAD, 2_500 * WAD)
    sleep(3_700)
    fresh(stack, {BTC: (59_000 * WAD, 6 * WAD // 10)})
    b = stack.engine.marginBreakdown(alice_pm[0])
    assert b[0] == stack.vault.cashOf(alice_pm[0]) + 2 * 3_000 * WAD
    assert b[8][0][2] == 0  # L_BTC = 0
    assert stack.engine.marginBreakdown(bob_pm[0])[5] == 0  # the short leaves SOM once settled


def test_inv6_positions_sum_to_zero(stack, alice_pm, bob_pm, carol, carol_pm):
    """INV-6: every fill is between two accounts: Σ positions = 0 per perp and per series."""
    from keel.deploy_engine import deposit

    deposit(stack, carol_pm[0], carol, "USDC", 500_000)
    call = option(stack, BTC, 63_000 * WAD, 14)
    sid = call - (1 << 128)
    accts = [alice_pm, bob_pm, carol_pm]
    moves = [(0, 1, BTC, 3), (1, 2, BTC, -2), (2, 0, call, 5), (0, 1, call, -7), (1, 2, ETH, 4)]
    for m, t, inst, q in moves:
        px = 1_500 * WAD if inst == call else (S if inst == BTC else 3_000 * WAD)
        trade(stack, accts[m], accts[t], inst, q * WAD, px)
        ids = [a[0] for a in accts]
        assert sum(stack.engine.perpPosition(i, BTC)[0] for i in ids) == 0
        assert sum(stack.engine.perpPosition(i, ETH)[0] for i in ids) == 0
        assert sum(stack.engine.optionPosition(i, sid) for i in ids) == 0
