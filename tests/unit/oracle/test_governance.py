"""Oracle governance: constructor, feeds, signers, quorum, parameters, registrars, ownership.

Every setter checks its bounds and emits an event; INV-7 (no account outside its rights changes
any state) is checked for every owner-only function.
"""

import brownie
import pytest
from brownie import ZERO_ADDRESS, Oracle
from eth_account import Account

from keel.deploy_oracle import deploy_oracle, param_key
from tests.fixtures.oracle import (
    BTC,
    ETH,
    FEED_BOUNDS,
    OUTSIDER_KEYS,
    SIGNER_KEYS,
    WAD,
    derived_key,
    events,
    last_block_time,
    next_block_at,
    plain,
)
from tests.support import reverts

K = SIGNER_KEYS
U128 = 2**128 - 1
U64 = 2**64 - 1


def addr(key):
    return Account.from_key(key).address


def param_reverts(name, value, lo, hi):
    # brownie renders a bytes32 error argument as str(bytes); tests.support writes 0x-hex.
    return brownie.reverts(f"ParamOutOfBounds: {param_key(name)}, {value}, {lo}, {hi}")


# --- Constructor ---


def test_constructor_sets_defaults_signers_and_quorum(oracle, deployer, signer_addresses):
    assert oracle.owner() == deployer
    assert oracle.heartbeat() == 3600
    assert oracle.maxFutureDrift() == 60
    assert oracle.jumpThreshold() == WAD // 5
    assert oracle.coolDown() == 1800
    assert oracle.quorum() == 3
    assert oracle.signerCount() == 5
    assert oracle.faultTolerance() == 1
    assert oracle.maxSpread() == WAD // 100
    assert oracle.maxVolSpread() == WAD // 10
    assert oracle.settlementWindow() == 900
    assert oracle.maxCorrelationSpread() == WAD // 10
    assert all(oracle.isSigner(a) for a in signer_addresses)
    assert not oracle.isSigner(addr(OUTSIDER_KEYS[0]))


def test_constructor_emits_every_initial_setting(deployer, signer_addresses):
    o = Oracle.deploy(deployer, signer_addresses[:4], 3, {"from": deployer})
    tx = o.tx
    assert events(tx, "ParamSet") == [
        {"what": param_key("heartbeat"), "value": 3600},
        {"what": param_key("maxFutureDrift"), "value": 60},
        {"what": param_key("jumpThreshold"), "value": WAD // 5},
        {"what": param_key("coolDown"), "value": 1800},
        {"what": param_key("maxSpread"), "value": WAD // 100},
        {"what": param_key("maxVolSpread"), "value": WAD // 10},
        {"what": param_key("settlementWindow"), "value": 900},
        {"what": param_key("maxCorrelationSpread"), "value": WAD // 10},
    ]
    assert events(tx, "SignerSet") == [
        {"signer": a, "authorised": True, "signerCount": i + 1}
        for i, a in enumerate(signer_addresses[:4])
    ]
    assert events(tx, "QuorumSet") == [{"quorum": 3}]


def test_constructor_rejects_a_minority_quorum(deployer, signer_addresses):
    with reverts("InvalidQuorum", 2, 5):
        Oracle.deploy(deployer, signer_addresses, 2, {"from": deployer})


def test_constructor_rejects_no_signers(deployer):
    with reverts("InvalidQuorum", 1, 0):
        Oracle.deploy(deployer, [], 1, {"from": deployer})


# SPEC §3 [v2] threat model: f = min((q - 1) // 2, n - q) faulty signers are tolerated; the setters
# require f >= 1 and a strict-majority quorum (2q > n). (n, q) -> f, 0 meaning rejected.
SIGNER_SETS = {
    (1, 1): 0,  # one signer sets any price
    (3, 2): 0,  # 2-of-3: two colluders decide, and q < 2f + 1 for any f >= 1
    (3, 3): 0,  # 3-of-3: one signer down stops the oracle
    (4, 3): 1,  # the smallest set tolerating one faulty signer
    (5, 3): 1,  # the default
    (5, 4): 1,
    (5, 5): 0,  # every signer needed: no liveness with one down
    (6, 3): 0,  # f would be 1, but 3 of 6 is no majority: two disjoint groups could both report
    (6, 4): 1,
    (7, 5): 2,
    (32, 17): 8,
}


@pytest.mark.parametrize("n,q", list(SIGNER_SETS), ids=[f"{q}-of-{n}" for n, q in SIGNER_SETS])
def test_constructor_enforces_fault_tolerance(deployer, n, q):
    """The threat model's signer sets: accepted exactly when they tolerate f >= 1 faulty signers
    with a strict-majority quorum, and faultTolerance() says f."""
    signers = [addr(derived_key(f"ft-{i}")) for i in range(n)]
    f = SIGNER_SETS[(n, q)]
    if f == 0:
        with reverts("InvalidQuorum", q, n):
            Oracle.deploy(deployer, signers, q, {"from": deployer})
    else:
        o = Oracle.deploy(deployer, signers, q, {"from": deployer})
        assert o.faultTolerance() == f


def test_constructor_rejects_duplicate_signers(deployer, signer_addresses):
    a = signer_addresses[0]
    with reverts("SignerUnchanged", a, True):
        Oracle.deploy(deployer, [a, signer_addresses[1], a], 2, {"from": deployer})


def test_deploy_oracle_lists_the_feeds(oracle):
    for feed_id, bounds in FEED_BOUNDS.items():
        assert plain(oracle.feedConfig(feed_id)) == (*bounds, True)
    assert plain(oracle.feedConfig(3)) == (0, 0, 0, False)


# --- Feeds ---


def test_add_feed(oracle, deployer):
    tx = oracle.addFeed(3, 1, U128, U64, {"from": deployer})
    assert events(tx, "FeedAdded") == [
        {"feedId": 3, "minPrice": 1, "maxPrice": U128, "maxVol": U64}
    ]
    assert plain(oracle.feedConfig(3)) == (1, U128, U64, True)
    assert oracle.isStale(3)


def test_add_feed_rejects_feed_zero(oracle, deployer):
    with reverts("InvalidFeedId", 0):
        oracle.addFeed(0, WAD, 2 * WAD, WAD, {"from": deployer})


def test_add_feed_rejects_a_listed_feed(oracle, deployer):
    with reverts("FeedExists", BTC):
        oracle.addFeed(BTC, WAD, 2 * WAD, WAD, {"from": deployer})


@pytest.mark.parametrize(
    "bounds",
    [
        (0, WAD, WAD),  # zero min price would accept a zero price
        (2 * WAD, WAD, WAD),  # min above max
        (1, U128 + 1, WAD),  # max does not fit FeedState.price
        (1, WAD, 0),  # no vol acceptable
        (1, WAD, U64 + 1),  # max vol does not fit FeedState.vol
    ],
)
def test_feed_bounds_are_checked(oracle, deployer, bounds):
    with reverts("InvalidBounds", *bounds):
        oracle.addFeed(3, *bounds, {"from": deployer})
    with reverts("InvalidBounds", *bounds):
        oracle.setFeedBounds(BTC, *bounds, {"from": deployer})


def test_set_feed_bounds(oracle, deployer):
    tx = oracle.setFeedBounds(BTC, 5, 5, 7, {"from": deployer})
    assert events(tx, "FeedBoundsSet") == [
        {"feedId": BTC, "minPrice": 5, "maxPrice": 5, "maxVol": 7}
    ]
    assert plain(oracle.feedConfig(BTC)) == (5, 5, 7, True)


def test_new_bounds_apply_to_the_next_report(oracle, report, deployer):
    oracle.setFeedBounds(BTC, 1_000 * WAD, 50_000 * WAD, WAD, {"from": deployer})
    obs = [(k, 50_001 * WAD, WAD) for k in K[:3]]
    with reverts("PriceOutOfBounds", BTC, 50_001 * WAD, 1_000 * WAD, 50_000 * WAD):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


def test_set_feed_bounds_rejects_unknown_feed(oracle, deployer):
    with reverts("UnknownFeed", 3):
        oracle.setFeedBounds(3, 1, 2, 3, {"from": deployer})


# --- Signers and quorum ---


def test_add_signer_after_raising_the_quorum(oracle, deployer):
    new = addr(OUTSIDER_KEYS[0])
    oracle.setQuorum(4, {"from": deployer})
    tx = oracle.setSigner(new, True, {"from": deployer})
    assert events(tx, "SignerSet") == [{"signer": new, "authorised": True, "signerCount": 6}]
    assert oracle.isSigner(new)
    assert oracle.signerCount() == 6


def test_adding_a_signer_must_keep_the_quorum_a_majority(oracle, deployer):
    with reverts("InvalidQuorum", 3, 6):
        oracle.setSigner(addr(OUTSIDER_KEYS[0]), True, {"from": deployer})


def test_remove_signer(oracle, deployer):
    tx = oracle.setSigner(addr(K[2]), False, {"from": deployer})
    assert events(tx, "SignerSet") == [
        {"signer": addr(K[2]), "authorised": False, "signerCount": 4}
    ]
    assert not oracle.isSigner(addr(K[2]))
    assert oracle.signerCount() == 4


def test_removing_a_signer_must_leave_one_fault_tolerated(deployer, signer_addresses):
    """3 of 4 tolerates one faulty signer; 3 of 3 would not (SPEC §3 [v2] threat model)."""
    o = deploy_oracle(deployer, signer_addresses[:4], 3, {})
    assert o.faultTolerance() == 1
    with reverts("InvalidQuorum", 3, 3):
        o.setSigner(signer_addresses[0], False, {"from": deployer})
    assert o.signerCount() == 4 and o.isSigner(signer_addresses[0])


def test_a_signer_is_rotated_by_adding_before_removing(deployer, signer_addresses):
    """At 3 of 4, a replacement is added first (3 of 5), then the old signer removed (3 of 4)."""
    o = deploy_oracle(deployer, signer_addresses[:4], 3, {})
    o.setSigner(signer_addresses[4], True, {"from": deployer})
    o.setSigner(signer_addresses[0], False, {"from": deployer})
    assert (o.signerCount(), o.quorum(), o.faultTolerance()) == (4, 3, 1)


def test_signer_status_must_change(oracle, deployer):
    with reverts("SignerUnchanged", addr(K[0]), True):
        oracle.setSigner(addr(K[0]), True, {"from": deployer})
    with reverts("SignerUnchanged", addr(OUTSIDER_KEYS[0]), False):
        oracle.setSigner(addr(OUTSIDER_KEYS[0]), False, {"from": deployer})


def test_zero_address_cannot_be_a_signer(oracle, deployer):
    with reverts("InvalidSigner", ZERO_ADDRESS):
        oracle.setSigner(ZERO_ADDRESS, True, {"from": deployer})


def test_at_most_32_signers(deployer):
    many = [addr(derived_key(f"many-{i}")) for i in range(33)]
    o = deploy_oracle(deployer, many[:32], 17, {})
    assert o.signerCount() == 32
    with reverts("TooManySigners", 32):
        o.setSigner(many[32], True, {"from": deployer})
    with reverts("TooManySigners", 32):
        Oracle.deploy(deployer, many, 17, {"from": deployer})


def test_a_replacement_signer_reuses_the_free_index_and_can_sign(oracle, report, deployer):
    """Remove signer 1, add an outsider in its place: the bitmap must still reject duplicates and
    accept the new signer."""
    new_key = OUTSIDER_KEYS[0]
    oracle.setSigner(addr(K[1]), False, {"from": deployer})
    oracle.setSigner(addr(new_key), True, {"from": deployer})
    t = last_block_time()
    keys = [K[0], new_key, K[4]]
    oracle.submit([report(BTC, 1, t, [(k, 60_000 * WAD, WAD) for k in keys])])
    assert plain(oracle.feed(BTC))[3] == 1
    dup = [(new_key, 60_000 * WAD, WAD), (K[0], 60_000 * WAD, WAD), (new_key, 60_000 * WAD, WAD)]
    with reverts("DuplicateSigner", BTC, addr(new_key)):
        oracle.submit([report(BTC, 2, t + 1, dup)])


def test_set_quorum(oracle, deployer):
    tx = oracle.setQuorum(4, {"from": deployer})
    assert events(tx, "QuorumSet") == [{"quorum": 4}]
    assert oracle.quorum() == 4
    assert oracle.faultTolerance() == 1


@pytest.mark.parametrize("q", [0, 1, 2, 5, 6])
def test_quorum_must_tolerate_a_faulty_signer(oracle, deployer, q):
    """Of 5 signers: q <= 2 is no majority (and below 2f + 1 = 3), q = 5 leaves no signer to spare,
    q = 6 is unreachable; only 3 and 4 tolerate f = 1."""
    with reverts("InvalidQuorum", q, 5):
        oracle.setQuorum(q, {"from": deployer})
    assert oracle.quorum() == 3


def test_raised_quorum_applies_to_the_next_report(oracle, report, deployer):
    oracle.setQuorum(4, {"from": deployer})
    obs = [(k, 60_000 * WAD, WAD) for k in K[:3]]
    with reverts("QuorumNotMet", BTC, 3, 4):
        oracle.submit([report(BTC, 1, last_block_time(), obs)])


# --- Parameters ---

PARAM_BOUNDS = {
    "heartbeat": (60, 86400),
    "maxFutureDrift": (0, 300),
    "jumpThreshold": (WAD // 100, WAD),
    "coolDown": (60, 86400),
    "maxSpread": (WAD // 1000, WAD // 10),
    "maxVolSpread": (WAD // 100, WAD // 2),
    "settlementWindow": (60, 3600),
    "maxCorrelationSpread": (WAD // 100, WAD // 4),
}


@pytest.mark.parametrize("name", list(PARAM_BOUNDS))
def test_param_bounds_are_inclusive(oracle, deployer, name):
    lo, hi = PARAM_BOUNDS[name]
    for value in (lo, hi):
        tx = oracle.setParam(param_key(name), value, {"from": deployer})
        assert events(tx, "ParamSet") == [{"what": param_key(name), "value": value}]
        assert getattr(oracle, name)() == value


@pytest.mark.parametrize("name", list(PARAM_BOUNDS))
def test_param_out_of_bounds(oracle, deployer, name):
    lo, hi = PARAM_BOUNDS[name]
    with param_reverts(name, hi + 1, lo, hi):
        oracle.setParam(param_key(name), hi + 1, {"from": deployer})
    if lo > 0:
        with param_reverts(name, lo - 1, lo, hi):
            oracle.setParam(param_key(name), lo - 1, {"from": deployer})


def test_unknown_param(oracle, deployer):
    with brownie.reverts(f"UnknownParam: {param_key('quorum')}"):
        oracle.setParam(param_key("quorum"), 3, {"from": deployer})


def test_max_future_drift_applies_to_the_next_report(oracle, report, deployer):
    oracle.setParam(param_key("maxFutureDrift"), 0, {"from": deployer})
    block = next_block_at(last_block_time() + 10)
    obs = [(k, 60_000 * WAD, WAD) for k in K[:3]]
    with reverts("ObservationInFuture", BTC, block + 1, block):
        oracle.submit([report(BTC, 1, block + 1, obs)])


# --- Registrars ---


def test_set_registrar(oracle, deployer, alice):
    tx = oracle.setRegistrar(alice, True, {"from": deployer})
    assert events(tx, "RegistrarSet") == [{"registrar": alice.address, "authorised": True}]
    assert oracle.isRegistrar(alice)
    tx = oracle.setRegistrar(alice, False, {"from": deployer})
    assert events(tx, "RegistrarSet") == [{"registrar": alice.address, "authorised": False}]
    assert not oracle.isRegistrar(alice)


# --- Ownership and INV-7 ---


def test_ownership_moves_in_two_steps(oracle, deployer, alice):
    oracle.transferOwnership(alice, {"from": deployer})
    assert oracle.owner() == deployer
    assert oracle.pendingOwner() == alice
    oracle.acceptOwnership({"from": alice})
    assert oracle.owner() == alice
    with reverts("OwnableUnauthorizedAccount", deployer.address):
        oracle.setQuorum(5, {"from": deployer})


OWNER_ONLY = [
    ("addFeed", (3, WAD, 2 * WAD, WAD)),
    ("setFeedBounds", (BTC, WAD, 2 * WAD, WAD)),
    ("setSigner", ("OUTSIDER", True)),
    ("setSigner", ("SIGNER0", False)),
    ("setQuorum", (4,)),
    ("setParam", (param_key("heartbeat"), 600)),
    ("setParam", (param_key("maxSpread"), WAD // 50)),
    ("setParam", (param_key("settlementWindow"), 600)),
    ("setParam", (param_key("maxCorrelationSpread"), WAD // 5)),
    ("setRegistrar", ("MALLORY", True)),
    ("transferOwnership", ("MALLORY",)),
    ("renounceOwnership", ()),
]


@pytest.mark.parametrize(
    "fn,args", OWNER_ONLY, ids=[f"{f}-{i}" for i, (f, _) in enumerate(OWNER_ONLY)]
)
def test_inv7_stranger_cannot_govern(oracle, mallory, signer_addresses, fn, args):
    """INV-7: an account without rights changes no oracle state through any owner-only function."""
    names = {"OUTSIDER": addr(OUTSIDER_KEYS[1])}
    args = [names.get(a, a) if isinstance(a, str) else a for a in args]
    args = [
        {"MALLORY": mallory.address, "SIGNER0": signer_addresses[0]}.get(a, a)
        if isinstance(a, str)
        else a
        for a in args
    ]
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        getattr(oracle, fn)(*args, {"from": mallory})


def test_inv7_registrar_cannot_govern(oracle, deployer, alice):
    """INV-7: registering expiries is the registrar's only right."""
    oracle.setRegistrar(alice, True, {"from": deployer})
    with reverts("OwnableUnauthorizedAccount", alice.address):
        oracle.setRegistrar(alice, False, {"from": alice})
    with reverts("OwnableUnauthorizedAccount", alice.address):
        oracle.addFeed(3, WAD, 2 * WAD, WAD, {"from": alice})


def test_inv7_state_unchanged_after_rejected_calls(oracle, mallory):
    """INV-7: after every rejected attempt the governance state is what it was."""
    before = (
        oracle.quorum(),
        oracle.signerCount(),
        oracle.heartbeat(),
        plain(oracle.feedConfig(ETH)),
        oracle.owner(),
    )
    for fn, args in [("setQuorum", (5,)), ("setFeedBounds", (ETH, 1, 1, 1))]:
        with reverts("OwnableUnauthorizedAccount", mallory.address):
            getattr(oracle, fn)(*args, {"from": mallory})
    after = (
        oracle.quorum(),
        oracle.signerCount(),
        oracle.heartbeat(),
        plain(oracle.feedConfig(ETH)),
        oracle.owner(),
    )
    assert before == after
