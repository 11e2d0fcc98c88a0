"""Instruments (SPEC §4): series creation, funding, PnL realisation, expiry settlement, INV-6."""

import brownie

from keel.deploy_engine import push_prices
from tests.fixtures.engine import BTC, ETH, create_series, fresh, option, sleep, trade
from tests.support import reverts
from tests.unit.engine.helpers import WAD, ints

S = 60_000 * WAD
YEAR2 = 2 * 365 * 86_400
CAP_PER_S = 5 * 10**14 // 3600  # 0.05%/h as the contract divides it [wad/s]


def test_governance_creates_series_and_registers_expiry(stack, deployer):
    expiry = stack.oracle.feed(BTC)[2] + 86_400
    sid = create_series(stack, BTC, 1 * WAD, expiry, False)  # any strike for governance
    assert [int(x) for x in stack.store.series(sid)] == [BTC, expiry, 0, WAD]
    assert expiry in stack.oracle.pendingExpiries(BTC)
    with reverts("SeriesExists", sid):
        create_series(stack, BTC, 1 * WAD, expiry, False)


def test_permissionless_series_within_bounds(stack, mallory):
    expiry = stack.oracle.feed(BTC)[2] + 86_400
    tx = stack.engine.createSeries(BTC, 70_000 * WAD, expiry, True, {"from": mallory})
    assert stack.store.series(tx.return_value)[3] == 70_000 * WAD
    with reverts("InvalidStrike", 200_000 * WAD, 20_000 * WAD, 180_000 * WAD):
        stack.engine.createSeries(BTC, 200_000 * WAD, expiry, True, {"from": mallory})


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


def test_funding_accrues_and_realises_exactly(stack, alice_pm, bob_pm, mallory):
    """Mark above spot: longs pay. realisePnl (anyone) moves q(S − entry) − funding into cash."""
    t0 = trade(stack, alice_pm, bob_pm, BTC, WAD, 61_000 * WAD).timestamp  # mark = 61,000
    assert stack.engine.perpMarkets(BTC)[3] == 61_000 * WAD
    cash0 = stack.vault.cashOf(alice_pm[0])
    sleep(1_800)
    fresh(stack)
    tx = stack.engine.realisePnl(alice_pm[0], BTC, {"from": mallory})
    idx = expected_index(0, 61_000 * WAD, S, tx.timestamp - t0)
    assert idx == CAP_PER_S * (tx.timestamp - t0) * 60_000  # capped at 0.05%/h
    assert stack.engine.fundingIndex(BTC) == idx
    pnl = 60_000 * WAD - 61_000 * WAD
    assert stack.vault.cashOf(alice_pm[0]) == cash0 + pnl - idx
    assert ints(stack.engine.perpPosition(alice_pm[0], BTC)) == (WAD, S, idx)
    ev = tx.events["PnlRealised"]
    assert (ev["pnl"], ev["funding"], ev["price"]) == (pnl, idx, S)


def test_mark_is_ema_with_ten_minute_half_life(stack, alice_pm, bob_pm):
    trade(stack, alice_pm, bob_pm, BTC, WAD, 60_000 * WAD)
    sleep(599)
    trade(stack, alice_pm, bob_pm, BTC, WAD, 62_000 * WAD)
    # one half-life later the mark is halfway (to within the second of block-time slack)
    mark = stack.engine.perpMarkets(BTC)[3] / WAD
    assert 60_990 < mark < 61_010


def test_realise_without_position_reverts(stack, alice_pm):
    with reverts("NoPosition", alice_pm[0], BTC):
        stack.engine.realisePnl(alice_pm[0], BTC)


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
