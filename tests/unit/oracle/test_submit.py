"""Oracle.submit happy paths (SPEC §3, DESIGN "Oracle"): stored medians, rounds, events."""

from tests.fixtures.oracle import (
    BTC,
    ETH,
    SIGNER_KEYS,
    WAD,
    events,
    feed_state,
    last_block_time,
    next_block_at,
)

K = SIGNER_KEYS


def obs(prices, vols=None, keys=K):
    vols = vols or [WAD // 2] * len(prices)
    return list(zip(keys, prices, vols, strict=False))


def test_first_report_stores_medians_and_round_one(oracle, report, keeper):
    t = last_block_time()
    r = report(BTC, 1, t, obs([60_000 * WAD, 61_000 * WAD, 59_000 * WAD], [WAD, WAD // 2, 2 * WAD]))
    tx = oracle.submit([r], {"from": keeper})
    assert feed_state(oracle, BTC) == (60_000 * WAD, WAD, t, 1)
    assert events(tx, "FeedUpdated") == [
        {"feedId": BTC, "round": 1, "price": 60_000 * WAD, "vol": WAD, "observedAt": t}
    ]


def test_even_number_of_observations_takes_floor_of_mean_of_middle_two(oracle, report, keeper):
    t = last_block_time()
    prices = [100_000 * WAD, 60_000 * WAD + 1, 60_000 * WAD, 2_000 * WAD]
    vols = [3, 8, 1, 10**18]
    oracle.submit([report(BTC, 1, t, obs(prices, vols))], {"from": keeper})
    # middle two prices: 60_000e18 and 60_000e18 + 1 -> floor(mean) = 60_000e18
    # middle two vols: 3 and 8 -> 5
    assert feed_state(oracle, BTC) == (60_000 * WAD, 5, t, 1)


def test_five_observations_take_the_middle_one(oracle, report, keeper):
    t = last_block_time()
    prices = [w * WAD for w in (5_000, 4_000, 3_000, 2_000, 1_000)]
    vols = [9, 7, 5, 3, 1]
    oracle.submit([report(BTC, 1, t, obs(prices, vols))], {"from": keeper})
    assert feed_state(oracle, BTC) == (3_000 * WAD, 5, t, 1)


def test_price_and_vol_medians_are_independent(oracle, report, keeper):
    t = last_block_time()
    # The signer with the median price has the highest vol.
    oracle.submit(
        [report(BTC, 1, t, obs([1_000 * WAD, 2_000 * WAD, 3_000 * WAD], [1, 100, 50]))],
        {"from": keeper},
    )
    assert feed_state(oracle, BTC) == (2_000 * WAD, 50, t, 1)


def test_rounds_advance_one_by_one(oracle, report, keeper):
    t = last_block_time() - 100
    for rnd in range(1, 4):
        oracle.submit([report(BTC, rnd, t + rnd, obs([50_000 * WAD] * 3))], {"from": keeper})
        assert feed_state(oracle, BTC) == (50_000 * WAD, WAD // 2, t + rnd, rnd)


def test_one_submission_updates_two_feeds(oracle, report, keeper):
    t = last_block_time()
    tx = oracle.submit(
        [
            report(BTC, 1, t, obs([60_000 * WAD] * 3)),
            report(ETH, 1, t - 5, obs([3_000 * WAD] * 3, [WAD] * 3)),
        ],
        {"from": keeper},
    )
    assert feed_state(oracle, BTC) == (60_000 * WAD, WAD // 2, t, 1)
    assert feed_state(oracle, ETH) == (3_000 * WAD, WAD, t - 5, 1)
    assert events(tx, "FeedUpdated") == [
        {"feedId": BTC, "round": 1, "price": 60_000 * WAD, "vol": WAD // 2, "observedAt": t},
        {"feedId": ETH, "round": 1, "price": 3_000 * WAD, "vol": WAD, "observedAt": t - 5},
    ]


def test_one_submission_may_carry_consecutive_rounds_of_one_feed(oracle, report, keeper):
    t = last_block_time()
    oracle.submit(
        [
            report(BTC, 1, t - 10, obs([60_000 * WAD] * 3)),
            report(BTC, 2, t, obs([61_000 * WAD] * 3)),
        ],
        {"from": keeper},
    )
    assert feed_state(oracle, BTC) == (61_000 * WAD, WAD // 2, t, 2)


def test_any_quorum_subset_of_signers_is_accepted(oracle, report, keeper):
    t = last_block_time() - 10
    oracle.submit([report(BTC, 1, t, obs([60_000 * WAD] * 3, keys=K[2:]))], {"from": keeper})
    oracle.submit([report(BTC, 2, t + 1, obs([60_000 * WAD] * 3, keys=[K[4], K[0], K[2]]))])
    assert feed_state(oracle, BTC)[3] == 2


def test_bounds_are_inclusive(oracle, report, keeper):
    t = last_block_time()
    lo, hi = 1_000 * WAD, 10_000_000 * WAD
    oracle.submit([report(BTC, 1, t, obs([lo, lo, hi], [1, 10 * WAD, 10 * WAD]))])
    assert feed_state(oracle, BTC) == (lo, 10 * WAD, t, 1)


def test_observed_at_may_lead_the_block_by_max_future_drift(oracle, report, keeper):
    block = next_block_at(last_block_time() + 100)
    t = block + 60
    oracle.submit([report(BTC, 1, t, obs([60_000 * WAD] * 3))], {"from": keeper})
    assert feed_state(oracle, BTC)[2] == t


def test_submit_is_permissionless(oracle, report, mallory):
    """Anyone may relay a report: the signatures authenticate it, not the sender."""
    t = last_block_time()
    oracle.submit([report(BTC, 1, t, obs([60_000 * WAD] * 3))], {"from": mallory})
    assert feed_state(oracle, BTC)[3] == 1


def test_empty_submission_changes_nothing(oracle, keeper):
    tx = oracle.submit([], {"from": keeper})
    assert events(tx, "FeedUpdated") == []
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)
