"""The pure-Python mirror of the Oracle's acceptance rules (oracle/rules.py, SPEC §3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.eip712 import Signature, to_high_s
from oracle import rules
from oracle.rules import FeedState, Rejected, median
from tests.fixtures.relayer import make_report

WAD = 10**18
T = 1_700_000_000
V = 8 * WAD // 10  # 80% vol


def _vals(*prices, vol=V):
    return [(p, vol) for p in prices]


# --- median ---


@pytest.mark.parametrize(
    "values, expected",
    [
        ([5], 5),
        ([3, 1, 2], 2),
        ([1, 2], 1),  # floor of 1.5
        ([1, 4], 2),  # floor of 2.5
        ([4, 1, 3, 2], 2),  # floor of (2+3)/2
        ([7, 7, 7, 7], 7),
        ([2**256 - 1, 2**256 - 3], 2**256 - 2),  # no overflow in Python; the contract must agree
    ],
)
def test_median(values, expected):
    assert median(values) == expected


@given(st.lists(st.integers(min_value=0, max_value=2**128), min_size=1, max_size=9))
def test_median_is_between_the_middle_values(values):
    xs = sorted(values)
    m = median(values)
    assert xs[(len(xs) - 1) // 2] <= m <= xs[len(xs) // 2]


def test_median_of_nothing_raises():
    with pytest.raises(ValueError):
        median([])


# --- acceptance ---


def test_accepts_a_quorum_and_stores_medians(relayer_signers, relayer_params):
    rep = make_report(
        relayer_signers[:4],
        relayer_params,
        1,
        1,
        T,
        [
            (100 * WAD, V),
            (1006 * WAD // 10, V + 2),
            (1004 * WAD // 10, V + 1),
            (998 * WAD // 10, V - V // 20),
        ],
    )
    verdict = rules.evaluate([rep], {}, relayer_params, T)
    assert verdict.ok
    # middle prices 100 and 100.4 -> 100.2; middle vols V and V + 1 -> V (floor)
    assert verdict.states[1] == FeedState(100_200_000_000_000_000_000, V, T, 1)
    assert verdict.tripped == {}


def test_later_report_of_same_feed_sees_the_earlier_one(relayer_signers, relayer_params):
    r1 = make_report(
        relayer_signers[:3], relayer_params, 1, 1, T, _vals(100 * WAD, 100 * WAD, 100 * WAD)
    )
    r2 = make_report(
        relayer_signers[:3], relayer_params, 1, 2, T + 1, _vals(130 * WAD, 130 * WAD, 130 * WAD)
    )
    verdict = rules.evaluate([r1, r2], {}, relayer_params, T + 5)
    assert verdict.states[1].round == 2 and verdict.states[1].price == 130 * WAD
    assert verdict.tripped == {1: T + 5 + 1800}
    again = rules.evaluate([r1, r1], {}, relayer_params, T)
    assert again == Rejected("WrongRound", (1, 1, 2))


def test_first_report_never_trips_and_threshold_is_strict(relayer_signers, relayer_params):
    prev = {1: FeedState(100 * WAD, V, T - 10, 4)}
    at = make_report(relayer_signers[:3], relayer_params, 1, 5, T, _vals(*[120 * WAD] * 3))
    beyond = make_report(relayer_signers[:3], relayer_params, 1, 5, T, _vals(*[120 * WAD + 1] * 3))
    down = make_report(relayer_signers[:3], relayer_params, 1, 5, T, _vals(*[80 * WAD - 1] * 3))
    assert rules.evaluate([at], prev, relayer_params, T).tripped == {}
    assert rules.evaluate([beyond], prev, relayer_params, T).tripped == {1: T + 1800}
    assert rules.evaluate([down], prev, relayer_params, T).tripped == {1: T + 1800}


def _reject(reports, params, states=None, ts=T):
    verdict = rules.evaluate(reports, states or {}, params, ts)
    assert not verdict.ok, verdict
    return verdict.error, verdict.args


def test_unknown_feed(relayer_signers, relayer_params):
    rep = make_report(relayer_signers[:3], relayer_params, 9, 1, T, _vals(*[WAD] * 3))
    assert _reject([rep], relayer_params) == ("UnknownFeed", (9,))


@pytest.mark.parametrize("round_", [0, 2, 6])
def test_wrong_round(relayer_signers, relayer_params, round_):
    states = {1: FeedState(100 * WAD, V, T - 100, 0 if round_ != 6 else 6)}
    rep = make_report(relayer_signers[:3], relayer_params, 1, round_, T, _vals(*[WAD] * 3))
    expected = states[1].round + 1
    assert _reject([rep], relayer_params, states) == ("WrongRound", (1, round_, expected))


def test_observation_not_newer(relayer_signers, relayer_params):
    states = {1: FeedState(100 * WAD, V, T, 1)}
    rep = make_report(relayer_signers[:3], relayer_params, 1, 2, T, _vals(*[WAD] * 3))
    assert _reject([rep], relayer_params, states) == ("ObservationNotNewer", (1, T, T))


def test_observation_in_future_beyond_drift(relayer_signers, relayer_params):
    ok = make_report(relayer_signers[:3], relayer_params, 1, 1, T + 60, _vals(*[WAD] * 3))
    assert rules.evaluate([ok], {}, relayer_params, T).ok
    bad = make_report(relayer_signers[:3], relayer_params, 1, 1, T + 61, _vals(*[WAD] * 3))
    assert _reject([bad], relayer_params) == ("ObservationInFuture", (1, T + 61, T + 60))


def test_quorum_not_met(relayer_signers, relayer_params):
    rep = make_report(relayer_signers[:2], relayer_params, 1, 1, T, _vals(*[WAD] * 2))
    assert _reject([rep], relayer_params) == ("QuorumNotMet", (1, 2, 3))


def test_unknown_signer(relayer_signers, relayer_outsider, relayer_params):
    signers = [relayer_signers[0], relayer_outsider, relayer_signers[1]]
    rep = make_report(signers, relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    assert _reject([rep], relayer_params) == ("UnknownSigner", (1, relayer_outsider.address))


def test_duplicate_signer(relayer_signers, relayer_params):
    signers = [relayer_signers[0], relayer_signers[1], relayer_signers[0]]
    rep = make_report(signers, relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    assert _reject([rep], relayer_params) == ("DuplicateSigner", (1, relayer_signers[0].address))


def test_malleable_signature(relayer_signers, relayer_params):
    rep = make_report(relayer_signers[:3], relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    o = rep.observations[1]
    twin = to_high_s(Signature(o.v, o.r, o.s))
    obs = list(rep.observations)
    obs[1] = rules.SignedObservation(o.price, o.vol, twin.v, twin.r, twin.s, o.vol_floor)
    bad = rules.Report(1, 1, T, tuple(obs))
    assert _reject([bad], relayer_params) == ("MalleableSignature", (1, 1, twin.s))


@pytest.mark.parametrize("v", [0, 1, 29])
def test_bad_v_is_an_invalid_signature(relayer_signers, relayer_params, v):
    rep = make_report(relayer_signers[:3], relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    o = rep.observations[2]
    obs = list(rep.observations)
    obs[2] = rules.SignedObservation(o.price, o.vol, v, o.r, o.s, o.vol_floor)
    assert _reject([rules.Report(1, 1, T, tuple(obs))], relayer_params) == (
        "InvalidSignature",
        (1, 2),
    )


def test_tampered_value_recovers_another_signer(relayer_signers, relayer_params):
    rep = make_report(relayer_signers[:3], relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    o = rep.observations[0]
    obs = [rules.SignedObservation(o.price + 1, o.vol, o.v, o.r, o.s), *rep.observations[1:]]
    error, args = _reject([rules.Report(1, 1, T, tuple(obs))], relayer_params)
    assert error == "UnknownSigner" and args[1] != relayer_signers[0].address


@pytest.mark.parametrize("price", [0, WAD - 1, 10_000_000 * WAD + 1])
def test_price_out_of_bounds(relayer_signers, relayer_params, price):
    rep = make_report(relayer_signers[:3], relayer_params, 1, 1, T, _vals(WAD, price, WAD))
    assert _reject([rep], relayer_params) == (
        "PriceOutOfBounds",
        (1, price, WAD, 10_000_000 * WAD),
    )


def test_price_bounds_are_inclusive(relayer_signers, relayer_params):
    low = make_report(relayer_signers[:3], relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    high = make_report(relayer_signers[:3], relayer_params, 1, 2, T + 1, _vals(*[10**7 * WAD] * 3))
    assert rules.evaluate([low, high], {}, relayer_params, T + 1).ok


@pytest.mark.parametrize("vol", [0, 10 * WAD + 1])
def test_vol_out_of_bounds(relayer_signers, relayer_params, vol):
    rep = make_report(
        relayer_signers[:3], relayer_params, 1, 1, T, [(WAD, V), (WAD, V), (WAD, vol)]
    )
    assert _reject([rep], relayer_params) == ("VolOutOfBounds", (1, vol, 10 * WAD))


def test_one_bad_report_rejects_the_whole_submission(relayer_signers, relayer_params):
    good = make_report(relayer_signers[:3], relayer_params, 1, 1, T, _vals(*[WAD] * 3))
    bad = make_report(relayer_signers[:2], relayer_params, 2, 1, T, _vals(*[WAD] * 2))
    assert _reject([good, bad], relayer_params) == ("QuorumNotMet", (2, 2, 3))


def test_round_is_checked_before_signatures(relayer_signers, relayer_params):
    rep = make_report(relayer_signers[:1], relayer_params, 1, 3, T, _vals(0))
    assert _reject([rep], relayer_params)[0] == "WrongRound"


def test_bounds_are_checked_before_the_signature(relayer_signers, relayer_outsider, relayer_params):
    signers = [relayer_signers[0], relayer_outsider, relayer_signers[1]]
    rep = make_report(signers, relayer_params, 1, 1, T, _vals(WAD, 0, WAD))
    assert _reject([rep], relayer_params)[0] == "PriceOutOfBounds"


def test_jump_inside_a_cool_down_extends_it_never_shortens(relayer_signers, relayer_params):
    prev = {1: FeedState(100 * WAD, V, T - 10, 4)}
    rep = make_report(relayer_signers[:3], relayer_params, 1, 5, T, _vals(*[150 * WAD] * 3))
    far = T + 10_000
    assert rules.evaluate([rep], prev, relayer_params, T, {1: far}).tripped == {1: far}
    assert rules.evaluate([rep], prev, relayer_params, T, {1: T + 5}).tripped == {1: T + 1800}


def test_known_signers_skip_recovery_with_the_same_verdict(relayer_signers, relayer_params):
    rep = make_report(
        relayer_signers[:3], relayer_params, 1, 1, T, _vals(100 * WAD, 100 * WAD + 1, 99 * WAD)
    )
    known = {o.r + o.s: s.address for o, s in zip(rep.observations, relayer_signers, strict=False)}
    plain = rules.evaluate([rep], {}, relayer_params, T)
    assert rules.evaluate([rep], {}, relayer_params, T, known_signers=known) == plain
    dup = dict(known)
    dup[rep.observations[2].r + rep.observations[2].s] = relayer_signers[0].address
    assert (
        rules.evaluate([rep], {}, relayer_params, T, known_signers=dup).error == "DuplicateSigner"
    )


# --- observation spread (SPEC §3 [v2]) ---

P = 60_000 * WAD


def _spread(relayer_signers, params, values):
    rep = make_report(relayer_signers[: len(values)], params, 1, 1, T, values)
    return rules.evaluate([rep], {}, params, T)


@pytest.mark.parametrize(
    "far, ok",
    [
        (60_600 * WAD, True),  # +1% of the median: inside
        (60_600 * WAD + 1, False),
        (59_400 * WAD, True),  # -1%
        (59_400 * WAD - 1, False),
    ],
)
def test_price_spread_boundary(relayer_signers, relayer_params, far, ok):
    verdict = _spread(relayer_signers, relayer_params, [(P, V), (far, V), (P, V)])
    if ok:
        assert verdict.ok and verdict.states[1].price == P
    else:
        assert verdict == Rejected("ObservationSpread", (1, far, P, V, V))


@pytest.mark.parametrize(
    "far, ok",
    [(V + V // 10, True), (V + V // 10 + 1, False), (V - V // 10, True), (V - V // 10 - 1, False)],
)
def test_vol_spread_boundary(relayer_signers, relayer_params, far, ok):
    verdict = _spread(relayer_signers, relayer_params, [(P, V), (P, V), (P, far)])
    if ok:
        assert verdict.ok and verdict.states[1].vol == V
    else:
        assert verdict == Rejected("ObservationSpread", (1, P, P, far, V))


def test_spread_reports_the_lower_end_on_a_tie(relayer_signers, relayer_params):
    values = [(61_000 * WAD, V), (59_000 * WAD, V), (P, V)]
    assert _spread(relayer_signers, relayer_params, values) == Rejected(
        "ObservationSpread", (1, 59_000 * WAD, P, V, V)
    )


def test_spread_follows_the_oracle_parameters(relayer_signers, relayer_params):
    from dataclasses import replace

    values = [(P, V), (61_200 * WAD, V), (P, V)]
    assert not _spread(relayer_signers, relayer_params, values).ok
    wider = replace(relayer_params, max_spread=WAD // 50)
    assert _spread(relayer_signers, wider, values).ok


def test_signers_are_checked_before_the_spread(relayer_signers, relayer_outsider, relayer_params):
    signers = [relayer_signers[0], relayer_outsider, relayer_signers[1]]
    rep = make_report(signers, relayer_params, 1, 1, T, [(P, V), (P // 2, V), (P, V)])
    assert _reject([rep], relayer_params)[0] == "UnknownSigner"
