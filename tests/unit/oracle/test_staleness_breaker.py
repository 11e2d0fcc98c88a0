"""Staleness (freshFeed / isStale) and the circuit breaker (isReduceOnly), SPEC §3.

View calls are evaluated at the latest block's timestamp; `evm_setNextBlockTimestamp` + a mined block puts the
latest block exactly where a boundary is (`mine_at`). brownie decodes custom errors of transactions only, so
the exact `StalePrice` revert is checked through `freshFeed.transact`.
"""

from brownie import chain

from keel.deploy_oracle import param_key
from tests.fixtures.oracle import (
    BTC,
    ETH,
    SIGNER_KEYS,
    WAD,
    events,
    last_block_time,
    next_block_at,
    plain,
)
from tests.support import reverts

K = SIGNER_KEYS
HOUR = 3600
COOL_DOWN = 30 * 60


def push(oracle, report, feed_id, rnd, t, price, vol=WAD // 2):
    """Submits round `rnd` of `feed_id` observed at `t` (mined in a block at max(t, next))."""
    next_block_at(max(t, last_block_time() + 1))
    return oracle.submit([report(feed_id, rnd, t, [(k, price, vol) for k in K[:3]])])


def mine_at(timestamp):
    """Mines an empty block at exactly `timestamp` (brownie's chain.mine(timestamp=) fails on anvil)."""
    next_block_at(timestamp)
    chain.mine()


# --- Staleness ---


def test_never_reported_feed_is_stale(oracle, deployer):
    assert oracle.isStale(BTC)
    block = next_block_at(last_block_time() + 10)
    with reverts("StalePrice", BTC, 0, block):
        oracle.freshFeed.transact(BTC, {"from": deployer})


def test_unknown_feed_is_stale(oracle):
    assert oracle.isStale(99)


def test_feed_is_fresh_until_exactly_one_heartbeat(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 60_000 * WAD)
    mine_at(t + HOUR)
    assert not oracle.isStale(BTC)
    assert plain(oracle.freshFeed(BTC)) == (60_000 * WAD, WAD // 2, t)


def test_feed_is_stale_one_second_after_the_heartbeat(oracle, report, deployer):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 60_000 * WAD)
    mine_at(t + HOUR + 1)
    assert oracle.isStale(BTC)
    next_block_at(t + HOUR + 2)
    with reverts("StalePrice", BTC, t, t + HOUR + 2):
        oracle.freshFeed.transact(BTC, {"from": deployer})


def test_a_new_report_makes_a_stale_feed_fresh(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 60_000 * WAD)
    mine_at(t + 2 * HOUR)
    assert oracle.isStale(BTC)
    push(oracle, report, BTC, 2, t + 2 * HOUR + 5, 60_000 * WAD)
    assert not oracle.isStale(BTC)


def test_future_dated_observation_is_fresh(oracle, report):
    """observedAt may lead the block by maxFutureDrift; staleness must not underflow."""
    block = next_block_at(last_block_time() + 10)
    oracle.submit([report(BTC, 1, block + 60, [(k, 60_000 * WAD, WAD) for k in K[:3]])])
    assert not oracle.isStale(BTC)
    assert plain(oracle.freshFeed(BTC)) == (60_000 * WAD, WAD, block + 60)


def test_heartbeat_parameter_moves_the_boundary(oracle, report, deployer):
    oracle.setParam(param_key("heartbeat"), 600, {"from": deployer})
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 60_000 * WAD)
    mine_at(t + 600)
    assert not oracle.isStale(BTC)
    mine_at(t + 601)
    assert oracle.isStale(BTC)


def test_staleness_is_per_feed(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 60_000 * WAD)
    push(oracle, report, ETH, 1, t + HOUR, 3_000 * WAD)
    mine_at(t + HOUR + 1)
    assert oracle.isStale(BTC)
    assert not oracle.isStale(ETH)


# --- Circuit breaker ---


def test_first_report_never_trips(oracle, report):
    tx = push(oracle, report, BTC, 1, last_block_time() + 10, 9_000_000 * WAD)
    assert events(tx, "CircuitBreakerTripped") == []
    assert not oracle.isReduceOnly(BTC)
    assert oracle.reduceOnlyUntil(BTC) == 0


def test_move_of_exactly_the_threshold_does_not_trip(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    tx = push(oracle, report, BTC, 2, t + 1, 60_000 * WAD)  # +20%
    tx2 = push(oracle, report, BTC, 3, t + 2, 48_000 * WAD)  # -20%
    assert events(tx, "CircuitBreakerTripped") == [] == events(tx2, "CircuitBreakerTripped")
    assert not oracle.isReduceOnly(BTC)


def test_rise_above_the_threshold_trips_for_the_cool_down(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    tx = push(oracle, report, BTC, 2, t + 1, 60_000 * WAD + 1)
    until = tx.timestamp + COOL_DOWN
    assert events(tx, "CircuitBreakerTripped") == [
        {"feedId": BTC, "previousPrice": 50_000 * WAD, "price": 60_000 * WAD + 1, "until": until}
    ]
    assert oracle.isReduceOnly(BTC)
    assert oracle.reduceOnlyUntil(BTC) == until
    assert not oracle.isReduceOnly(ETH)


def test_fall_below_the_threshold_trips(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    tx = push(oracle, report, BTC, 2, t + 1, 40_000 * WAD - 1)
    assert events(tx, "CircuitBreakerTripped") == [
        {
            "feedId": BTC,
            "previousPrice": 50_000 * WAD,
            "price": 40_000 * WAD - 1,
            "until": tx.timestamp + COOL_DOWN,
        }
    ]
    assert oracle.isReduceOnly(BTC)


def test_the_tripping_report_is_still_accepted(oracle, report):
    """A real crash must be priced (and liquidated), not frozen."""
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    push(oracle, report, BTC, 2, t + 1, 20_000 * WAD)
    assert plain(oracle.feed(BTC))[:1] == (20_000 * WAD,)


def test_reduce_only_ends_exactly_at_the_end_of_the_cool_down(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    tx = push(oracle, report, BTC, 2, t + 1, 70_000 * WAD)
    until = tx.timestamp + COOL_DOWN
    mine_at(until - 1)
    assert oracle.isReduceOnly(BTC)
    mine_at(until)
    assert not oracle.isReduceOnly(BTC)


def test_a_second_jump_extends_the_cool_down(oracle, report):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    push(oracle, report, BTC, 2, t + 1, 70_000 * WAD)
    tx = push(oracle, report, BTC, 3, t + 600, 50_000 * WAD)
    assert oracle.reduceOnlyUntil(BTC) == tx.timestamp + COOL_DOWN


def test_a_shorter_cool_down_never_shortens_a_running_one(oracle, report, deployer):
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    first = push(oracle, report, BTC, 2, t + 1, 70_000 * WAD)
    oracle.setParam(param_key("coolDown"), 60, {"from": deployer})
    tx = push(oracle, report, BTC, 3, t + 10, 50_000 * WAD)
    until = first.timestamp + COOL_DOWN
    assert events(tx, "CircuitBreakerTripped")[0]["until"] == until
    assert oracle.reduceOnlyUntil(BTC) == until


def test_jump_threshold_parameter_applies(oracle, report, deployer):
    oracle.setParam(param_key("jumpThreshold"), WAD // 20, {"from": deployer})  # 5%
    t = last_block_time() + 10
    push(oracle, report, BTC, 1, t, 50_000 * WAD)
    tx = push(oracle, report, BTC, 2, t + 1, 52_500 * WAD)  # exactly 5%: no trip
    assert events(tx, "CircuitBreakerTripped") == []
    tx = push(oracle, report, BTC, 3, t + 2, 55_200 * WAD)  # 5.14%
    assert len(events(tx, "CircuitBreakerTripped")) == 1
