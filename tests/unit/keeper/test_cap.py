"""The keeper knows the cap (issue 9): no transaction estimated above the per-transaction gas cap
(EIP-7825) ever leaves it, and before a start or a bid it refreshes the stale risk arrays of the
accounts involved, per underlying, in transactions that fit its refresh budget, all within one
oracle round (a round that changes meanwhile makes it start over)."""

import brownie
import pytest

from keel.chain import TX_GAS_CAP
from keel.client.chain import LIQUIDATOR_ABI, STORE_ABI, Call, OverCap, Sender, _fn
from keel.deploy_engine import BTC, ETH, WAD, open_account, trade
from keeper.rules import BidParams
from tests.fixtures.keeper import (
    DAY,
    events_of,
    option_price,
    series_instrument,
    set_price,
)
from tests.unit.keeper.support import sent_by

NO_BIDS = BidParams(min_profit=1e12)

# (feed, strike as a fraction of spot, days to expiry, size): three expiries per underlying, so
# that no two series share a Black-Scholes grid and each costs a full refresh
LEGS = [
    (BTC, 1.00, 20, 0.01),
    (BTC, 1.05, 40, 0.01),
    (BTC, 1.10, 60, 0.01),
    (ETH, 1.00, 20, 0.1),
    (ETH, 1.05, 40, 0.1),
    (ETH, 1.10, 60, 0.1),
]


@pytest.fixture(scope="module")
def cap_victim(kp_stack, accounts, kp_maker, kp_keeper):
    """carol: 1 BTC long perp and six small long calls (three series per underlying) on $12,000
    cash; BTC at $55,000 puts her below MM (asserted where used)."""
    s, owner = kp_stack, accounts[3]
    acct = open_account(s, owner, {"USDC": 12_000})
    trade(s, kp_maker, (acct, owner), BTC, -WAD, s.oracle.feed(BTC)[0])
    series = {}
    for feed, moneyness, days, size in LEGS:
        spot, _, observed, _ = s.oracle.feed(feed)
        strike = int(spot * moneyness) // 10**18 * 10**18
        expiry = observed + days * DAY
        inst = series_instrument(s, feed, strike, expiry, True)
        price = option_price(s, feed, strike, expiry, True)
        trade(s, kp_maker, (acct, owner), inst, -int(size * WAD), price)
        series.setdefault(feed, []).append(inst - (1 << 128))
    return acct, owner, series


def _below_mm(stack, acct):
    b = stack.engine.marginBreakdown(acct)
    return b[1] < b[3]


def _stale(stack, series):
    """Series whose stored array is not the current round's."""
    out = []
    for feed, ids in series.items():
        round_ = stack.oracle.feed(feed)[2]
        out += [s for s in ids if stack.store.storedRiskArray(s)[0] != round_]
    return sorted(out)


# --- the cap -----------------------------------------------------------------------------------


class _Rpc:
    w3 = None


def test_sender_never_signs_above_the_cap_and_clamps_its_margin():
    sender = Sender(_Rpc(), "0x" + "11" * 32, 1, state=None, log=None, gas_cap=1_000_000)
    assert sender.gas_limit(500_000) == 650_000  # the 30% safety margin
    assert sender.gas_limit(900_000) == 1_000_000  # 1.17M clamped: a limit above the cap is invalid
    assert sender.gas_limit(990_000) == 1_000_000  # headroom 10,000 = max(10,000, 1%)
    for gas in (990_001, 1_000_000, 1_000_001, 20_000_000):  # too close to, or above, the cap
        assert not sender.fits(gas)
        with pytest.raises(OverCap):
            sender.gas_limit(gas)
    assert Sender(_Rpc(), "0x" + "11" * 32, 1, None, None).gas_cap == TX_GAS_CAP == 16_777_216


def test_a_transaction_estimated_above_the_cap_is_never_sent(
    kp_stack, kp_victim, kp_keeper, make_keeper, keeper_records
):
    """The victim is liquidatable; with a cap one gas below startAuction's estimate the keeper
    logs `over-cap` and sends nothing (the nonce does not move, nothing is pending); with the cap
    just above the estimate it starts the auction, its gas limit clamped to the cap."""
    liq, acct = kp_stack.liquidator, kp_victim[0]
    start = brownie.chain.height + 1
    set_price(kp_stack, BTC, 55_000 * WAD)
    probe = make_keeper(kp_keeper, name="probe", bid=NO_BIDS)
    probe.start()
    data = Call(liq.address, _fn(LIQUIDATOR_ABI, "startAuction"), (acct, kp_keeper[0])).data()
    gas = probe.sender.estimate(liq.address, data)
    assert 21_000 < gas < TX_GAS_CAP

    nonce = brownie.web3.eth.get_transaction_count(kp_keeper[1].address)
    capped = make_keeper(kp_keeper, name="capped", bid=NO_BIDS, tx_gas_cap=gas - 1)
    capped.step()
    capped.step()  # and again next cycle: still nothing
    assert brownie.web3.eth.get_transaction_count(kp_keeper[1].address) == nonce
    assert not events_of(liq, "AuctionStarted", start) and not liq.inAuction(acct)
    over = keeper_records.named("over-cap")
    assert [(r["kind"], r["account"], r["cap"]) for r in over] == [("start", acct, gas - 1)] * 2
    assert all(r["gas"] > gas - 1 for r in over)
    assert capped.stats.over_cap == 2 and capped.state.pending is None
    assert not keeper_records.named("send")

    k = make_keeper(kp_keeper, name="fits", bid=NO_BIDS, tx_gas_cap=gas + 30_000)
    k.step()
    (tx,) = sent_by(kp_keeper[1].address, start)
    assert tx.name == "startAuction" and tx.args == (acct, kp_keeper[0]) and tx.status == 1
    assert tx.gas_limit == gas + 30_000  # 1.3 × the estimate, clamped to the cap
    assert liq.inAuction(acct)


# --- refreshing what a liquidation needs ---------------------------------------------------------


def _mine(txs, acct):
    """The keeper's transactions about `acct`: refreshes and liquidator calls on it (an account of
    an earlier test of the module, kp_victim, may be liquidatable at the same prices)."""
    return [t for t in txs if t.name == "refreshRiskArrays" or t.args[0] == acct]


def _budget(stack, keeper, series_id):
    """A refresh budget that fits two full series per transaction, never three."""
    store = stack.store.address
    data = Call(store, _fn(STORE_ABI, "refreshRiskArrays"), ([series_id],)).data()
    one = keeper.sender.estimate(store, data)
    return 21_000 + 2 * (one - 21_000)


def _check_refreshes(stack, txs, series, budget):
    """The refresh transactions: each within the budget and on one underlying, together every
    stale series exactly once, all stored for the round current at the end."""
    refreshed = []
    feed_of = {s: f for f, ids in series.items() for s in ids}
    for tx in txs:
        assert tx.name == "refreshRiskArrays" and tx.status == 1
        assert tx.gas_used <= budget
        (chunk,) = tx.args
        assert len({feed_of[s] for s in chunk}) == 1  # per underlying
        rounds = tx.stored_rounds(stack.store.address)
        assert sorted(rounds) == sorted(chunk)
        for s in chunk:
            assert rounds[s] == stack.oracle.feed(feed_of[s])[2]  # the current round
        refreshed += list(chunk)
    assert sorted(refreshed) == sorted(feed_of)  # each stale series once
    for feed in series:  # batches: three full series never fit one transaction
        assert sum(1 for tx in txs if feed_of[tx.args[0][0]] == feed) >= 2


def test_keeper_refreshes_stale_arrays_in_batches_within_the_round_before_starting_and_bidding(
    kp_stack, cap_victim, kp_keeper, make_keeper, keeper_records, chain
):
    s, (acct, _, series) = kp_stack, cap_victim
    liq, me = s.liquidator, kp_keeper[1].address
    k = make_keeper(kp_keeper, bid=BidParams(min_profit=50.0))
    k.start()
    set_price(s, BTC, 55_000 * WAD)  # a new round: every array of the victim is stale
    assert _below_mm(s, acct)
    assert _stale(s, series) == sorted(x for ids in series.values() for x in ids)
    budget = _budget(s, k, series[BTC][0])
    k.cfg.refresh_gas_budget = budget
    rounds = {f: s.oracle.feed(f)[3] for f in (BTC, ETH)}

    start = chain.height + 1
    k.step()
    txs = _mine(sent_by(me, start), acct)
    assert [t.name for t in txs][-1] == "startAuction" and txs[-1].args == (acct, kp_keeper[0])
    _check_refreshes(s, txs[:-1], series, budget)
    assert {f: s.oracle.feed(f)[3] for f in (BTC, ETH)} == rounds  # one round throughout
    assert liq.inAuction(acct) and _stale(s, series) == []
    assert k.stats.refreshes == len(txs) - 1 and k.stats.over_cap == 0

    chain.sleep(15 * 60)  # discount 30%: the bid pays
    set_price(s, BTC, 55_000 * WAD)  # and a new round: stale again
    assert _stale(s, series)
    auction_id = liq.auction(acct)[0]
    rounds = {f: s.oracle.feed(f)[3] for f in (BTC, ETH)}
    start = chain.height + 1
    k.step()
    txs = _mine(sent_by(me, start), acct)
    assert [t.name for t in txs][-1] == "bid", keeper_records.dump()
    bid = txs[-1]
    assert bid.args[:3] == (acct, auction_id, kp_keeper[0])
    _check_refreshes(s, txs[:-1], series, budget)
    bids = [e for e in events_of(liq, "SolventBid", start) if e["accountId"] == acct]
    assert len(bids) == 1 and bids[0]["bidderAccount"] == kp_keeper[0]
    # refreshes and bid in one round: the bid's margin checks read every array from storage
    assert {f: s.oracle.feed(f)[3] for f in (BTC, ETH)} == rounds
    assert max(t.block for t in txs[:-1]) < bid.block


def test_a_round_that_changes_during_the_refresh_makes_the_keeper_start_over(
    kp_stack, cap_victim, kp_keeper, make_keeper, keeper_records, chain
):
    """A new oracle round lands right after the first refresh transaction: the arrays stored so
    far belong to the old round. The keeper notices before its next transaction, refreshes every
    series again for the new round, and only then starts the auction."""
    s, (acct, _, series) = kp_stack, cap_victim
    me = kp_keeper[1].address
    k = make_keeper(kp_keeper, bid=NO_BIDS)
    k.start()
    set_price(s, BTC, 55_000 * WAD)
    assert _below_mm(s, acct)
    k.cfg.refresh_gas_budget = _budget(s, k, series[BTC][0])
    real_send = k.sender.send
    pushed = []

    def send(action, to, data, gas):
        sent = real_send(action, to, data, gas)
        if action["kind"] == "refresh-risk-arrays" and not pushed:
            pushed.append(set_price(s, BTC, 55_000 * WAD))  # the next round arrives
        return sent

    k.sender.send = send
    start = chain.height + 1
    k.step()
    txs = _mine(sent_by(me, start), acct)
    assert pushed and txs[-1].name == "startAuction", keeper_records.dump()
    first, rest = txs[0], txs[1:-1]
    old = first.stored_rounds(s.store.address)
    new_round = {f: s.oracle.feed(f)[2] for f in (BTC, ETH)}
    assert all(r < new_round[BTC] for r in old.values())  # stored for the old round
    assert [r["feed"] for r in keeper_records.named("round-changed")] == [BTC]
    _check_refreshes(s, rest, series, k.cfg.refresh_gas_budget)  # all again, new round
    assert set(old) <= {x for t in rest for x in t.args[0]}
    assert _stale(s, series) == []
    assert s.liquidator.inAuction(acct)


# --- the batching rule itself (no chain) -----------------------------------------------------


class _Stub:
    """A Keeper with its chain calls replaced: estimates are `base + per·n` for n series."""

    def __init__(self, keeper, base=21_000, per=100_000, rounds=None):
        from keel.client.chain import Sent

        self.sent, self.estimates = [], []
        k = keeper
        k.store = "0x" + "22" * 20
        rounds = rounds or [1000]

        def estimate(action, to, data, cap_check=True):
            n = (len(data) - 2 - 8 - 128) // 64  # the uint256[] argument's length
            gas = base + per * n
            self.estimates.append((n, gas))
            if cap_check and gas > k.cfg.tx_gas_cap:
                return k._over_cap(action, gas)
            return gas

        def submit(action, to, fn, args, gas=None):
            self.sent.append((list(args[0]), gas))
            return Sent("0x", "mined", action=action)

        k._estimate, k._submit = estimate, submit
        k.reader.rounds = lambda feeds, block="latest": {f: rounds[0] for f in feeds}
        self.rounds = rounds


@pytest.fixture
def offline_keeper(tmp_path):
    from keeper.keeper import Keeper, KeeperConfig

    cfg = KeeperConfig(
        rpc_url="http://127.0.0.1:1",
        engine="0x" + "01" * 20,
        liquidator="0x" + "02" * 20,
        vault="0x" + "03" * 20,
        oracle="0x" + "04" * 20,
        account=1,
        key="0x" + "11" * 32,
        refresh_gas_budget=521_000,  # five series of 100k
        tx_gas_cap=1_021_000,  # ten
    )
    k = Keeper(cfg)
    k.sender = Sender(_Rpc(), cfg.key, 1, None, None, gas_cap=cfg.tx_gas_cap)
    return k


def test_refresh_chunks_fit_the_budget_and_a_single_series_above_the_cap_is_never_sent(
    offline_keeper, keeper_records
):
    k = offline_keeper
    stub = _Stub(k)
    assert k._refresh_feed(BTC, list(range(1, 13)), 1000, {"account": 7}) == "ok"
    assert stub.sent == [
        (list(range(1, 6)), 521_000),
        (list(range(6, 11)), 521_000),
        ([11, 12], 221_000),
    ]
    # costlier series than the first: a chunk estimated above the budget is split in two
    stub = _Stub(k, per=100_000)
    real = k._estimate

    def uneven(action, to, data, cap_check=True):
        gas = real(action, to, data, cap_check)
        n = (len(data) - 2 - 8 - 128) // 64
        return gas if n == 1 else gas + 150_000 * n  # the first series alone looks cheap

    k._estimate = uneven
    assert k._refresh_feed(BTC, list(range(1, 6)), 1000, {"account": 7}) == "ok"
    assert all(g <= 521_000 for _, g in stub.sent)
    assert sorted(x for chunk, _ in stub.sent for x in chunk) == list(range(1, 6))
    assert keeper_records.named("refresh-split")
    # one series alone above the cap: logged, never sent
    stub = _Stub(k, per=2_000_000)
    assert k._refresh_feed(BTC, [1, 2], 1000, {"account": 7}) == "over-cap"
    assert stub.sent == []
    assert keeper_records.named("over-cap")[-1]["gas"] == 2_021_000


def test_refresh_stops_when_the_round_moves_before_a_transaction(offline_keeper):
    k = offline_keeper
    stub = _Stub(k, rounds=[1000])
    real_submit = k._submit

    def submit(action, to, fn, args, gas=None):
        out = real_submit(action, to, fn, args, gas)
        stub.rounds[0] = 1060  # a new round after the first transaction
        return out

    k._submit = submit
    assert k._refresh_feed(BTC, list(range(1, 13)), 1000, {"account": 7}) == "round-changed"
    assert stub.sent == [(list(range(1, 6)), 521_000)]
