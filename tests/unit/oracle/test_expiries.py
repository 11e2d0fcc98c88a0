"""Expiry registration and settlement-price fixing (SPEC §3 "Expiry prices", DESIGN "Oracle")."""

from tests.fixtures.oracle import (
    BTC,
    ETH,
    SIGNER_KEYS,
    WAD,
    events,
    last_block_time,
    next_block_at,
    plain,
)
from tests.support import reverts

K = SIGNER_KEYS
DAY = 86400


def push(oracle, report, feed_id, rnd, t, prices):
    """Submits round `rnd` of `feed_id` observed at `t` (mined in a block at or after t)."""
    next_block_at(max(t, last_block_time() + 1))
    obs = [(k, p, WAD // 2) for k, p in zip(K, prices, strict=False)]
    return oracle.submit([report(feed_id, rnd, t, obs)])


def pending(oracle, feed_id):
    return list(plain(oracle.pendingExpiries(feed_id)))


# --- Registration ---


def test_owner_registers_an_expiry(oracle, deployer):
    e = last_block_time() + DAY
    tx = oracle.registerExpiry(BTC, e, {"from": deployer})
    assert events(tx, "ExpiryRegistered") == [{"feedId": BTC, "expiry": e}]
    assert pending(oracle, BTC) == [e]
    assert pending(oracle, ETH) == []
    assert oracle.settlementPrice(BTC, e) == 0


def test_registrar_registers_an_expiry(oracle, deployer, alice):
    oracle.setRegistrar(alice, True, {"from": deployer})
    e = last_block_time() + DAY
    oracle.registerExpiry(ETH, e, {"from": alice})
    assert pending(oracle, ETH) == [e]


def test_expiries_are_kept_sorted_whatever_the_registration_order(oracle, deployer):
    base = last_block_time() + DAY
    for offset in (5, 1, 9, 3, 7):
        oracle.registerExpiry(BTC, base + offset, {"from": deployer})
    assert pending(oracle, BTC) == [base + o for o in (1, 3, 5, 7, 9)]


def test_registering_a_pending_expiry_again_does_nothing(oracle, deployer):
    e = last_block_time() + DAY
    oracle.registerExpiry(BTC, e, {"from": deployer})
    oracle.registerExpiry(BTC, e + 1, {"from": deployer})
    tx = oracle.registerExpiry(BTC, e, {"from": deployer})
    assert events(tx, "ExpiryRegistered") == []
    assert pending(oracle, BTC) == [e, e + 1]


def test_expiry_may_be_past_while_the_feed_has_not_observed_it(oracle, report, deployer):
    """A stale feed still fixes an expiry that passed in between, with its next report."""
    t = last_block_time()
    push(oracle, report, BTC, 1, t - 1000, [50_000 * WAD] * 3)
    oracle.registerExpiry(BTC, t - 500, {"from": deployer})
    push(oracle, report, BTC, 2, t, [51_000 * WAD] * 3)
    assert oracle.settlementPrice(BTC, t - 500) == 51_000 * WAD


def test_register_rejects_expiry_at_the_last_observation(oracle, report, deployer):
    t = last_block_time()
    push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)
    with reverts("ExpiryAlreadyObserved", BTC, t, t):
        oracle.registerExpiry(BTC, t, {"from": deployer})
    with reverts("ExpiryAlreadyObserved", BTC, t - 1, t):
        oracle.registerExpiry(BTC, t - 1, {"from": deployer})


def test_register_rejects_expiry_zero(oracle, deployer):
    with reverts("ExpiryAlreadyObserved", BTC, 0, 0):
        oracle.registerExpiry(BTC, 0, {"from": deployer})


def test_register_rejects_expiry_beyond_uint32(oracle, deployer):
    with reverts("ExpiryOutOfRange", 2**32):
        oracle.registerExpiry(BTC, 2**32, {"from": deployer})
    oracle.registerExpiry(BTC, 2**32 - 1, {"from": deployer})


def test_register_rejects_unknown_feed(oracle, deployer):
    with reverts("UnknownFeed", 7):
        oracle.registerExpiry(7, last_block_time() + DAY, {"from": deployer})


def test_register_caps_pending_expiries(oracle, deployer):
    base = last_block_time() + DAY
    cap = oracle.MAX_PENDING_EXPIRIES()
    for i in range(cap):
        oracle.registerExpiry(BTC, base + i, {"from": deployer})
    with reverts("TooManyPendingExpiries", BTC, cap):
        oracle.registerExpiry(BTC, base + cap, {"from": deployer})
    # A duplicate is still a no-op, not an error.
    oracle.registerExpiry(BTC, base, {"from": deployer})


def test_fixed_expiries_free_room_in_the_queue(oracle, report, deployer):
    t = last_block_time()
    cap = oracle.MAX_PENDING_EXPIRIES()
    for i in range(cap):
        oracle.registerExpiry(BTC, t + 1 + i, {"from": deployer})
    push(oracle, report, BTC, 1, t + 1, [50_000 * WAD] * 3)
    assert len(pending(oracle, BTC)) == cap - 1
    oracle.registerExpiry(BTC, t + DAY, {"from": deployer})
    assert pending(oracle, BTC)[-1] == t + DAY


def test_stranger_cannot_register(oracle, mallory):
    """INV-7: only the owner and authorised registrars add expiries."""
    with reverts("NotRegistrar", mallory.address):
        oracle.registerExpiry(BTC, last_block_time() + DAY, {"from": mallory})


def test_revoked_registrar_cannot_register(oracle, deployer, alice):
    oracle.setRegistrar(alice, True, {"from": deployer})
    oracle.setRegistrar(alice, False, {"from": deployer})
    with reverts("NotRegistrar", alice.address):
        oracle.registerExpiry(BTC, last_block_time() + DAY, {"from": alice})


# --- Fixing ---


def test_report_before_the_expiry_does_not_fix_it(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t + 1, {"from": deployer})
    tx = push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == []
    assert oracle.settlementPrice(BTC, t + 1) == 0
    assert pending(oracle, BTC) == [t + 1]


def test_report_observed_exactly_at_the_expiry_fixes_the_median(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    tx = push(oracle, report, BTC, 1, t, [50_000 * WAD, 52_000 * WAD, 51_000 * WAD])
    assert oracle.settlementPrice(BTC, t) == 51_000 * WAD
    assert events(tx, "SettlementPriceFixed") == [
        {"feedId": BTC, "expiry": t, "price": 51_000 * WAD, "round": 1}
    ]
    assert pending(oracle, BTC) == []


def test_one_report_fixes_every_pending_expiry_it_passes(oracle, report, deployer):
    t = last_block_time() + 10
    for e in (t + 3, t + 1, t + 2, t + 100):
        oracle.registerExpiry(BTC, e, {"from": deployer})
    push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)
    tx = push(oracle, report, BTC, 2, t + 50, [49_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == [
        {"feedId": BTC, "expiry": e, "price": 49_000 * WAD, "round": 2}
        for e in (t + 1, t + 2, t + 3)
    ]
    assert [oracle.settlementPrice(BTC, e) for e in (t + 1, t + 2, t + 3, t + 100)] == [
        49_000 * WAD,
        49_000 * WAD,
        49_000 * WAD,
        0,
    ]
    assert pending(oracle, BTC) == [t + 100]


def test_later_reports_do_not_change_a_fixed_price(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)
    tx = push(oracle, report, BTC, 2, t + 1, [55_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == []
    assert oracle.settlementPrice(BTC, t) == 50_000 * WAD


def test_expiries_are_per_feed(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    oracle.registerExpiry(ETH, t, {"from": deployer})
    push(oracle, report, ETH, 1, t, [3_000 * WAD] * 3)
    assert oracle.settlementPrice(ETH, t) == 3_000 * WAD
    assert oracle.settlementPrice(BTC, t) == 0
    assert pending(oracle, BTC) == [t]


def test_expiries_registered_after_a_fix_are_fixed_by_later_reports(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)
    oracle.registerExpiry(BTC, t + 20, {"from": deployer})
    oracle.registerExpiry(BTC, t + 10, {"from": deployer})
    push(oracle, report, BTC, 2, t + 15, [51_000 * WAD] * 3)
    push(oracle, report, BTC, 3, t + 25, [52_000 * WAD] * 3)
    assert oracle.settlementPrice(BTC, t + 10) == 51_000 * WAD
    assert oracle.settlementPrice(BTC, t + 20) == 52_000 * WAD
    assert pending(oracle, BTC) == []
