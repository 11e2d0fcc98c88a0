"""The keeper knows the cap (issue 9), on the largest account the limits allow.

keel.bench.max_account builds the maximal account A (4 underlyings × 16 option series over 4
expiries, 4 perps, 8 collateral tokens and USDC), its mirror C and the maximal bidder B (the same
book at half size, $30M cash) once for the module, in the interleaved slot order (consecutive
series alternate expiries: the costlier order for a stale margin view). Its state tree levers A
and pushes a price jump (every spot −10%, every vol ×2: a new oracle round, so every risk array of
A and B is stale); a USDC deposit then puts A where each bid kind needs it.

The real keeper (keeper.keeper.Keeper, in-process cycles as in the other keeper tests) runs with
B as its own account. What it did is read from the chain (its sender's transactions, decoded from
the blocks and receipts), not from its logs: it refreshed every stale array of A and B, per
underlying, in transactions of at most half the EIP-7825 cap, within the oracle round of the
liquidation transaction that followed; it started A's auction and bid, each transaction at most
half the cap; positions moved to B exactly as the bid's fraction says (or the whole insolvent
account did).

Runtime: ~45 s for the module on a 2-core machine (the build of one slot order ~22 s, each test
~10 s: a keeper cycle re-reads every account and valuing the maximal books in eth_calls is slow).
"""

from __future__ import annotations

import brownie
import pytest

from keel.bench.max_account import (
    CAP,
    COLLATERAL,
    HALF_CAP,
    WAD,
    _push_same,
    breakdown,
    build_max_accounts,
    define_states,
    portfolio,
)
from keel.chain import TX_GAS_CAP
from keeper.keeper import Keeper
from tests.fixtures.keeper import events_of, keeper_config
from tests.unit.keeper.support import sent_by

ORDER = "interleaved"
LIQUIDATION = ("startAuction", "bid", "bidInsolvent")


@pytest.fixture(autouse=True)
def isolation(module_isolation):
    """Replaces the suite's per-test snapshot, as tests/unit/liquidation/test_max_account.py does:
    anvil's evm_revert drops every snapshot taken after the one it reverts to, so the tests move
    between the build's named states themselves (StateTree); the chain is reset around the
    module."""
    yield


@pytest.fixture(scope="module")
def max_build():
    build = build_max_accounts(orders=(ORDER,))
    define_states(build)
    return build


def _keeper(build, tmp_path) -> Keeper:
    """The keeper, bidding with the maximal bidder B (its owner signs)."""
    b_acct, b_owner = build.books[ORDER].b
    return Keeper(keeper_config(build.stack, b_acct, b_owner, tmp_path / "keeper-state.json"))


def _feed_of(build) -> dict[int, int]:
    return {sid: f for f, by_key in build.series.items() for sid in by_key.values()}


def _held(build, acct) -> set[int]:
    return {s for s, q in portfolio(build, acct, ORDER)["options"].items() if q != 0}


def _rounds(stack, block) -> dict[int, int]:
    """{feed: observedAt of its current round} at `block` (what a stored array must match)."""
    return {f: int(stack.oracle.feed(f, block_identifier=block)[2]) for f in (1, 2, 3, 4)}


def _stale(build, series, block="latest") -> set[int]:
    """Series of `series` whose stored array is not for their feed's current round at `block`."""
    stack, feed_of = build.stack, _feed_of(build)
    rounds = _rounds(stack, block)
    stored = {s: int(stack.store.storedRiskArray(s, block_identifier=block)[0]) for s in series}
    return {s for s in series if stored[s] != rounds[feed_of[s]]}


def _check_gas(txs) -> None:
    """Every transaction the keeper sent: mined, its limit and its use within the cap; the
    liquidation transactions within half of it (INV-10)."""
    for tx in txs:
        assert tx.status == 1, tx
        assert tx.gas_used <= tx.gas_limit <= CAP == TX_GAS_CAP, tx
        if tx.name in LIQUIDATION:
            assert tx.gas_used <= HALF_CAP, (tx.name, tx.gas_used)
        else:
            assert tx.name == "refreshRiskArrays", tx.name
            assert tx.gas_used <= HALF_CAP, tx.gas_used  # the keeper's refresh budget


def _check_refreshed_before(build, refreshes, action, stale) -> None:
    """The refreshes sent before liquidation transaction `action`: each on one underlying, together
    every series of `stale` once, each stored for the oracle round `action` was mined in (no round
    in between), all mined before it; at the block before `action` nothing of `stale` is stale."""
    stack, feed_of = build.stack, _feed_of(build)
    round_at_action = _rounds(stack, action.block)
    assert _rounds(stack, action.block - 1) == round_at_action
    refreshed = []
    for tx in refreshes:
        (chunk,) = tx.args
        assert len({feed_of[s] for s in chunk}) == 1, chunk  # per underlying
        stored = tx.stored_rounds(stack.store.address)
        assert sorted(stored) == sorted(chunk)
        assert all(stored[s] == round_at_action[feed_of[s]] for s in chunk)
        assert _rounds(stack, tx.block) == round_at_action  # the same round throughout
        assert tx.block < action.block
        refreshed += list(chunk)
    assert sorted(refreshed) == sorted(stale)  # every stale series, each once
    assert not _stale(build, stale, action.block - 1)


def _segments(txs):
    """[(refreshes, liquidation tx)]: each liquidation transaction with the refreshes the keeper
    sent since the previous one."""
    out, pending = [], []
    for tx in txs:
        if tx.name in LIQUIDATION:
            out.append((pending, tx))
            pending = []
        else:
            pending.append(tx)
    assert not pending, "refreshes not followed by a liquidation transaction"
    return out


def _part(q: int, f: int) -> int:
    """The engine's fraction f of q, truncated towards zero."""
    if f == WAD:
        return q
    return q * f // WAD if q >= 0 else -(-q * f // WAD)


def _check_moved(a0, a1, b0, b1, f: int) -> None:
    """Fraction f of every position and collateral balance of A went to B."""
    assert len(a0["options"]) == 64 and all(q != 0 for q in a0["options"].values())
    assert all(q != 0 for q in a0["perps"].values()) and a0["assets"] == len(COLLATERAL)
    for part in ("options", "perps", "collateral"):
        for key, q in a0[part].items():
            moved = _part(q, f) if part != "collateral" else (q if f == WAD else q * f // WAD)
            assert moved != 0, (part, key)
            assert a1[part][key] == q - moved, (part, key)
            assert b1[part][key] == b0[part][key] + moved, (part, key)


def _gas_table(txs) -> str:
    return "\n".join(
        f"{t.name:<20} {len(t.args[0]) if t.name == 'refreshRiskArrays' else '':>3} "
        f"{t.gas_used:>12,} (limit {t.gas_limit:,})"
        for t in txs
    )


def test_keeper_liquidates_the_maximal_account_right_after_a_price_jump(
    max_build, tmp_path, keeper_records
):
    """A levered, the jump, then USDC deposited so that ½·MM ≤ E and AE < MM: one keeper cycle
    refreshes A's and B's 64 stale series, starts the auction and bids (5% start discount: the bid
    pays at once); the keeper's account B takes exactly the fraction it bid."""
    build = max_build
    build.tree.goto("lev/jump/partial")
    stack, book = build.stack, build.books[ORDER]
    acct, (me, owner) = book.a[0], book.b
    b = breakdown(stack, acct)
    assert 0 < b["MM"] // 2 <= b["E"] and b["AE"] < b["MM"]
    series = _held(build, acct) | _held(build, me)
    assert len(series) == 64 and _stale(build, series) == series  # the jump's round: all stale
    a0, b0 = portfolio(build, acct, ORDER), portfolio(build, me, ORDER)

    k = _keeper(build, tmp_path)
    first = brownie.web3.eth.block_number + 1
    k.step()
    txs = sent_by(owner.address, first)
    print("\n" + _gas_table(txs))
    _check_gas(txs)
    segments = _segments(txs)
    assert [tx.name for _, tx in segments] == ["startAuction", "bid"], keeper_records.dump()
    (refreshes, start), (more, bid) = segments
    assert start.args == (acct, me) and more == []  # the arrays stayed current for the bid
    _check_refreshed_before(build, refreshes, start, series)
    assert _rounds(stack, bid.block) == _rounds(stack, start.block)
    assert not _stale(build, series, bid.block - 1)

    auction_id, bidder, fraction = bid.args[1:4]
    assert bid.args[0] == acct and bidder == me and 0 < fraction < WAD
    (event,) = events_of(stack.liquidator, "SolventBid", first)
    assert (event["accountId"], event["auctionId"], event["bidderAccount"]) == (
        acct,
        auction_id,
        me,
    )
    assert event["fraction"] == fraction
    _check_moved(a0, portfolio(build, acct, ORDER), b0, portfolio(build, me, ORDER), fraction)
    assert k.stats.started == 1 and k.stats.bids == 1 and k.stats.over_cap == 0
    assert k.stats.refreshes == len(refreshes)


def test_keeper_refreshes_again_in_the_next_round_then_takes_the_insolvent_maximal_account(
    max_build, tmp_path, keeper_records
):
    """The jump leaves the levered A insolvent. First cycle: refreshes, start; the insolvency
    bonus is still nothing, so no bid. Thirty minutes later a new oracle round at the same prices
    makes every array stale again: the next cycle refreshes A's and B's 64 series for that round,
    then takes the whole account (bidInsolvent)."""
    build = max_build
    build.tree.goto("lev/jump/insolvent")
    stack, book = build.stack, build.books[ORDER]
    acct, (me, owner) = book.a[0], book.b
    assert breakdown(stack, acct)["E"] <= 0
    series = _held(build, acct) | _held(build, me)
    assert len(series) == 64 and _stale(build, series) == series

    k = _keeper(build, tmp_path)
    first = brownie.web3.eth.block_number + 1
    k.step()
    txs = sent_by(owner.address, first)
    _check_gas(txs)
    ((refreshes, start),) = _segments(txs)
    assert start.name == "startAuction" and start.args == (acct, me), keeper_records.dump()
    _check_refreshed_before(build, refreshes, start, series)
    assert k.stats.insolvent_bids == 0  # no bonus yet: the bid does not pay

    brownie.chain.sleep(30 * 60)  # the bonus grows to half its cap
    _push_same(build)  # a new round for every feed: every array stale again
    assert _stale(build, series) == series
    a0, b0 = portfolio(build, acct, ORDER), portfolio(build, me, ORDER)
    second = brownie.web3.eth.block_number + 1
    k.step()
    later = sent_by(owner.address, second)
    print("\n" + _gas_table(txs + later))
    _check_gas(later)
    ((refreshes, bid),) = _segments(later)
    assert bid.name == "bidInsolvent", keeper_records.dump()
    _check_refreshed_before(build, refreshes, bid, series)
    auction_id = int(stack.liquidator.auction(acct, block_identifier=start.block)[0])
    assert bid.args[:3] == (acct, auction_id, me)
    (event,) = events_of(stack.liquidator, "InsolventBid", second)
    assert (event["accountId"], event["auctionId"], event["bidderAccount"]) == (
        acct,
        auction_id,
        me,
    )
    assert event["equity"] <= 0 < event["bonus"]
    a1, b1 = portfolio(build, acct, ORDER), portfolio(build, me, ORDER)
    _check_moved(a0, a1, b0, b1, WAD)  # the whole account
    assert a1["underlyings"] == [] and a1["assets"] == 0 and a1["cash"] == 0
    assert not stack.liquidator.inAuction(acct)
    assert k.stats.started == 1 and k.stats.insolvent_bids == 1 and k.stats.over_cap == 0
    assert k.stats.refreshes == len(txs + later) - 2
