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
    assert all(oracle.isSigner(a) for a in signer_addresses)
    assert not oracle.isSigner(addr(OUTSIDER_KEYS[0]))


def test_constructor_emits_every_initial_setting(deployer, signer_addresses):
    o = Oracle.deploy(deployer, signer_addresses[:3], 2, {"from": deployer})
    tx = o.tx
    assert events(tx, "ParamSet") == [
        {"what": param_key("heartbeat"), "value": 3600},
        {"what": param_key("maxFutureDrift"), "value": 60},
        {"what": param_key("jumpThreshold"), "value": WAD // 5},
        {"what": param_key("coolDown"), "value": 1800},
    ]
    assert events(tx, "SignerSet") == [
        {"signer": a, "authorised": True, "signerCount": i + 1}
        for i, a in enumerate(signer_addresses[:3])
    ]
    assert events(tx, "QuorumSet") == [{"quorum": 2}]


def test_constructor_rejects_a_minority_quorum(deployer, signer_addresses):
    with reverts("InvalidQuorum", 2, 5):
        Oracle.deploy(deployer, signer_addresses, 2, {"from": deployer})


def test_constructor_rejects_no_signers(deployer):
    with reverts("InvalidQuorum", 1, 0):
        Oracle.deploy(deployer, [], 1, {"from": deployer})


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


def test_removing_a_signer_must_leave_the_quorum_reachable(deployer, signer_addresses):
    o = deploy_oracle(deployer, signer_addresses[:3], 3, {})
    with reverts("InvalidQuorum", 3, 2):
        o.setSigner(signer_addresses[0], False, {"from": deployer})


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
    tx = oracle.setQuorum(5, {"from": deployer})
    assert events(tx, "QuorumSet") == [{"quorum": 5}]
    assert oracle.quorum() == 5


@pytest.mark.parametrize("q", [0, 2, 6])
def test_quorum_must_be_a_reachable_strict_majority(oracle, deployer, q):
    with reverts("InvalidQuorum", q, 5):
        oracle.setQuorum(q, {"from": deployer})


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
