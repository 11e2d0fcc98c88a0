"""Observation spread (SPEC §3 [v2]): every observation of a report lies within maxSpread of the
report's median price and within maxVolSpread (relative) of its median vol, else the report reverts
`ObservationSpread(feedId, price, medianPrice, vol, medianVol)` with the observed price and vol
farthest from their medians (the lower on a tie). Boundaries: |x - m| * 1e18 > spread * m rejects.
"""

from eth_account import Account

from keel.deploy_oracle import param_key
from tests.fixtures.oracle import (
    BTC,
    ETH,
    OUTSIDER_KEYS,
    SIGNER_KEYS,
    WAD,
    events,
    feed_state,
    last_block_time,
    next_block_at,
)
from tests.support import reverts

K = SIGNER_KEYS
P = 60_000 * WAD  # [wad USD]
V = WAD // 2  # [wad]


def obs(prices, vols=None, keys=K):
    vols = vols or [V] * len(prices)
    return list(zip(keys, prices, vols, strict=False))


def pushed(oracle, report, rnd, t, prices, vols=None, feed=BTC):
    next_block_at(max(t, last_block_time() + 1))
    return oracle.submit([report(feed, rnd, t, obs(prices, vols))])


# --- The attack ---


def test_attack_4_minority_signers_set_price(oracle, report, mallory):
    """Attack 4 on the old rule: the submitter chooses which signed observations form a report and
    the median was taken over that subset. Two colluding signers of five (K3, K4) signed $30,000 for
    the round the honest relayer (K0, K1, K2 at $60,000) had pending, copied one honest observation
    out of the relayer's transaction and front-ran it: median $30,000 accepted, the breaker tripped
    (a 50% fall) and the honest report then failed WrongRound. Now every observation must lie
    within maxSpread (1%) of the median: the report reverts ObservationSpread, and the feed, the
    breaker and the honest round stay as they were."""
    t = last_block_time() + 10
    pushed(oracle, report, 1, t, [P] * 3)  # round 1, honest
    before = feed_state(oracle, BTC)

    next_block_at(t + 60)
    honest = report(BTC, 2, t + 60, obs([P] * 3))  # the relayer's pending round 2
    copied = honest[3][0]  # K0's signed observation, copied from the pending transaction
    colluders = report(BTC, 2, t + 60, obs([30_000 * WAD] * 2, keys=K[3:5]))[3]
    attack = (BTC, 2, t + 60, [copied, *colluders])
    with reverts("ObservationSpread", BTC, P, 30_000 * WAD, V, V):
        oracle.submit([attack], {"from": mallory})
    assert feed_state(oracle, BTC) == before  # price $60,000, round 1
    assert oracle.reduceOnlyUntil(BTC) == 0 and not oracle.isReduceOnly(BTC)

    tx = oracle.submit([honest], {"from": mallory})  # the honest round is not pre-empted
    assert events(tx, "FeedUpdated")[0]["round"] == 2
    assert feed_state(oracle, BTC) == (P, V, t + 60, 2)


def test_colluders_with_a_copied_observation_move_the_price_by_at_most_the_spread(oracle, report):
    """What f + 1 colluders can still do: a median at most maxSpread from the copied honest
    observation. $59,406 is within 1% of the honest $60,000 (594 <= 594.06): accepted, no breaker;
    $59,405 is not (595 > 594.05)."""
    t = last_block_time() + 10
    pushed(oracle, report, 1, t, [P] * 3)
    honest = report(BTC, 2, t + 1, obs([P] * 3))
    for price, ok in ((59_405 * WAD, False), (59_406 * WAD, True)):
        colluders = report(BTC, 2, t + 1, obs([price] * 2, keys=K[3:5]))[3]
        attack = (BTC, 2, t + 1, [honest[3][0], *colluders])
        next_block_at(last_block_time() + 1)
        if ok:
            oracle.submit([attack])
            assert feed_state(oracle, BTC) == (price, V, t + 1, 2)
            assert not oracle.isReduceOnly(BTC)
        else:
            with reverts("ObservationSpread", BTC, P, price, V, V):
                oracle.submit([attack])
            assert feed_state(oracle, BTC)[3] == 1


# --- Boundaries: price ---


def test_price_just_inside_the_spread_above_is_accepted(oracle, report):
    t = last_block_time()
    pushed(oracle, report, 1, t, [60_600 * WAD, P, P])  # exactly +1% of the median
    assert feed_state(oracle, BTC) == (P, V, t, 1)


def test_price_just_outside_the_spread_above_is_rejected(oracle, report):
    t = last_block_time()
    with reverts("ObservationSpread", BTC, 60_600 * WAD + 1, P, V, V):
        pushed(oracle, report, 1, t, [60_600 * WAD + 1, P, P])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


def test_price_just_inside_the_spread_below_is_accepted(oracle, report):
    t = last_block_time()
    pushed(oracle, report, 1, t, [P, 59_400 * WAD, P])  # exactly -1% of the median
    assert feed_state(oracle, BTC) == (P, V, t, 1)


def test_price_just_outside_the_spread_below_is_rejected(oracle, report):
    t = last_block_time()
    with reverts("ObservationSpread", BTC, 59_400 * WAD - 1, P, V, V):
        pushed(oracle, report, 1, t, [P, 59_400 * WAD - 1, P])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


def test_the_spread_is_measured_from_the_median_of_an_even_report(oracle, report):
    """Four observations: the median is the mean of the middle two (60,000 and 60,001: 60,000.5),
    and the ends are checked against it."""
    t = last_block_time()
    m = 60_000 * WAD + WAD // 2
    hi = m + m // 100  # +1% of the median, exactly (m is a multiple of 100)
    pushed(oracle, report, 1, t, [P, 60_001 * WAD, hi, 59_500 * WAD])
    assert feed_state(oracle, BTC) == (m, V, t, 1)
    with reverts("ObservationSpread", BTC, hi + 1, m, V, V):
        pushed(oracle, report, 2, t + 1, [P, 60_001 * WAD, hi + 1, 59_500 * WAD])


def test_the_lower_end_is_reported_on_a_tie(oracle, report):
    t = last_block_time()
    with reverts("ObservationSpread", BTC, 59_000 * WAD, P, V, V):
        pushed(oracle, report, 1, t, [61_000 * WAD, 59_000 * WAD, P])


# --- Boundaries: vol ---


def test_vol_just_inside_the_spread_is_accepted(oracle, report):
    t = last_block_time()
    pushed(oracle, report, 1, t, [P] * 3, [V, 55 * WAD // 100, V])  # +10% of the median vol
    pushed(oracle, report, 2, t + 1, [P] * 3, [45 * WAD // 100, V, V])  # -10%
    assert feed_state(oracle, BTC) == (P, V, t + 1, 2)


def test_vol_just_outside_the_spread_above_is_rejected(oracle, report):
    t = last_block_time()
    with reverts("ObservationSpread", BTC, P, P, 55 * WAD // 100 + 1, V):
        pushed(oracle, report, 1, t, [P] * 3, [V, 55 * WAD // 100 + 1, V])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


def test_vol_just_outside_the_spread_below_is_rejected(oracle, report):
    t = last_block_time()
    with reverts("ObservationSpread", BTC, P, P, 45 * WAD // 100 - 1, V):
        pushed(oracle, report, 1, t, [P] * 3, [45 * WAD // 100 - 1, V, V])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


# --- Parameters and order of checks ---


def test_a_wider_max_spread_applies_to_the_next_report(oracle, report, deployer):
    t = last_block_time()
    with reverts("ObservationSpread", BTC, 61_200 * WAD, P, V, V):
        pushed(oracle, report, 1, t, [61_200 * WAD, P, P])
    tx = oracle.setParam(param_key("maxSpread"), WAD // 50, {"from": deployer})
    assert events(tx, "ParamSet") == [{"what": param_key("maxSpread"), "value": WAD // 50}]
    pushed(oracle, report, 1, t, [61_200 * WAD, P, P])  # +2%
    assert feed_state(oracle, BTC)[:2] == (P, V)


def test_a_narrower_max_vol_spread_applies_to_the_next_report(oracle, report, deployer):
    t = last_block_time()
    oracle.setParam(param_key("maxVolSpread"), WAD // 20, {"from": deployer})  # 5%
    with reverts("ObservationSpread", BTC, P, P, 53 * WAD // 100, V):
        pushed(oracle, report, 1, t, [P] * 3, [V, 53 * WAD // 100, V])
    pushed(oracle, report, 1, t, [P] * 3, [V, 525 * WAD // 1000, V])  # +5%
    assert feed_state(oracle, BTC)[:2] == (P, V)


def test_signature_errors_come_before_the_spread(oracle, report):
    """The spread is checked once every observation is verified: an outsider's far-off price is an
    UnknownSigner, not an ObservationSpread."""
    t = last_block_time()
    outsider = OUTSIDER_KEYS[0]
    bad = report(BTC, 1, t, [(K[0], P, V), (K[1], P, V), (outsider, 30_000 * WAD, V)])
    with reverts("UnknownSigner", BTC, Account.from_key(outsider).address):
        oracle.submit([bad])


def test_one_report_beyond_the_spread_reverts_the_whole_submission(oracle, report):
    t = last_block_time()
    good = report(ETH, 1, t, obs([3_000 * WAD] * 3))
    bad = report(BTC, 1, t, obs([P, P, 70_000 * WAD]))
    with reverts("ObservationSpread", BTC, 70_000 * WAD, P, V, V):
        oracle.submit([good, bad])
    assert feed_state(oracle, ETH) == (0, 0, 0, 0)
