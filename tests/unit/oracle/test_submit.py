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
    prices = [60_000 * WAD, 60_300 * WAD, 59_700 * WAD]  # within maxSpread (1%) of the median
    vols = [WAD, 95 * WAD // 100, 105 * WAD // 100]  # within maxVolSpread (10%) of the median
    r = report(BTC, 1, t, obs(prices, vols))
    tx = oracle.submit([r], {"from": keeper})
    assert feed_state(oracle, BTC) == (60_000 * WAD, WAD, t, 1)
    assert events(tx, "FeedUpdated") == [
        {
            "feedId": BTC,
            "round": 1,
            "price": 60_000 * WAD,
            "vol": WAD,
            "volFloor": 1,
            "observedAt": t,
        }
    ]


def test_even_number_of_observations_takes_floor_of_mean_of_middle_two(oracle, report, keeper):
    t = last_block_time()
    prices = [60_500 * WAD, 60_000 * WAD + 1, 60_000 * WAD, 59_500 * WAD]
    v = WAD // 2
    vols = [v + 3, v + 8, v + 1, v + WAD // 50]
    oracle.submit([report(BTC, 1, t, obs(prices, vols))], {"from": keeper})
    # middle two prices: 60_000e18 and 60_000e18 + 1 -> floor(mean) = 60_000e18
    # middle two vols: v + 3 and v + 8 -> v + 5
    assert feed_state(oracle, BTC) == (60_000 * WAD, v + 5, t, 1)


def test_five_observations_take_the_middle_one(oracle, report, keeper):
    t = last_block_time()
    prices = [w * WAD for w in (60_200, 60_100, 60_000, 59_900, 59_800)]
    vols = [WAD // 2 + d for d in (9, 7, 5, 3, 1)]
    oracle.submit([report(BTC, 1, t, obs(prices, vols))], {"from": keeper})
    assert feed_state(oracle, BTC) == (60_000 * WAD, WAD // 2 + 5, t, 1)


def test_price_and_vol_medians_are_independent(oracle, report, keeper):
    t = last_block_time()
    # The signer with the median price has the highest vol.
    vols = [WAD // 2, WAD // 2 + 100, WAD // 2 + 50]
    oracle.submit(
        [report(BTC, 1, t, obs([59_900 * WAD, 60_000 * WAD, 60_100 * WAD], vols))],
        {"from": keeper},
    )
    assert feed_state(oracle, BTC) == (60_000 * WAD, WAD // 2 + 50, t, 1)


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
        {"feedId": BTC, "round": 1, "price": 60_000 * WAD, "vol": WAD // 2, "volFloor": 1}
        | {"observedAt": t},
        {"feedId": ETH, "round": 1, "price": 3_000 * WAD, "vol": WAD, "volFloor": 1}
        | {"observedAt": t - 5},
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
    oracle.submit([report(BTC, 1, t - 1, obs([lo] * 3, [1] * 3))])
    assert feed_state(oracle, BTC) == (lo, 1, t - 1, 1)
    oracle.submit([report(BTC, 2, t, obs([hi] * 3, [10 * WAD] * 3))])
    assert feed_state(oracle, BTC) == (hi, 10 * WAD, t, 2)


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
