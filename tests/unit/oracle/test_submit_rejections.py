"""Every way Oracle.submit rejects a report (SPEC §3 "Reject"), with its exact custom error.

A rejected submission is atomic: nothing of it is stored (DESIGN "Oracle").
"""

import brownie
from brownie import chain
from eth_account import Account

from keel.eip712 import Signature, to_high_s
from keel.observations import Observation, oracle_domain
from tests.fixtures.oracle import (
    BTC,
    ETH,
    FEED_BOUNDS,
    OUTSIDER_KEYS,
    SIGNER_KEYS,
    WAD,
    feed_state,
    last_block_time,
    next_block_at,
)
from tests.support import reverts

K = SIGNER_KEYS
P = 60_000 * WAD
V = WAD // 2
MIN_P, MAX_P, MAX_V = FEED_BOUNDS[BTC]


def three(price=P, vol=V):
    return [(k, price, vol) for k in K[:3]]


def addr(key):
    return Account.from_key(key).address


def with_sig(report, index, sig):
    """A copy of `report` whose observation `index` carries signature `sig` instead."""
    feed_id, rnd, t, observations = report
    observations = list(observations)
    price, vol, floor = observations[index][:3]
    observations[index] = (price, vol, floor, sig.v, sig.r, sig.s)
    return (feed_id, rnd, t, observations)


def recovered(oracle, report, index):
    """The address the oracle recovers for observation `index` of `report` (its own domain)."""
    feed_id, rnd, t, observations = report
    price, vol, floor, v, r, s = observations[index]
    digest = Observation(feed_id, rnd, t, price, vol, floor).digest(
        oracle_domain(chain.id, oracle.address)
    )
    return Account._recover_hash(digest, vrs=(v, r, s))  # noqa: SLF001


def test_unknown_feed(oracle, report):
    with reverts("UnknownFeed", 3):
        oracle.submit([report(3, 1, last_block_time(), three())])


def test_replayed_round(oracle, report):
    t = last_block_time() - 10
    oracle.submit([report(BTC, 1, t, three())])
    with reverts("WrongRound", BTC, 1, 2):
        oracle.submit([report(BTC, 1, t + 1, three())])


def test_exact_replay_of_an_accepted_report(oracle, report):
    r = report(BTC, 1, last_block_time(), three())
    oracle.submit([r])
    with reverts("WrongRound", BTC, 1, 2):
        oracle.submit([r])


def test_skipped_round(oracle, report):
    with reverts("WrongRound", BTC, 2, 1):
        oracle.submit([report(BTC, 2, last_block_time(), three())])


def test_observed_at_equal_to_stored(oracle, report):
    t = last_block_time()
    oracle.submit([report(BTC, 1, t, three())])
    with reverts("ObservationNotNewer", BTC, t, t):
        oracle.submit([report(BTC, 2, t, three())])


def test_observed_at_older_than_stored(oracle, report):
    t = last_block_time()
    oracle.submit([report(BTC, 1, t, three())])
    with reverts("ObservationNotNewer", BTC, t - 1, t):
        oracle.submit([report(BTC, 2, t - 1, three())])


def test_observed_at_zero_on_a_fresh_feed(oracle, report):
    with reverts("ObservationNotNewer", BTC, 0, 0):
        oracle.submit([report(BTC, 1, 0, three())])


def test_observed_at_beyond_max_future_drift(oracle, report):
    block = next_block_at(last_block_time() + 100)
    with reverts("ObservationInFuture", BTC, block + 61, block + 60):
        oracle.submit([report(BTC, 1, block + 61, three())])


def test_fewer_observations_than_quorum(oracle, report):
    with reverts("QuorumNotMet", BTC, 2, 3):
        oracle.submit([report(BTC, 1, last_block_time(), three()[:2])])


def test_no_observations(oracle, report):
    with reverts("QuorumNotMet", BTC, 0, 3):
        oracle.submit([report(BTC, 1, last_block_time(), [])])


def test_duplicate_signer_same_observation(oracle, report):
    obs = [(K[0], P, V), (K[1], P, V), (K[0], P, V)]
    with reverts("DuplicateSigner", BTC, addr(K[0])):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_duplicate_signer_with_different_values_cannot_fill_the_quorum(oracle, report):
    obs = [(K[1], P, V), (K[1], P + 1, V), (K[1], P + 2, V)]
    with reverts("DuplicateSigner", BTC, addr(K[1])):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_unknown_signer(oracle, report):
    obs = [(K[0], P, V), (OUTSIDER_KEYS[0], P, V), (K[1], P, V)]
    with reverts("UnknownSigner", BTC, addr(OUTSIDER_KEYS[0])):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_removed_signer_is_unknown(oracle, report, deployer):
    oracle.setSigner(addr(K[4]), False, {"from": deployer})
    obs = [(K[0], P, V), (K[1], P, V), (K[4], P, V)]
    with reverts("UnknownSigner", BTC, addr(K[4])):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_high_s_signature(oracle, report):
    r = report(BTC, 1, last_block_time(), three())
    _, _, _, sv, sr, ss = r[3][1]
    high = to_high_s(Signature(sv, bytes(sr), bytes(ss)))
    # brownie renders a bytes32 error argument as Python bytes (str(bytes)), which
    # tests.support.error_msg does not produce (it writes 0x-hex): match the exact text here.
    with brownie.reverts(f"MalleableSignature: {BTC}, 1, {bytes(high.s)}"):
        oracle.submit([with_sig(r, 1, high)])


def test_signature_recovering_to_no_address(oracle, report):
    r = report(BTC, 1, last_block_time(), three())
    bad = Signature(29, r[3][2][4], r[3][2][5])  # v must be 27 or 28
    with reverts("InvalidSignature", BTC, 2):
        oracle.submit([with_sig(r, 2, bad)])


def test_zero_signature(oracle, report):
    r = report(BTC, 1, last_block_time(), three())
    with reverts("InvalidSignature", BTC, 0):
        oracle.submit([with_sig(r, 0, Signature(27, bytes(32), bytes(32)))])


def test_signature_for_another_chain_is_an_unknown_signer(oracle, report):
    t = last_block_time()
    r = report(BTC, 1, t, three(), domain=oracle_domain(chain.id + 1, oracle.address))
    with reverts("UnknownSigner", BTC, recovered(oracle, r, 0)):
        oracle.submit([r])


def test_signature_for_another_contract_is_an_unknown_signer(oracle, report, alice):
    t = last_block_time()
    r = report(BTC, 1, t, three(), domain=oracle_domain(chain.id, alice.address))
    with reverts("UnknownSigner", BTC, recovered(oracle, r, 0)):
        oracle.submit([r])


def test_tampered_price_is_an_unknown_signer(oracle, report):
    r = report(BTC, 1, last_block_time(), three())
    feed_id, rnd, t, observations = r
    observations = list(observations)
    observations[1] = (P + 1, *observations[1][1:])
    r = (feed_id, rnd, t, observations)
    with reverts("UnknownSigner", BTC, recovered(oracle, r, 1)):
        oracle.submit([r])


def test_signature_for_another_round_is_an_unknown_signer(oracle, report):
    t = last_block_time()
    signed_round_2 = report(BTC, 2, t, three())
    r = (BTC, 1, t, signed_round_2[3])
    with reverts("UnknownSigner", BTC, recovered(oracle, r, 0)):
        oracle.submit([r])


def test_zero_price(oracle, report):
    obs = [(K[0], P, V), (K[1], 0, V), (K[2], P, V)]
    with reverts("PriceOutOfBounds", BTC, 0, MIN_P, MAX_P):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_price_below_min(oracle, report):
    obs = [(K[0], P, V), (K[1], P, V), (K[2], MIN_P - 1, V)]
    with reverts("PriceOutOfBounds", BTC, MIN_P - 1, MIN_P, MAX_P):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_price_above_max(oracle, report):
    obs = [(K[0], MAX_P + 1, V), (K[1], P, V), (K[2], P, V)]
    with reverts("PriceOutOfBounds", BTC, MAX_P + 1, MIN_P, MAX_P):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_zero_vol(oracle, report):
    obs = [(K[0], P, V), (K[1], P, 0), (K[2], P, V)]
    with reverts("VolOutOfBounds", BTC, 0, MAX_V):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_vol_above_max(oracle, report):
    obs = [(K[0], P, V), (K[1], P, V), (K[2], P, MAX_V + 1)]
    with reverts("VolOutOfBounds", BTC, MAX_V + 1, MAX_V):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_one_bad_report_reverts_the_whole_submission(oracle, report):
    t = last_block_time()
    good = report(BTC, 1, t, three())
    bad = report(ETH, 1, t, three()[:2])
    with reverts("QuorumNotMet", ETH, 2, 3):
        oracle.submit([good, bad])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)
    assert feed_state(oracle, ETH) == (0, 0, 0, 0)
