"""The keeper and the SPEC v2 §7 liquidator: a bid that finds the account cured ends the auction
and buys nothing (no revert), and the keeper fee is at most the account's positive equity.

The keeper reads a mined bid's receipt: AuctionEnded(cured) without SolventBid/InsolventBid is an
ended auction, not a bid; it is logged (`bid-ended-auction`), counted as ended, and never retried.
"""

import brownie

from keel.abi import selector, topic
from keel.client.chain import LIQUIDATOR_ABI, Log
from keel.deploy_engine import BTC, WAD
from keeper.keeper import bid_outcome
from keeper.rules import BidParams
from tests.fixtures.keeper import events_of, set_price

LIQ = "0x" + "11" * 20
VICTIM = 7


def _acc(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


def _log(name: str, account: int, data: str = "0x", address: str = LIQ) -> Log:
    from eth_utils import to_checksum_address

    topics = (topic(LIQUIDATOR_ABI, name), _acc(account), _acc(1))
    return Log(to_checksum_address(address), topics, data)


TRUE, FALSE = "0x" + "00" * 31 + "01", "0x" + "00" * 32


def test_bid_outcome_reads_the_receipt():
    from eth_utils import to_checksum_address

    liq = to_checksum_address(LIQ)
    ended = _log("AuctionEnded", VICTIM, TRUE)
    bought = _log("SolventBid", VICTIM)
    assert bid_outcome((ended,), liq, VICTIM) == "ended-cured"
    # a bid that bought and then cured the account: a bid
    assert bid_outcome((bought, ended), liq, VICTIM) == "bought"
    assert bid_outcome((_log("InsolventBid", VICTIM), _log("AuctionEnded", VICTIM, FALSE)), liq,
                       VICTIM) == "bought"  # fmt: skip
    # events of another account or another contract do not count
    assert bid_outcome((_log("AuctionEnded", VICTIM + 1, TRUE),), liq, VICTIM) == "unknown"
    other = _log("AuctionEnded", VICTIM, TRUE, address="0x" + "22" * 20)
    assert bid_outcome((other,), liq, VICTIM) == "unknown"
    assert bid_outcome((_log("AuctionEnded", VICTIM, FALSE),), liq, VICTIM) == "unknown"


def _nonce(addr) -> int:
    return brownie.web3.eth.get_transaction_count(addr)


def test_keeper_bid_that_finds_the_account_cured_ends_it_without_retry(
    kp_stack, kp_victim, kp_keeper, make_keeper, chain, keeper_records
):
    """The keeper quotes a solvent bid at 30% discount; between its quote and its transaction the
    market recovers (BTC $62,000: AE ≥ IM). The bid is mined, ends the auction, buys nothing; the
    keeper logs it as an ended auction, not a bid, and the next cycles send nothing."""
    liq, acct = kp_stack.liquidator, kp_victim[0]
    start = chain.height + 1
    set_price(kp_stack, BTC, 55_000 * WAD)
    k = make_keeper(kp_keeper, bid=BidParams(min_profit=50.0))
    k.step()  # starts the auction; 5% does not pay yet
    assert liq.inAuction(acct) and not events_of(liq, "SolventBid", start)
    chain.sleep(15 * 60)  # discount 30%: the bid pays
    set_price(kp_stack, BTC, 55_000 * WAD)
    bid_sel = selector(LIQUIDATOR_ABI, "bid").hex()
    real_estimate = k.sender.estimate
    moved = []

    def estimate(to, data):
        if data[2:10] == bid_sel and not moved:  # the market recovers before the bid is sent
            set_price(kp_stack, BTC, 62_000 * WAD)
            moved.append(data)
        return real_estimate(to, data)

    k.sender.estimate = estimate
    position = [int(x) for x in kp_stack.engine.perpPosition(acct, BTC)]
    n0 = _nonce(kp_keeper[1].address)
    k.step()
    assert moved, keeper_records.dump()
    assert _nonce(kp_keeper[1].address) == n0 + 1  # the bid was sent and mined
    assert not events_of(liq, "SolventBid", start)
    ended = [e for e in events_of(liq, "AuctionEnded", start) if e["accountId"] == acct]
    assert len(ended) == 1 and ended[0]["cured"] is True
    assert [int(x) for x in kp_stack.engine.perpPosition(acct, BTC)] == position
    assert kp_stack.engine.perpPosition(kp_keeper[0], BTC)[0] == 0
    assert not liq.inAuction(acct)
    records = keeper_records.named("bid-ended-auction")
    assert [r["account"] for r in records] == [acct]
    assert (k.stats.bids, k.stats.ended, k.stats.bids_ended_cured) == (0, 1, 1)
    assert k.state.pending is None and acct not in k.auctions

    k.step()
    k.step()
    assert _nonce(kp_keeper[1].address) == n0 + 1  # nothing retried
    assert k.stats.failures == 0 and k.stats.reverted == 0 and k.stats.preempted == 0
    assert not keeper_records.named("cycle-failed") and not keeper_records.named("lost-race")


def test_keeper_starts_a_bankrupt_account_for_no_fee(
    kp_stack, kp_victim, kp_keeper, make_keeper, chain
):
    """E ≤ 0: the start earns no fee (SPEC §7 [v2]: the insurance fund would have paid it); the
    keeper starts the auction all the same (INV-3) and its cash is unchanged."""
    liq, acct = kp_stack.liquidator, kp_victim[0]
    start = chain.height + 1
    set_price(kp_stack, BTC, 47_000 * WAD)  # E ≈ −1,000
    assert kp_stack.engine.marginBreakdown(acct)[0] < 0
    cash = kp_stack.vault.cashOf(kp_keeper[0])
    k = make_keeper(kp_keeper, bid=BidParams(min_profit=1e12, max_subsidy=0.0))
    k.step()
    started = [e for e in events_of(liq, "AuctionStarted", start) if e["accountId"] == acct]
    assert len(started) == 1 and started[0]["keeperFee"] == 0
    assert kp_stack.vault.cashOf(kp_keeper[0]) == cash
    assert k.stats.started == 1 and k.stats.failures == 0


def test_keeper_bids_a_relapsed_auction_at_the_start_discount(
    kp_stack, kp_victim, kp_keeper, make_keeper, chain, keeper_records
):
    """INV-8 on the keeper's side: an auction nobody ended while its account was cured (BTC
    $58,000), 15 min + 12 h later at $56,500 (MM ≤ AE < IM). The liquidator's views report the
    start discount (5%), not the 100% grown since the start; the keeper quotes from them, so its
    price limit E·(1 − d)·(1 + slippage) covers what the chain charges and its bid is mined at
    d = 5% (under the old rule the views said 100% and the keeper took f_max = 1 for nothing)."""
    liq, acct = kp_stack.liquidator, kp_victim[0]
    start = chain.height + 1
    set_price(kp_stack, BTC, 55_000 * WAD)
    make_keeper(kp_keeper, name="starter", bid=BidParams(min_profit=1e12)).step()
    assert liq.inAuction(acct) and not events_of(liq, "SolventBid", start)
    set_price(kp_stack, BTC, 58_000 * WAD)  # cured; no keeper runs, nobody ends the auction
    b = kp_stack.engine.marginBreakdown(acct)
    assert b[1] >= b[2]
    chain.sleep(15 * 60 + 12 * 3600)
    set_price(kp_stack, BTC, 56_500 * WAD)
    b = kp_stack.engine.marginBreakdown(acct)
    assert b[3] <= b[1] < b[2]  # MM ≤ AE < IM: no start possible, not cured
    assert liq.currentDiscount(acct) == 5 * WAD // 100
    f_max = liq.maxFraction(acct)
    assert 0 < f_max < WAD

    k = make_keeper(kp_keeper, name="bidder", bid=BidParams(min_profit=1.0))
    k.step()
    bids = [e for e in events_of(liq, "SolventBid", start) if e["accountId"] == acct]
    assert len(bids) == 1, keeper_records.dump()
    assert bids[0]["bidderAccount"] == kp_keeper[0]
    assert bids[0]["discount"] == 5 * WAD // 100
    assert 0 < bids[0]["fraction"] <= f_max
    assert kp_stack.engine.perpPosition(acct, BTC)[0] == WAD - bids[0]["fraction"]
    assert k.stats.bids == 1
    assert k.stats.failures == 0 and k.stats.reverted == 0 and k.stats.preempted == 0
