"""The keeper's index (keeper/index.py) equals a full re-read of every account, exactly, after a
sequence of trades, deposits and withdrawals, a solvent and an insolvent liquidation (positions
transferred, the insurance fund paying, a loss socialised through the cash index), an expiry
settlement, a PnL realisation and funding accruing with time, while each cycle re-reads only the
accounts the logs named.

The full re-read here calls the contracts' own views one by one (cashOf, collateralBalance,
perpPosition, fundingIndex, optionPosition, ...) at the block the keeper processed, independent of
the keeper's batched reader and of its formulas for cash and funding owed (funding owed is the
engine's integer rule written out here on its fundingIndex view)."""

import brownie
import numpy as np
import pytest

from keel.deploy_engine import BTC, ETH, WAD, deposit, open_account, trade
from keeper import model as kmodel
from keeper.index import canonical
from keeper.rules import BidParams
from tests.fixtures.keeper import DAY, option_price, series_instrument, set_price

MAX = 2**256 - 1


def full_reread(stack, acc: int, block: int) -> dict:
    """One account from the contracts' views, one call per figure, at `block`."""
    at = {"block_identifier": block}
    v, e = stack.vault, stack.engine
    out = {
        "id": acc,
        "cashPrincipal": int(v.cashPrincipal(acc, **at)),
        "cash": int(v.cashOf(acc, **at)),
        "collateral": {},
        "perps": [],
        "options": [],
    }
    for token in v.accountAssets(acc, **at):
        out["collateral"][str(token)] = int(v.collateralBalance(acc, token, **at))
    for feed in e.accountUnderlyings(acc, **at):
        size, entry, at_entry = (int(x) for x in e.perpPosition(acc, feed, **at))
        if size:
            out["perps"].append(
                {
                    "feedId": int(feed),
                    "size": size,
                    "entryPrice": entry,
                    "fundingIndexAtEntry": at_entry,
                    # MarginEngine: −floor(−q·(idx − idx_entry) / 1e18), against the account
                    "fundingOwed": -((-size * (int(e.fundingIndex(feed, **at)) - at_entry)) // WAD),
                }
            )
        for sid in e.accountSeries(acc, feed, **at):
            f, expiry, is_call, strike = stack.store.series(sid)
            out["options"].append(
                {
                    "feedId": int(f),
                    "expiry": int(expiry),
                    "isCall": bool(is_call),
                    "strike": int(strike),
                    "size": int(e.optionPosition(acc, sid, **at)),
                    "seriesId": int(sid),
                }
            )
    return out


def assert_index_exact(k, stack):
    """Every followed account: the index's view at the block of the keeper's marks (its last
    market read) == the full re-read at that block."""
    block = k.marks.block
    assert block <= k.state.last_block
    for acc in k.state.accounts:
        assert canonical(k.index.view(acc, k.marks)) == canonical(full_reread(stack, acc, block)), (
            acc
        )


@pytest.fixture(scope="module")
def ix_accounts(kp_stack, accounts, kp_maker, kp_keeper, kp_rival):
    """A and B trade options and perps on both underlyings; V1 and V2 are 1 BTC long on $12,000
    (V1 is liquidated solvent at $55,000, V2 insolvent at $47,000)."""
    s = kp_stack
    a = (open_account(s, accounts[1], {"USDC": 400_000, "WETH": 10}), accounts[1])
    b = (open_account(s, accounts[2], {"USDC": 400_000}), accounts[2])
    v1 = (open_account(s, accounts[3], {"USDC": 12_000}), accounts[3])
    v2 = (open_account(s, accounts[8], {"USDC": 12_000}), accounts[8])
    for v in (v1, v2):
        trade(s, kp_maker, v, BTC, -WAD, s.oracle.feed(BTC)[0])
    return a, b, v1, v2


def _option(s, feed, moneyness, days, is_call=True):
    spot, _, observed, _ = s.oracle.feed(feed)
    strike = int(spot * moneyness) // 10**18 * 10**18
    expiry = observed + int(days * DAY)
    return series_instrument(s, feed, strike, expiry, is_call), (feed, strike, expiry, is_call)


def test_index_equals_a_full_reread_after_every_kind_of_change(
    kp_stack, ix_accounts, kp_maker, kp_keeper, kp_rival, make_keeper, chain
):
    s = kp_stack
    a, b, v1, v2 = ix_accounts
    maker, rival, own = kp_maker, kp_rival, kp_keeper[0]
    liq, eng = s.liquidator, s.engine
    k = make_keeper(kp_keeper, dry_run=True, scan_interval=1e9, bid=BidParams(min_profit=1e12))

    def step(expected_reread):
        k.step()
        if expected_reread is None:  # cold start: everybody, once
            expected_reread = set(k.state.accounts) | {own}
        assert sorted(k.last_reread) == sorted(expected_reread)
        assert_index_exact(k, s)

    step(None)
    everybody = sorted(k.state.accounts)
    assert {a[0], b[0], v1[0], v2[0], maker[0], own, rival[0]} <= set(everybody)
    step([])  # nothing happened: nothing re-read

    # 1. options between A and B on both underlyings (A long, B short), one expiring tomorrow
    legs = [_option(s, BTC, 1.0, 30), _option(s, BTC, 1.1, 60), _option(s, ETH, 0.9, 30, False)]
    short_dated, terms = _option(s, ETH, 1.0, 1)
    legs.append((short_dated, terms))
    for inst, t in legs:
        trade(s, b, a, inst, -WAD // 2, option_price(s, *t))
    step([a[0], b[0]])
    assert len(k.index.get(a[0])["options"]) == 4

    # 2. a perp between A and the maker off the spot (1% above: the mark moves, funding accrues)
    trade(s, maker, a, BTC, -WAD // 4, s.oracle.feed(BTC)[0] * 101 // 100)
    step([a[0], maker[0]])

    # 3. A closes its first series (its slot is removed and the last one moves into it)
    inst, t = legs[0]
    trade(s, a, b, inst, -WAD // 2, option_price(s, *t))
    step([a[0], b[0]])
    assert len(k.index.get(a[0])["options"]) == 3

    # 4. B deposits WETH, A withdraws cash
    deposit(s, b[0], b[1], "WETH", 3)
    s.vault.withdraw(a[0], s.usdc, 1_000 * 10**6, a[1], {"from": a[1]})
    step([a[0], b[0]])

    # 5. an hour passes, prices are reported again: funding owed moved, nobody is re-read
    chain.sleep(3_600)
    set_price(s, BTC, s.oracle.feed(BTC)[0])
    step([])
    (perp,) = k.index.view(a[0], k.marks)["perps"]
    assert (
        perp["fundingOwed"] != 0
        and perp["fundingOwed"] != k.index.get(a[0])["perps"][0]["fundingOwed"]
    )

    # 6. V1 below MM: the rival starts its auction, then buys f_max of it at 30%
    set_price(s, BTC, 55_000 * WAD)
    step([])
    liq.startAuction(v1[0], rival[0], {"from": rival[1]})
    step([v1[0], rival[0]])
    chain.sleep(15 * 60)
    set_price(s, BTC, 55_000 * WAD)
    auction = liq.auction(v1[0])[0]
    liq.bid(v1[0], auction, rival[0], liq.maxFraction(v1[0]), MAX, {"from": rival[1]})
    step([v1[0], rival[0]])
    assert k.index.get(rival[0])["perps"]  # the rival now holds part of V1's perp

    # 7. V2 insolvent: the rival takes it all; the fund pays what it can, the rest is socialised:
    #    every positive cash balance shrinks through the cash index without an event naming it
    set_price(s, BTC, 47_000 * WAD)
    liq.startAuction(v2[0], rival[0], {"from": rival[1]})  # E < 0: no fee moves to the rival
    step([v2[0]])
    chain.sleep(30 * 60)
    set_price(s, BTC, 47_000 * WAD)
    maker_cash = k.index.view(maker[0], k.marks)["cash"]
    auction = liq.auction(v2[0])[0]
    tx = liq.bidInsolvent(v2[0], auction, rival[0], 0, {"from": rival[1]})
    assert tx.events["InsolventBid"]["socialised"] > 0
    step([v2[0], rival[0]])
    assert s.vault.cashIndex() < WAD
    assert k.index.view(maker[0], k.marks)["cash"] < maker_cash  # not re-read, yet exact

    # 8. the short-dated series expires, its price is fixed, A's position is settled
    feed, _, expiry, _ = terms
    chain.sleep(expiry + 60 - chain.time())
    set_price(s, BTC, 60_000 * WAD)  # reports both feeds inside the settlement window
    assert s.oracle.settlementPrice(feed, expiry) > 0
    step([])
    eng.settle(a[0], short_dated - (1 << 128), {"from": rival[1]})
    step([a[0]])
    assert len(k.index.get(a[0])["options"]) == 2

    # 9. A realises its perp PnL and funding
    eng.realisePnl(a[0], BTC, {"from": a[1]})
    step([a[0]])
    assert k.stats.index_mismatches == 0

    # the model's columns assembled by the index give the figures of the per-account path
    ids = sorted(k.state.accounts)
    columns = kmodel.screen_portfolios(k.market, k.index.portfolios(k.market, k.marks, ids))
    per_account = kmodel.screen(k.market, k._accounts(ids))
    assert columns.account_ids == per_account.account_ids == ids
    for name in ("equity", "adjusted_equity", "im", "mm"):
        np.testing.assert_allclose(
            getattr(columns, name), getattr(per_account, name), rtol=1e-12, atol=1e-9
        )


def test_an_index_entry_that_drifted_is_repaired_by_the_audit(
    kp_stack, ix_accounts, kp_keeper, make_keeper, keeper_records
):
    """A state change the logs did not show (simulated by corrupting one entry) is found by the
    next full scan's audit, logged as `index-mismatch`, and replaced by the chain's state."""
    s, (a, *_rest) = kp_stack, ix_accounts
    k = make_keeper(kp_keeper, dry_run=True, bid=BidParams(min_profit=1e12))
    k.step()
    rec = dict(k.index.get(a[0]))
    rec["cashPrincipal"] += 1
    k.index.put(rec)
    k.step()  # scan_interval 0: every cycle is a full scan with an audit of every account
    assert [r["account"] for r in keeper_records.named("index-mismatch")] == [a[0]]
    assert k.stats.index_mismatches == 1
    assert_index_exact(k, s)
    brownie.chain.mine()
    k.step()
    assert k.stats.index_mismatches == 1  # repaired: nothing more to report
