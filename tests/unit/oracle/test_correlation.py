"""The correlation feed (SPEC §3 [v2]): a signed ρ per pair of listed feeds, under the price
reports' rules.

A `CorrelationReport` (feedA < feedB, round, observedAt, [(rho, v, r, s)]) goes in through
`submitWithCorrelations(priceReports, correlationReports)`. It needs a quorum of distinct authorised
low-s signatures over `Correlation(feedA, feedB, round, observedAt, rho)`, consecutive rounds per
pair, a newer observedAt at most maxFutureDrift ahead, every ρ in [-1e18, 1e18], and every ρ within
maxCorrelationSpread (absolute, default 0.10) of the median, which is stored. The header and
signature errors name the pair id feedA << 128 | feedB. A bad report reverts the whole submission
and changes nothing. Each limit is tried at the edge and one past it; expected medians are worked
by hand.
"""

import brownie
import pytest
from brownie import chain
from eth_account import Account

from keel.deploy_oracle import param_key
from keel.eip712 import Signature, to_high_s
from keel.observations import CorrelationObservation, oracle_domain, pair_id
from tests.fixtures.oracle import (
    BTC,
    ETH,
    OUTSIDER_KEYS,
    SIGNER_KEYS,
    WAD,
    last_block_time,
    next_block_at,
    plain,
)
from tests.support import reverts

K = SIGNER_KEYS
PAIR = pair_id(BTC, ETH)  # 2^128 + 2
HOUR = 3600
EMPTY = (0, 0, 0)  # a pair never reported: (rho, observedAt, round)


def rhos(values, keys=K):
    return list(zip(keys, values, strict=False))


def submit(oracle, *corr, prices=()):
    return oracle.submitWithCorrelations(list(prices), list(corr))


def state(oracle, a=BTC, b=ETH):
    return plain(oracle.correlation(a, b))


def mine_at(timestamp):
    next_block_at(timestamp)
    chain.mine()


def events(tx, name):
    if name not in tx.events:
        return []
    return [{k: plain(v) for k, v in dict(e).items()} for e in tx.events[name]]


def test_pair_id_is_above_every_feed_id():
    assert PAIR == 2**128 + 2


# --- Accepted reports ---


def test_first_report_stores_the_median(oracle, corr_report):
    t = last_block_time()
    rho = [8 * WAD // 10, 75 * WAD // 100, 85 * WAD // 100]
    tx = submit(oracle, corr_report(BTC, ETH, 1, t, rhos(rho)))
    assert state(oracle) == (8 * WAD // 10, t, 1)
    assert events(tx, "CorrelationUpdated") == [
        {"feedA": BTC, "feedB": ETH, "round": 1, "rho": 8 * WAD // 10, "observedAt": t}
    ]
    assert "FeedUpdated" not in tx.events


def test_negative_correlations_and_the_median_of_five(oracle, corr_report):
    c = WAD // 100
    submit(
        oracle,
        corr_report(
            BTC, ETH, 1, last_block_time(), rhos([-30 * c, -25 * c, -35 * c, -28 * c, -32 * c])
        ),
    )
    assert state(oracle)[0] == -30 * c


def test_even_count_median_floors_the_mean_of_the_middle_two(oracle, corr_report):
    """Middle two -0.5 and -0.5 + 3 wei: mean -0.5 + 1.5 wei, floored to -0.5 + 1 wei (toward -inf,
    as the contract's median of rho + 1e18)."""
    h = -WAD // 2
    submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([h, h + 3, h - 7, h + 9])))
    assert state(oracle)[0] == h + 1


def test_middle_two_straddling_zero(oracle, corr_report):
    """-1 wei and +2 wei: mean 0.5 wei, floored to 0."""
    submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([-1, 2, -5, 4])))
    assert state(oracle)[0] == 0


def test_bounds_are_inclusive(oracle, corr_report):
    t = last_block_time() - 10
    submit(oracle, corr_report(BTC, ETH, 1, t, rhos([WAD] * 3)))
    assert state(oracle) == (WAD, t, 1)
    submit(oracle, corr_report(BTC, ETH, 2, t + 1, rhos([-WAD] * 3)))
    assert state(oracle) == (-WAD, t + 1, 2)


def test_rounds_advance_one_by_one_and_views_take_either_order(oracle, corr_report):
    t = last_block_time() - 10
    for rnd in (1, 2, 3):
        submit(oracle, corr_report(BTC, ETH, rnd, t + rnd, rhos([rnd * WAD // 10] * 3)))
        assert state(oracle) == (rnd * WAD // 10, t + rnd, rnd)
        assert state(oracle, ETH, BTC) == state(oracle)


def test_one_submission_carries_prices_and_correlations(oracle, report, corr_report):
    t = last_block_time()
    prices = [
        report(BTC, 1, t, [(k, 60_000 * WAD, WAD // 2, 7 * WAD // 10) for k in K[:3]]),
        report(ETH, 1, t, [(k, 3_000 * WAD, WAD // 2, 8 * WAD // 10) for k in K[:3]]),
    ]
    tx = submit(oracle, corr_report(BTC, ETH, 1, t, rhos([WAD // 2] * 3)), prices=prices)
    assert [e["feedId"] for e in events(tx, "FeedUpdated")] == [BTC, ETH]
    assert state(oracle) == (WAD // 2, t, 1)
    assert plain(oracle.feed(ETH))[1] == 8 * WAD // 10


def test_pairs_are_independent(oracle, corr_report, deployer):
    oracle.addFeed(3, WAD, 10**6 * WAD, 10 * WAD, {"from": deployer})
    t = last_block_time()
    submit(
        oracle,
        corr_report(BTC, ETH, 1, t, rhos([WAD // 2] * 3)),
        corr_report(BTC, 3, 1, t, rhos([WAD // 4] * 3)),
        corr_report(ETH, 3, 1, t, rhos([-WAD // 4] * 3)),
    )
    assert state(oracle, BTC, 3) == (WAD // 4, t, 1)
    assert state(oracle, 3, ETH) == (-WAD // 4, t, 1)
    assert state(oracle) == (WAD // 2, t, 1)


def test_submission_is_permissionless(oracle, corr_report, mallory):
    r = corr_report(BTC, ETH, 1, last_block_time(), rhos([0] * 3))
    oracle.submitWithCorrelations([], [r], {"from": mallory})
    assert state(oracle)[2] == 1


# --- Staleness (the feeds' heartbeat) ---


def test_never_reported_pair_is_stale_and_empty(oracle, deployer):
    assert state(oracle) == EMPTY
    block = next_block_at(last_block_time() + 10)
    with reverts("StaleCorrelation", BTC, ETH, 0, block):
        oracle.freshCorrelation.transact(BTC, ETH, {"from": deployer})


def test_fresh_until_exactly_one_heartbeat(oracle, corr_report):
    t = last_block_time() + 10
    next_block_at(t)
    submit(oracle, corr_report(BTC, ETH, 1, t, rhos([-WAD // 5] * 3)))
    mine_at(t + HOUR)
    assert plain(oracle.freshCorrelation(ETH, BTC)) == (-WAD // 5, t)


def test_stale_one_second_after_the_heartbeat(oracle, corr_report, deployer):
    t = last_block_time() + 10
    next_block_at(t)
    submit(oracle, corr_report(BTC, ETH, 1, t, rhos([WAD // 5] * 3)))
    next_block_at(t + HOUR + 1)
    with reverts("StaleCorrelation", BTC, ETH, t, t + HOUR + 1):
        oracle.freshCorrelation.transact(BTC, ETH, {"from": deployer})


def test_staleness_follows_the_heartbeat_param(oracle, corr_report, deployer):
    oracle.setParam(param_key("heartbeat"), 2 * HOUR, {"from": deployer})
    t = last_block_time() + 10
    next_block_at(t)
    submit(oracle, corr_report(BTC, ETH, 1, t, rhos([WAD // 5] * 3)))
    mine_at(t + 2 * HOUR)
    assert plain(oracle.freshCorrelation(BTC, ETH)) == (WAD // 5, t)


# --- Rejections: every one changes nothing ---


def _first(oracle, corr_report, t=None):
    t = t if t is not None else last_block_time() - 10
    submit(oracle, corr_report(BTC, ETH, 1, t, rhos([WAD // 2] * 3)))
    return t


@pytest.mark.parametrize("a,b", [(ETH, BTC), (BTC, BTC), (BTC, 3), (0, BTC), (BTC, 2**128 + 1)])
def test_unknown_pair(oracle, corr_report, a, b):
    """Unsorted, a feed with itself, an unlisted feed, feed 0, an id past 2^128."""
    with reverts("UnknownPair", a, b):
        submit(oracle, corr_report(a, b, 1, last_block_time(), rhos([0] * 3)))
    assert state(oracle) == EMPTY


def test_rho_one_wei_above_one(oracle, corr_report):
    with reverts("CorrelationOutOfBounds", BTC, ETH, WAD + 1):
        submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([WAD, WAD + 1, WAD])))
    assert state(oracle) == EMPTY


def test_rho_one_wei_below_minus_one(oracle, corr_report):
    with reverts("CorrelationOutOfBounds", BTC, ETH, -WAD - 1):
        submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([-WAD - 1, -WAD, -WAD])))
    assert state(oracle) == EMPTY


def test_spread_at_the_limit_passes(oracle, corr_report):
    s = WAD // 10
    submit(
        oracle,
        corr_report(BTC, ETH, 1, last_block_time(), rhos([WAD // 2 - s, WAD // 2, WAD // 2 + s])),
    )
    assert state(oracle)[0] == WAD // 2


def test_spread_one_wei_past_the_limit(oracle, corr_report):
    s = WAD // 10
    with reverts("CorrelationSpread", BTC, ETH, WAD // 2 + s + 1, WAD // 2):
        submit(
            oracle,
            corr_report(
                BTC, ETH, 1, last_block_time(), rhos([WAD // 2 - s, WAD // 2, WAD // 2 + s + 1])
            ),
        )
    assert state(oracle) == EMPTY


def test_spread_names_the_low_end_on_a_tie(oracle, corr_report):
    s = WAD // 10 + 1
    with reverts("CorrelationSpread", BTC, ETH, -s, 0):
        submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([-s, 0, s])))


def test_attack_minority_cannot_carry_rho(oracle, corr_report):
    """Two colluders (f + 1) with one copied honest observation: ρ = -1 from the colluders is
    rejected, since the honest 0.8 lies 1.8 from the median -1."""
    with reverts("CorrelationSpread", BTC, ETH, 8 * WAD // 10, -WAD):
        submit(
            oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([-WAD, -WAD, 8 * WAD // 10]))
        )
    assert state(oracle) == EMPTY


def test_spread_follows_its_governance_param(oracle, corr_report, deployer):
    tx = oracle.setParam(param_key("maxCorrelationSpread"), WAD // 4, {"from": deployer})
    assert plain(tx.events["ParamSet"]["value"]) == WAD // 4
    assert oracle.maxCorrelationSpread() == WAD // 4
    q = WAD // 4
    submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([-q, 0, q])))
    assert state(oracle)[0] == 0


def test_replayed_round(oracle, corr_report):
    t = _first(oracle, corr_report)
    with reverts("WrongRound", PAIR, 1, 2):
        submit(oracle, corr_report(BTC, ETH, 1, t + 1, rhos([0] * 3)))
    assert state(oracle) == (WAD // 2, t, 1)


def test_skipped_round(oracle, corr_report):
    with reverts("WrongRound", PAIR, 2, 1):
        submit(oracle, corr_report(BTC, ETH, 2, last_block_time(), rhos([0] * 3)))


def test_not_newer(oracle, corr_report):
    t = _first(oracle, corr_report)
    with reverts("ObservationNotNewer", PAIR, t, t):
        submit(oracle, corr_report(BTC, ETH, 2, t, rhos([0] * 3)))
    assert state(oracle) == (WAD // 2, t, 1)


def test_max_future_drift_edge(oracle, corr_report):
    block = next_block_at(last_block_time() + 10)
    with reverts("ObservationInFuture", PAIR, block + 61, block + 60):
        submit(oracle, corr_report(BTC, ETH, 1, block + 61, rhos([0] * 3)))
    block = next_block_at(last_block_time() + 10)
    submit(oracle, corr_report(BTC, ETH, 1, block + 60, rhos([0] * 3)))
    assert state(oracle) == (0, block + 60, 1)


def test_quorum_not_met(oracle, corr_report):
    with reverts("QuorumNotMet", PAIR, 2, 3):
        submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([0] * 2)))


def test_forged_signer(oracle, corr_report):
    keys = [K[0], K[1], OUTSIDER_KEYS[0]]
    with reverts("UnknownSigner", PAIR, Account.from_key(OUTSIDER_KEYS[0]).address):
        submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([0] * 3, keys)))
    assert state(oracle) == EMPTY


def test_duplicate_signer(oracle, corr_report):
    keys = [K[0], K[1], K[0]]
    with reverts("DuplicateSigner", PAIR, Account.from_key(K[0]).address):
        submit(oracle, corr_report(BTC, ETH, 1, last_block_time(), rhos([0, 0, WAD // 20], keys)))


def test_a_signature_of_another_message_recovers_to_a_stranger(oracle, corr_report):
    """A signature over another pair (or message) recovers to a stranger, never to the signer."""
    t = last_block_time()
    r = corr_report(BTC, ETH, 1, t, rhos([0] * 3))
    other = corr_report(BTC, ETH, 1, t + 1, rhos([0] * 3))  # same keys, another observedAt
    rows = list(r[4])
    rows[1] = other[4][1]
    digest = CorrelationObservation(BTC, ETH, 1, t, 0).digest(
        oracle_domain(chain.id, oracle.address)
    )
    _, v, rr, s = rows[1]
    stranger = Account._recover_hash(digest, vrs=(v, rr, s))  # noqa: SLF001
    with reverts("UnknownSigner", PAIR, stranger):
        submit(oracle, (*r[:4], rows))


def test_high_s_signature(oracle, corr_report):
    r = corr_report(BTC, ETH, 1, last_block_time(), rhos([0] * 3))
    rows = list(r[4])
    rho, v, rr, s = rows[2]
    high = to_high_s(Signature(v, bytes(rr), bytes(s)))
    rows[2] = (rho, high.v, high.r, high.s)
    with brownie.reverts(f"MalleableSignature: {PAIR}, 2, {bytes(high.s)}"):
        submit(oracle, (*r[:4], rows))


def test_invalid_signature(oracle, corr_report):
    r = corr_report(BTC, ETH, 1, last_block_time(), rhos([0] * 3))
    rows = list(r[4])
    rows[0] = (0, 27, bytes(32), bytes(32))
    with reverts("InvalidSignature", PAIR, 0):
        submit(oracle, (*r[:4], rows))


def test_a_bad_correlation_reverts_the_price_reports_with_it(oracle, report, corr_report):
    t = last_block_time()
    price = report(BTC, 1, t, [(k, 60_000 * WAD, WAD // 2) for k in K[:3]])
    with reverts("CorrelationOutOfBounds", BTC, ETH, 2 * WAD):
        submit(oracle, corr_report(BTC, ETH, 1, t, rhos([2 * WAD] * 3)), prices=[price])
    assert plain(oracle.feed(BTC)) == (0, 0, 0, 0)


def test_a_bad_price_report_reverts_the_correlations_with_it(oracle, report, corr_report):
    t = last_block_time()
    price = report(BTC, 2, t, [(k, 60_000 * WAD, WAD // 2) for k in K[:3]])
    with reverts("WrongRound", BTC, 2, 1):
        submit(oracle, corr_report(BTC, ETH, 1, t, rhos([0] * 3)), prices=[price])
    assert state(oracle) == EMPTY


def test_correlation_digest_matches_python(oracle):
    d = oracle_domain(chain.id, oracle.address)
    for a, b, rnd, t, rho in [
        (BTC, ETH, 1, 1_700_000_000, -3 * WAD // 10),
        (BTC, ETH, 2**32 - 1, 2**32 - 1, WAD),
        (0, 2**256 - 1, 0, 0, -(2**255)),
    ]:
        expected = CorrelationObservation(a, b, rnd, t, rho).digest(d)
        assert plain(oracle.correlationDigest(a, b, rnd, t, rho)) == expected
