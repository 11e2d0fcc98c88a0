"""Differential test: oracle/rules.py decides every submission exactly as the deployed Oracle does.

Random submissions of one or two reports (both feeds and an unlisted one) over a random prior state,
with duplicate and unknown signers, malleable / bad-v / zero-r signatures, stale, equal and future
observation times, replayed and skipped rounds, zero and out-of-bound prices and vols, under-quorum
sets, observations beyond the spread around the medians (SPEC §3 [v2]), and prices that do or do
not trip the circuit breaker. For each, the contract's outcome (the
stored feed states and reduce-only times, or the exact custom error with its arguments) must equal
`rules.evaluate`'s. This is what lets the relayer trust its pre-flight check.
"""

import os
from dataclasses import replace

import brownie
import pytest
from brownie.exceptions import VirtualMachineError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keel.eip712 import Signature, to_high_s
from oracle import rules
from tests.fixtures.relayer import sign_observations
from tests.support import error_msg

WAD = 10**18
EXAMPLES = {"ci": 40, "local": 600}[os.environ.get("KEEL_PROFILE", "ci")]
FEEDS = (1, 2, 3)  # 3 is not listed
BASE = {1: 30_000 * WAD, 2: 2_000 * WAD}

# Weights by repetition: most draws are valid, so that acceptance (the stored medians, the breaker)
# is compared as often as the rejections. One report is a distinct set of authorised signers with at
# most one signer fault and at most one value/signature fault, at a drawn position.
SIGNER_FAULTS = [None] * 6 + ["dup", "outsider"]
VALUE_FAULTS = [None] * 8 + [
    "price_zero", "price_below", "price_above", "price_min", "price_max",
    "vol_zero", "vol_above", "vol_max", "vol_one",
    "spread_high", "spread_low", "spread_vol", "spread_edge",
    "high_s", "bad_v", "r_zero", "swap_r",
]  # fmt: skip
st_report = st.tuples(
    st.sampled_from([1] * 4 + [2] * 3 + [3]),  # feed (3 is not listed)
    st.sampled_from([1] * 12 + [0, 2, -5]),  # round - current round
    st.sampled_from(["fresh"] * 6 + ["now", "drift"] * 2 + ["beyond", "stale", "older"]),
    st.sampled_from([3] * 4 + [4] * 2 + [5] * 3 + [0, 1, 2, 6]),  # observations
    st.permutations(range(5)),  # signer order
    st.sampled_from(SIGNER_FAULTS),
    st.sampled_from(VALUE_FAULTS),
    st.integers(0, 6),  # where the faults go
    # the report's move from the stored price [1e-3]: beyond +-200 it trips the breaker
    st.sampled_from([0] * 6 + [-300, -201, -200, 150, 200, 201, 300]),
    # each observation's tweak of the moved price [1e-4]: +-0.45% keeps every one within 1% of
    # the median, so the spread faults above are what tests the rule
    st.lists(st.integers(-45, 45), min_size=7, max_size=7),
    st.tuples(  # the report's vol, and each observation's tweak of it [1e-4]: +-4% (spread 10%)
        st.one_of(st.sampled_from([1, 2, 10 * WAD]), st.integers(1, 10 * WAD)),
        st.lists(st.integers(-400, 400), min_size=7, max_size=7),
    ),
)
st_submission = st.tuples(
    st.integers(0, 2),  # prior rounds of feed 1
    st.integers(0, 1),  # prior rounds of feed 2
    st.lists(st_report, min_size=1, max_size=2),
)


def _build(spec, feed_state, bounds, keys):
    """(signers, values, value fault, fault index) of one report spec."""
    _, _, _, n, order, signer_fault, value_fault, at, move, tweaks, (vol, vol_tweaks) = spec
    idx = (list(order) + [5, 6])[:n]  # n = 6 includes an outsider (5)
    if n:
        at %= n
        if signer_fault == "dup" and n >= 2:
            idx[at] = idx[(at + 1) % n]
        elif signer_fault == "outsider":
            idx[at] = 6
    ref = feed_state.price or BASE.get(spec[0], WAD)
    ref += ref * move // 1_000
    lo, hi, max_vol = bounds.min_price, bounds.max_price, bounds.max_vol
    values = [
        [min(max(ref + ref * t // 10_000, lo), hi), min(max(vol + vol * w // 10_000, 1), max_vol)]
        for t, w in zip(tweaks[:n], vol_tweaks[:n], strict=True)
    ]
    if n and value_fault and value_fault.startswith(("price", "vol")):
        field, kind = value_fault.split("_")
        if field == "price" and kind in ("min", "max"):  # every observation at the bound
            for v in values:
                v[0] = lo if kind == "min" else hi
        elif field == "price":
            values[at][0] = {"zero": 0, "below": lo - 1, "above": hi + 1}[kind]
        elif kind in ("max", "one"):
            for v in values:
                v[1] = max_vol if kind == "max" else 1
        else:
            values[at][1] = {"zero": 0, "above": max_vol + 1}[kind]
    elif n and value_fault and value_fault.startswith("spread"):
        kind = value_fault.split("_")[1]
        if kind == "high":  # 2% above the moved price: beyond 1% of any median of the others
            values[at][0] = min(ref + ref // 50, hi)
        elif kind == "low":
            values[at][0] = max(ref - ref // 50, lo)
        elif kind == "vol":  # 25% above: beyond 10% of any median vol of the others
            values[at][1] = min(vol + vol // 4 + 1, max_vol)
        else:  # edge: 1% above the moved price, inside or just outside depending on the median
            values[at][0] = min(ref + ref // 100, hi)
    return [keys[i] for i in idx], [tuple(v) for v in values], value_fault, at


def _tamper(o: rules.SignedObservation, how, other: rules.SignedObservation | None):
    if how == "high_s":
        twin = to_high_s(Signature(o.v, o.r, o.s))
        return replace(o, v=twin.v, r=twin.r, s=twin.s)
    if how == "bad_v":
        return replace(o, v=o.v - 27)
    if how == "r_zero":
        return replace(o, r=bytes(32))
    if how == "swap_r" and other is not None:  # a valid-looking signature of nobody we know
        return replace(o, r=other.r)
    return o


def _states(oracle):
    return {f: rules.FeedState(*[int(x) for x in oracle.feed(f)]) for f in FEEDS}


def _next_block_at(ts):
    brownie.web3.provider.make_request("evm_setNextBlockTimestamp", [ts])


def _prior_rounds(oracle, params, signers, feed, n, t0):
    for k in range(n):
        st = _states(oracle)[feed]
        ts = t0 + 10 * (k + 1)
        values = [(BASE[feed], WAD // 2)] * 3
        obs = sign_observations(signers[:3], params, feed, st.round + 1, ts, values)
        _next_block_at(ts)
        oracle.submit([rules.Report(feed, st.round + 1, ts, obs).as_tuple()], {"from": _keeper()})


def _keeper():
    return brownie.accounts[4]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(sub=st_submission)
def test_contract_decision_equals_rules(relayer_oracle, relayer_chain_params, relayer_keys, sub):
    """rules.evaluate == Oracle.submit: same accepted states and breaker times, or same error."""
    verdict = _differential(relayer_oracle, relayer_chain_params, relayer_keys, sub)
    event("accepted" + (" (breaker)" if verdict.tripped else "") if verdict.ok else verdict.error)


V = WAD // 2
CALM = [10, -20, 5, 0, 30, 0, 0]
VOL_TWEAKS = [0, 40, -40, 10, -10, 0, 0]


def _case(n=3, feed=1, round_delta=1, when="fresh", signer_fault=None, value_fault=None, at=1,
          move=0, tweaks=CALM, prior=(1, 0)):  # fmt: skip
    spec = (feed, round_delta, when, n, (0, 1, 2, 3, 4), signer_fault, value_fault, at, move,
            tweaks, (V, VOL_TWEAKS))  # fmt: skip
    return (*prior, [spec])


CASES = {
    "accepted": ("accepted", _case()),
    "accepted-even-n": ("accepted", _case(n=4)),
    "accepted-first-report": ("accepted", _case(prior=(0, 0))),
    "accepted-bounds-inclusive": ("accepted", _case(value_fault="price_max")),
    "accepted-vol-one": ("accepted", _case(value_fault="vol_one")),
    "breaker": ("accepted", _case(move=250)),
    "ObservationSpread-high": ("ObservationSpread", _case(value_fault="spread_high")),
    "ObservationSpread-low": ("ObservationSpread", _case(value_fault="spread_low", n=5, at=4)),
    "ObservationSpread-vol": ("ObservationSpread", _case(value_fault="spread_vol")),
    "spread-edge-inside": ("accepted", _case(value_fault="spread_edge", tweaks=[0] * 7)),
    "spread-edge-outside": (
        "ObservationSpread",
        _case(value_fault="spread_edge", tweaks=[-1, 0, -1, 0, 0, 0, 0]),
    ),
    "UnknownFeed": ("UnknownFeed", _case(feed=3)),
    "WrongRound-replayed": ("WrongRound", _case(round_delta=0)),
    "WrongRound-skipped": ("WrongRound", _case(round_delta=2)),
    "ObservationNotNewer": ("ObservationNotNewer", _case(when="stale")),
    "ObservationNotNewer-older": ("ObservationNotNewer", _case(when="older")),
    "ObservationInFuture": ("ObservationInFuture", _case(when="beyond")),
    "at-max-drift": ("accepted", _case(when="drift")),
    "QuorumNotMet": ("QuorumNotMet", _case(n=2)),
    "QuorumNotMet-empty": ("QuorumNotMet", _case(n=0)),
    "UnknownSigner": ("UnknownSigner", _case(signer_fault="outsider")),
    "UnknownSigner-sixth": ("UnknownSigner", _case(n=6)),
    "DuplicateSigner": ("DuplicateSigner", _case(signer_fault="dup")),
    "MalleableSignature": ("MalleableSignature", _case(value_fault="high_s")),
    "InvalidSignature-v": ("InvalidSignature", _case(value_fault="bad_v")),
    "InvalidSignature-r": ("InvalidSignature", _case(value_fault="r_zero")),
    "PriceOutOfBounds-zero": ("PriceOutOfBounds", _case(value_fault="price_zero")),
    "PriceOutOfBounds-below": ("PriceOutOfBounds", _case(value_fault="price_below")),
    "PriceOutOfBounds-above": ("PriceOutOfBounds", _case(value_fault="price_above")),
    "VolOutOfBounds-zero": ("VolOutOfBounds", _case(value_fault="vol_zero")),
    "VolOutOfBounds-above": ("VolOutOfBounds", _case(value_fault="vol_above")),
    "two-reports-one-feed": (
        "accepted",
        (1, 1, [_case(move=250)[2][0], _case(round_delta=1)[2][0]]),
    ),
    "second-report-bad": ("QuorumNotMet", (1, 1, [_case()[2][0], _case(feed=2, n=2)[2][0]])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_contract_decision_equals_rules_on_each_rule(
    relayer_oracle, relayer_chain_params, relayer_keys, name
):
    """Every acceptance rule, once each, on chain: the fuzzer above may miss a rare one."""
    intended, sub = CASES[name]
    verdict = _differential(relayer_oracle, relayer_chain_params, relayer_keys, sub)
    assert (verdict.error if not verdict.ok else "accepted") == intended
    if name == "breaker":
        assert verdict.tripped


def _differential(oracle, params, keys, sub) -> rules.Accepted | rules.Rejected:
    """Builds submission `sub` on a fresh deployment, asks rules.evaluate and the Oracle, compares."""
    brownie.chain.revert()  # every example starts from the fresh deployment
    prior1, prior2, report_specs = sub
    t0 = brownie.chain[-1].timestamp + 10
    _prior_rounds(oracle, params, keys, 1, prior1, t0)
    _prior_rounds(oracle, params, keys, 2, prior2, t0 + 100)
    states = _states(oracle)
    until = {f: int(oracle.reduceOnlyUntil(f)) for f in FEEDS}
    ts = brownie.chain[-1].timestamp + 1_000

    reports, rounds = [], {f: states[f].round for f in FEEDS}
    for k, spec in enumerate(report_specs):
        feed, round_delta, when = spec[:3]
        stored = states[feed].observed_at
        observed_at = {
            "fresh": ts - 100 + 10 * k,  # a second report of a feed is newer than the first
            "now": ts,
            "drift": ts + params.max_future_drift,
            "beyond": ts + params.max_future_drift + 1,
            "stale": stored,
            "older": max(stored - 1, 0),
        }[when]
        round_ = max(rounds[feed] + round_delta, 0)
        rounds[feed] = round_  # a later report of this feed follows this one
        bounds = params.feeds.get(feed, rules.FeedConfig(WAD, 10**7 * WAD, 10 * WAD, False))
        signers, values, fault, at = _build(spec, states[feed], bounds, keys)
        obs = list(sign_observations(signers, params, feed, round_, observed_at, values))
        if obs:
            obs[at] = _tamper(obs[at], fault, obs[at - 1] if at else None)
        reports.append(rules.Report(feed, round_, observed_at, tuple(obs)))

    expected = rules.evaluate(reports, states, params, ts, until)
    _next_block_at(ts)
    try:
        oracle.submit([r.as_tuple() for r in reports], {"from": _keeper()})
        outcome = "accepted"
    except VirtualMachineError as exc:
        outcome = exc.revert_msg

    if not expected.ok:
        assert outcome == error_msg(expected.error, *expected.args)
        return expected
    assert outcome == "accepted"
    after = _states(oracle)
    for f in FEEDS:
        assert after[f] == expected.states.get(f, states[f]), f
        assert int(oracle.reduceOnlyUntil(f)) == expected.tripped.get(f, until[f]), f
    return expected
