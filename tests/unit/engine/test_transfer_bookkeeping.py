"""INV-6 for the option bookkeeping of 4dae82f (`_addOption`, `_transferOptions` reading the
source slots from the last, the assembly `_find` / `_optionList`) against a Python model, written by
an independent attacker review of that change (which found nothing).

The liquidator is set to an EOA (the deployer) so that transferPositions can be called with any f,
including the ones an auction rarely produces (1 wei, WAD - 1). After every transfer: sizes moved
exactly part(q, f) (truncated to zero), Σ sizes = 0 per series, long OI = Σ max(q, 0), no slot of
size 0, no duplicate slot, underlyings = the feeds with a perp or an option slot.
"""

from __future__ import annotations

import pytest

from keel.deploy_engine import BTC, ETH, WAD, model_price, open_account, trade
from tests.fixtures.engine import option
from tests.support import reverts

OPT = 1 << 128
EXPIRIES = (7, 14, 30, 60)
KINDS = ((60_000, True), (60_000, False), (66_000, True), (54_000, False))


def part(q: int, f: int) -> int:
    if f == WAD:
        return q
    m = abs(q) * f // WAD
    return m if q > 0 else -m


def sid(inst: int) -> int:
    return inst - OPT


@pytest.fixture(scope="module")
def book(stack, alice, bob, carol, accounts):
    """alice (A): 16 BTC series (4 expiries x 4), mixed signs, two of 1 and 3 wei, a BTC perp,
    an ETH option and an ETH perp. bob (B): the counterparty. carol (C): the bidder."""
    a = (open_account(stack, alice, {"USDC": 5_000_000}), alice)
    b = (open_account(stack, bob, {"USDC": 50_000_000}), bob)
    c = (open_account(stack, carol, {"USDC": 5_000_000}), carol)
    d = (open_account(stack, accounts[7], {"USDC": 50_000_000}), accounts[7])
    x = (open_account(stack, accounts[8], {"USDC": 50_000_000}), accounts[8])
    btc = [option(stack, BTC, k * WAD, d, call) for d in EXPIRIES for (k, call) in KINDS]
    # a second set of 16 BTC series at other expiries, for the bidder (disjoint from A's)
    other = [option(stack, BTC, k * WAD, d + 3, call) for d in EXPIRIES for (k, call) in KINDS]
    eth = option(stack, ETH, 3_000 * WAD, 30, True)
    sizes = []
    for j, inst in enumerate(btc):
        q = (j + 1) * WAD // 10 * (1 if j % 3 else -1)
        if j == 5:
            q = 1
        if j == 9:
            q = -3
        sizes.append(q)
        # the taker (A) gets -makerSize: B makes -q
        trade(stack, b, a, inst, -q, model_price(stack, inst))
    trade(stack, b, a, BTC, -WAD // 2, model_price(stack, BTC))
    trade(stack, b, a, eth, 2 * WAD, model_price(stack, eth))
    trade(stack, b, a, ETH, 3 * WAD, model_price(stack, ETH))
    return dict(a=a, b=b, c=c, d=d, x=x, btc=btc, other=other, eth=eth, sizes=sizes)


def all_series(stack):
    return range(1, stack.store.seriesCount() + 1)


def check_books(stack):
    e = stack.engine
    n = stack.vault.accountCount()
    for acct in range(1, n + 1):
        us = list(e.accountUnderlyings(acct))
        assert len(set(us)) == len(us), (acct, us)
        held = set()
        for f in (BTC, ETH):
            ids = list(e.accountSeries(acct, f))
            assert len(set(ids)) == len(ids), ("duplicate slot", acct, f, ids)
            for i in ids:
                assert e.optionPosition(acct, i) != 0, ("zero slot", acct, i)
            if ids or e.perpPosition(acct, f)[0] != 0:
                held.add(f)
        assert set(us) == held, ("underlyings", acct, us, held)
    for s in all_series(stack):
        pos = [e.optionPosition(acct, s) for acct in range(1, n + 1)]
        assert sum(pos) == 0, ("INV-6", s, pos)
        assert e.openInterest(OPT + s)[0] == sum(p for p in pos if p > 0), ("OI", s)


def snapshot(stack, accts):
    e = stack.engine
    return {(x, s): e.optionPosition(x, s) for x in accts for s in all_series(stack)}


def bidder_overlaps(stack, book, f):
    """C takes: the same sign as A in series 0; exactly -part(q, f) in series 1 (closes to 0);
    the opposite sign, larger, in series 2; -1 wei in series 4; a series A does not hold."""
    b, c, btc, sizes = book["d"], book["c"], book["btc"], book["sizes"]
    want = {
        btc[0]: sizes[0] // 2,
        btc[1]: -part(sizes[1], f),
        btc[2]: -2 * sizes[2],
        btc[4]: -1 if sizes[4] > 0 else 1,
        option(stack, BTC, 70_000 * WAD, EXPIRIES[0], True): WAD // 5,
    }
    for inst, q in want.items():
        if q:
            trade(stack, b, c, inst, -q, model_price(stack, inst))
    return want


@pytest.mark.parametrize("f", [WAD, WAD - 1, WAD // 2, WAD // 3, 1])
def test_transfer_positions_moves_exactly_part_q_f(stack, book, deployer, f):
    a, c = book["a"][0], book["c"][0]
    bidder_overlaps(stack, book, f)
    check_books(stack)
    before = snapshot(stack, (a, c))
    stack.engine.setLiquidator(deployer, {"from": deployer})
    stack.engine.transferPositions(a, c, f, {"from": deployer})
    after = snapshot(stack, (a, c))
    for s in all_series(stack):
        q, q_to = before[(a, s)], before[(c, s)]
        moved = part(q, f)
        assert after[(a, s)] == q - moved, (s, q, f)
        assert after[(c, s)] == q_to + moved, (s, q_to, moved)
    check_books(stack)
    if f == WAD:
        e = stack.engine
        assert list(e.accountSeries(a, BTC)) == [] and list(e.accountUnderlyings(a)) == []


def test_bidder_over_the_limits_after_a_full_transfer_then_trades(stack, book, deployer):
    """C holds 16 series of its own (4 other expiries), takes A's 16 at f = 1: 32 slots and 8
    expiries on BTC (limits never block a liquidation). Then: adding to / closing held series
    works; a new series reverts TooManySeries; the lens agrees."""
    a, b, c = book["a"], book["b"], book["c"]
    for j, inst in enumerate(book["other"]):
        q = (j + 1) * WAD // 20 * (1 if j % 2 else -1)
        trade(stack, book["d"], c, inst, -q, model_price(stack, inst))
    stack.engine.setLiquidator(deployer, {"from": deployer})
    stack.engine.transferPositions(a[0], c[0], WAD, {"from": deployer})
    # the engine asks the liquidator whether an account is in auction: restore it
    stack.engine.setLiquidator(stack.liquidator, {"from": deployer})
    e = stack.engine
    assert len(e.accountSeries(c[0], BTC)) == 32
    check_books(stack)
    # close one of A's former series entirely, and one of C's own
    for inst, cp in ((book["btc"][3], b), (book["other"][7], book["d"])):
        q = e.optionPosition(c[0], sid(inst))
        trade(stack, cp, c, inst, q, model_price(stack, inst))  # C gets -q
        assert e.optionPosition(c[0], sid(inst)) == 0
    assert len(e.accountSeries(c[0], BTC)) == 30
    check_books(stack)
    # add to a held series: allowed (no new slot)
    inst = book["btc"][6]
    trade(stack, b, c, inst, WAD // 10, model_price(stack, inst))
    check_books(stack)
    # a new series: 30 slots >= 16
    new = option(stack, BTC, 70_000 * WAD, 30, True)
    with reverts("TooManySeries", c[0], BTC, 31, 16):
        trade(stack, book["x"], c, new, -WAD // 10, model_price(stack, new))
    check_books(stack)


@pytest.mark.parametrize("f", [WAD, WAD // 2])
def test_bidder_whose_only_position_on_a_feed_closes_leaves_the_feed(
    stack, book, deployer, accounts, f
):
    """V holds only an ETH call q; C holds only -part(q, f) of it: the transfer closes C's slot to
    0, and C must leave ETH (the `else if (qTo + moved == 0) _pruneUnderlying` branch)."""
    c = book["c"]
    v = (open_account(stack, accounts[9], {"USDC": 5_000_000}), accounts[9])
    inst = book["eth"]
    q = 7 * WAD // 3
    trade(stack, book["x"], v, inst, -q, model_price(stack, inst))
    trade(stack, book["x"], c, inst, part(q, f), model_price(stack, inst))
    assert list(stack.engine.accountUnderlyings(c[0])) == [ETH]
    stack.engine.setLiquidator(deployer, {"from": deployer})
    stack.engine.transferPositions(v[0], c[0], f, {"from": deployer})
    assert stack.engine.optionPosition(c[0], sid(inst)) == 0
    assert list(stack.engine.accountUnderlyings(c[0])) == []
    check_books(stack)


def test_settle_then_reopen_and_flip(stack, book):
    """_addOption through a fill that flips the sign, closes to 0, and re-opens."""
    a, b = book["a"], book["b"]
    e = stack.engine
    inst = book["btc"][0]
    q = e.optionPosition(a[0], sid(inst))
    trade(stack, b, a, inst, 2 * q, model_price(stack, inst))  # A: q - 2q = -q (flip)
    assert e.optionPosition(a[0], sid(inst)) == -q
    check_books(stack)
    trade(stack, b, a, inst, -q, model_price(stack, inst))  # A: -q + q = 0 (close)
    assert e.optionPosition(a[0], sid(inst)) == 0
    assert sid(inst) not in list(e.accountSeries(a[0], BTC))
    check_books(stack)
    trade(stack, b, a, inst, -q, model_price(stack, inst))  # re-open at q
    assert e.optionPosition(a[0], sid(inst)) == q
    check_books(stack)


@pytest.fixture(scope="module")
def cache_harness(stack, deployer, ArrayCacheHarness):
    return ArrayCacheHarness.deploy(stack.oracle, {"from": deployer})


H = 2**127


@pytest.mark.parametrize(
    "edge",
    [H - 1, -H, H, -H - 1, 2**255 - 1, -(2**255), 0, -1],
)
@pytest.mark.parametrize("where", [0, 1, 17, 31, 32])
def test_transient_cache_round_trips_every_boundary(cache_harness, edge, where):
    a = [(-1) ** k * (k * 10**20 + 7) for k in range(33)]
    a[where] = edge
    fits = all(-H <= v < H for v in a)
    hit, packed, out = cache_harness.roundTrip.call([5], [1234], [a], 5, 1234)
    assert hit and packed == fits
    assert list(out) == a


def test_transient_cache_overwrites_and_keys(cache_harness):
    small = [k - 16 for k in range(33)]
    wide = [H + k for k in range(33)]
    # wide then packed for the same series, same round: the packed one wins, exactly
    hit, packed, out = cache_harness.roundTrip.call([5, 5], [10, 10], [wide, small], 5, 10)
    assert hit and packed and list(out) == small
    # packed then wide: the wide one wins
    hit, packed, out = cache_harness.roundTrip.call([5, 5], [10, 10], [small, wide], 5, 10)
    assert hit and not packed and list(out) == wide
    # another round, another series: misses
    assert not cache_harness.roundTrip.call([5], [10], [small], 5, 11)[0]
    assert not cache_harness.roundTrip.call([5], [10], [small], 6, 10)[0]
    # a key with the PACKED bit never answers a read at observedAt | 2^255 as another round
    assert cache_harness.roundTrip.call([5], [10], [small], 5, 10 | 2**255)[0] is False
    # nothing cached and observedAt 0: the read "hits" an all-zero array (the engine never asks
    # for observedAt 0: Oracle.freshFeed reverts on a never-reported feed)
    print(cache_harness.roundTrip.call([], [], [], 9, 0))
