"""The keeper against the deployed stack (in process): pre-filter vs chain, start, bid, end."""

import pytest

from keel.deploy_engine import BTC, ETH, WAD
from keel.risk.chain_inputs import agrees, market_from_reader
from keeper import model as kmodel
from keeper.rules import BidParams
from tests.fixtures.keeper import events_of, load_books, open_book, set_price


@pytest.fixture(scope="module")
def kp_population(kp_stack, accounts, kp_maker, kp_keeper, kp_victim):
    """Six books of bench/portfolios.json on thin cash (so that a price move hurts)."""
    books = load_books()
    names = ["naked_long_perp", "basis_trade", "covered_call", "hedged_short_straddle", "PM-4"]
    owners = [accounts[i] for i in (1, 2, 3, 5, 8)]
    out = {}
    for name, owner in zip(names, owners, strict=True):
        out[name] = open_book(kp_stack, owner, books[name], kp_maker, cash_scale=0.6)
    return out


def test_prefilter_flags_every_account_the_chain_finds_below_maintenance(
    kp_stack, kp_population, kp_victim, make_keeper, kp_keeper
):
    set_price(kp_stack, ETH, 2_700 * WAD)
    set_price(kp_stack, BTC, 54_000 * WAD)
    k = make_keeper(kp_keeper)
    k.start()
    ids = sorted(set(kp_population.values()) | {kp_victim[0]})
    accounts = k.reader.accounts(ids)
    market = market_from_reader(k.reader.market(accounts))
    screen = kmodel.screen(market, kmodel.to_accounts(accounts, market))
    chain = k.reader.breakdowns(ids)
    below = {a for a, b in chain.items() if b.liquidatable}
    assert below, "the move should put some account below MM"
    assert below <= set(screen.candidates)
    for a in ids:  # INV-4 on the keeper's inputs: the model sees what the chain sees
        f = screen.figures(a)
        b = chain[a]
        for name, chain_wad in (("equity", b.equity), ("im", b.im), ("mm", b.mm)):
            assert agrees(f[name], chain_wad / WAD, rel=1e-6, abs_tol=1e-3), (a, name)


def test_keeper_starts_then_bids_once_the_discount_pays(
    kp_stack, kp_victim, kp_keeper, make_keeper, chain
):
    liq = kp_stack.liquidator
    start = chain.height + 1
    k = make_keeper(kp_keeper, bid=BidParams(min_profit=50.0))
    k.step()  # nothing to do yet
    assert not events_of(liq, "AuctionStarted", start)
    set_price(kp_stack, BTC, 55_000 * WAD)  # victim AE ≈ 6,868 < MM 7,040
    k.step()
    started = [e for e in events_of(liq, "AuctionStarted", start) if e["accountId"] == kp_victim[0]]
    assert len(started) == 1 and started[0]["starterAccount"] == kp_keeper[0]
    chain.sleep(15 * 60)  # discount 30%
    set_price(kp_stack, BTC, 55_000 * WAD)  # fresh prices
    k.step()
    bids = [e for e in events_of(liq, "SolventBid", start) if e["accountId"] == kp_victim[0]]
    assert len(bids) == 1 and bids[0]["bidderAccount"] == kp_keeper[0]
    assert bids[0]["discount"] >= 3 * WAD // 10
    b = kp_stack.engine.marginBreakdown(kp_victim[0])
    assert b[1] >= b[2]  # back above IM
    assert not liq.inAuction(kp_victim[0])  # the bid that cured it ended the auction
    own = kp_stack.engine.marginBreakdown(kp_keeper[0])
    assert own[1] >= own[2]  # the keeper's account passes IM


def test_keeper_bids_on_an_insolvent_account_when_the_bonus_pays(
    kp_stack, kp_victim, kp_keeper, make_keeper, chain, keeper_records
):
    liq = kp_stack.liquidator
    start = chain.height + 1
    set_price(kp_stack, BTC, 47_000 * WAD)  # E ≈ −1,000
    k = make_keeper(kp_keeper)
    k.step()
    assert liq.inAuction(kp_victim[0])
    assert not events_of(liq, "InsolventBid", start)  # no bonus yet: gas is not covered
    chain.sleep(30 * 60)
    set_price(kp_stack, BTC, 47_000 * WAD)
    k.step()
    bids = [e for e in events_of(liq, "InsolventBid", start) if e["accountId"] == kp_victim[0]]
    assert len(bids) == 1, keeper_records.dump()
    bid = bids[0]
    assert bid["bidderAccount"] == kp_keeper[0] and bid["equity"] < 0 and bid["bonus"] > 0
    assert not liq.inAuction(kp_victim[0])


def test_keeper_ends_a_cured_auction(kp_stack, kp_victim, kp_keeper, make_keeper, chain):
    liq = kp_stack.liquidator
    start = chain.height + 1
    set_price(kp_stack, BTC, 55_000 * WAD)
    k = make_keeper(kp_keeper, bid=BidParams(min_profit=1e9))
    k.step()
    assert liq.inAuction(kp_victim[0])
    set_price(kp_stack, BTC, 62_000 * WAD)  # the market cured it
    k.step()
    ended = [e for e in events_of(liq, "AuctionEnded", start) if e["accountId"] == kp_victim[0]]
    assert len(ended) == 1 and ended[0]["cured"]


def test_keeper_waits_for_fresh_prices(
    kp_stack, kp_victim, kp_keeper, make_keeper, chain, keeper_records
):
    liq, start = kp_stack.liquidator, chain.height
    set_price(kp_stack, BTC, 55_000 * WAD)
    chain.sleep(3_601)  # the feeds go stale (heartbeat 1 h): nothing may be started
    chain.mine()
    k = make_keeper(kp_keeper)
    k.step()
    assert not events_of(liq, "AuctionStarted", start)
    stale = keeper_records.named("stale-price")
    assert any(r["account"] == kp_victim[0] for r in stale), keeper_records.dump()
    set_price(kp_stack, BTC, 55_000 * WAD)  # fresh again
    k.step()
    assert [e["accountId"] for e in events_of(liq, "AuctionStarted", start)].count(
        kp_victim[0]
    ) == 1
