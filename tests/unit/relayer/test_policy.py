"""Push policy (oracle/policy.py, SPEC §3): 0.5% deviation, half a heartbeat, never reported."""

from fractions import Fraction

import pytest

from oracle.policy import DEVIATION, HEARTBEAT, HOLD, NEVER, PushPolicy

WAD = 10**18
P = 1000 * WAD
T0 = 1_700_000_000


@pytest.fixture
def policy():
    return PushPolicy()  # 0.5%, heartbeat 3600 s, half


def test_never_reported_feed_is_pushed(policy):
    assert policy.decide(0, 0, 0, P, T0) == (True, NEVER)


def test_move_of_exactly_half_a_percent_is_held(policy):
    assert policy.decide(P, T0, 1, P + P // 200, T0 + 1) == (False, HOLD)
    assert policy.decide(P, T0, 1, P - P // 200, T0 + 1) == (False, HOLD)


def test_move_one_wei_beyond_half_a_percent_is_pushed(policy):
    assert policy.decide(P, T0, 1, P + P // 200 + 1, T0 + 1) == (True, DEVIATION)
    assert policy.decide(P, T0, 1, P - P // 200 - 1, T0 + 1) == (True, DEVIATION)


def test_half_heartbeat_age_pushes(policy):
    assert policy.decide(P, T0, 1, P, T0 + 1799) == (False, HOLD)
    assert policy.decide(P, T0, 1, P, T0 + 1800) == (True, HEARTBEAT)


def test_parameters_are_configurable():
    policy = PushPolicy(
        deviation=Fraction(1, 100), heartbeat=600, heartbeat_fraction=Fraction(1, 4)
    )
    assert policy.decide(P, T0, 1, P + P // 150, T0) == (False, HOLD)
    assert policy.decide(P, T0, 1, P + P // 99, T0) == (True, DEVIATION)
    assert policy.decide(P, T0, 1, P, T0 + 150) == (True, HEARTBEAT)


@pytest.mark.parametrize(
    "kw",
    [dict(deviation=-1), dict(heartbeat=0), dict(heartbeat_fraction=0), dict(heartbeat_fraction=2)],
)
def test_rejects_bad_parameters(kw):
    with pytest.raises(ValueError):
        PushPolicy(**kw)
