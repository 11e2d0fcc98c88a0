"""Expiry registration and settlement-price fixing (SPEC §3 "Expiry prices", DESIGN "Oracle"),
with the [v2] settlement window and the governance fix of a missed expiry."""

from eth_account import Account

from keel.deploy_oracle import param_key
from tests.fixtures.oracle import (
    BTC,
    ETH,
    OUTSIDER_KEYS,
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
    tx = push(oracle, report, BTC, 1, t, [50_900 * WAD, 51_200 * WAD, 51_000 * WAD])
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


# --- Settlement window (SPEC §3 [v2]) ---

WINDOW = 900  # settlementWindow default [s]
HOUR = 3600
V = WAD // 2


def window_report(report, observed_at, prices, round_=0, keys=K):
    """A governance settlement report: `keys` sign `prices` observed at `observed_at`, for `round_`
    (0: signed after the fact for the window, not for a feed round)."""
    return report(BTC, round_, observed_at, [(k, p, V) for k, p in zip(keys, prices, strict=False)])


def test_attack_late_settlement_report(oracle, report, deployer, mallory):
    """Old rule: the first accepted report observed at or after an expiry fixed its settlement price
    however late it came. With no report for a while after expiry (a quiet market: the relayer
    holds; or an outage), a submitter picked a report observed 2 h later, after BTC had risen from
    $50,000 to $55,000, and that later price settled every option of the expiry. Now only a report
    observed within settlementWindow (15 min) after the expiry fixes it: the late report updates
    the feed but leaves the settlement price unfixed (SettlementWindowMissed), and governance
    fixes it from quorum-signed observations of the window."""
    t = last_block_time() + 10
    e = t + 100
    oracle.registerExpiry(BTC, e, {"from": deployer})
    push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)

    tx = push(oracle, report, BTC, 2, e + 2 * HOUR, [55_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == []
    assert events(tx, "SettlementWindowMissed") == [
        {"feedId": BTC, "expiry": e, "observedAt": e + 2 * HOUR}
    ]
    assert oracle.settlementPrice(BTC, e) == 0  # the late price did not settle the expiry
    assert pending(oracle, BTC) == []  # passed: it no longer blocks the queue
    assert plain(oracle.feed(BTC))[:1] == (55_000 * WAD,)  # the report itself is a valid update

    # Governance fixes the price from observations of the window (signed for round 0 afterwards).
    fix = window_report(report, e + 60, [50_100 * WAD, 50_000 * WAD, 50_200 * WAD])
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        oracle.fixSettlementPrice(BTC, e, fix, {"from": mallory})
    tx = oracle.fixSettlementPrice(BTC, e, fix, {"from": deployer})
    assert events(tx, "SettlementPriceFixedByGovernance") == [
        {
            "feedId": BTC,
            "expiry": e,
            "price": 50_100 * WAD,
            "observedAt": e + 60,
            "round": 0,
            "caller": deployer.address,
        }
    ]
    assert oracle.settlementPrice(BTC, e) == 50_100 * WAD
    # No replay, and later reports never change it.
    again = window_report(report, e + 61, [50_900 * WAD] * 3)
    with reverts("SettlementPriceAlreadyFixed", BTC, e, 50_100 * WAD):
        oracle.fixSettlementPrice(BTC, e, again, {"from": deployer})
    push(oracle, report, BTC, 3, e + 3 * HOUR, [56_000 * WAD] * 3)
    assert oracle.settlementPrice(BTC, e) == 50_100 * WAD


def test_report_at_the_end_of_the_window_fixes_the_price(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    tx = push(oracle, report, BTC, 1, t + WINDOW, [50_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == [
        {"feedId": BTC, "expiry": t, "price": 50_000 * WAD, "round": 1}
    ]
    assert events(tx, "SettlementWindowMissed") == []
    assert oracle.settlementPrice(BTC, t) == 50_000 * WAD


def test_report_one_second_after_the_window_does_not_fix_the_price(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    tx = push(oracle, report, BTC, 1, t + WINDOW + 1, [50_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == []
    assert events(tx, "SettlementWindowMissed") == [
        {"feedId": BTC, "expiry": t, "observedAt": t + WINDOW + 1}
    ]
    assert oracle.settlementPrice(BTC, t) == 0
    assert pending(oracle, BTC) == []


def test_a_missed_expiry_does_not_block_later_ones(oracle, report, deployer):
    """E1 is passed late (missed), E2 is still ahead; the next report in E2's window fixes E2."""
    t = last_block_time() + 10
    e1, e2 = t + 100, t + 100 + HOUR
    oracle.registerExpiry(BTC, e2, {"from": deployer})
    oracle.registerExpiry(BTC, e1, {"from": deployer})
    tx = push(oracle, report, BTC, 1, e1 + 30 * 60, [50_000 * WAD] * 3)
    assert events(tx, "SettlementWindowMissed") == [
        {"feedId": BTC, "expiry": e1, "observedAt": e1 + 30 * 60}
    ]
    assert pending(oracle, BTC) == [e2]
    tx = push(oracle, report, BTC, 2, e2 + 10, [51_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == [
        {"feedId": BTC, "expiry": e2, "price": 51_000 * WAD, "round": 2}
    ]
    assert [oracle.settlementPrice(BTC, e) for e in (e1, e2)] == [0, 51_000 * WAD]
    assert pending(oracle, BTC) == []


def test_one_late_report_misses_some_expiries_and_fixes_others(oracle, report, deployer):
    t = last_block_time() + 10
    e1, e2 = t + 100, t + 100 + 20 * 60
    for e in (e1, e2):
        oracle.registerExpiry(BTC, e, {"from": deployer})
    tx = push(oracle, report, BTC, 1, e2 + 60, [50_000 * WAD] * 3)
    assert events(tx, "SettlementWindowMissed") == [
        {"feedId": BTC, "expiry": e1, "observedAt": e2 + 60}
    ]
    assert events(tx, "SettlementPriceFixed") == [
        {"feedId": BTC, "expiry": e2, "price": 50_000 * WAD, "round": 1}
    ]


def test_a_wider_settlement_window_applies_to_the_next_report(oracle, report, deployer):
    t = last_block_time() + 10
    oracle.registerExpiry(BTC, t, {"from": deployer})
    oracle.setParam(param_key("settlementWindow"), HOUR, {"from": deployer})
    push(oracle, report, BTC, 1, t + HOUR, [50_000 * WAD] * 3)
    assert oracle.settlementPrice(BTC, t) == 50_000 * WAD


# --- Governance settlement ---


def _missed(oracle, report, deployer):
    """An expiry e whose window passed with no report at all (the feed last observed before it)."""
    t = last_block_time() + 10
    e = t + 100
    oracle.registerExpiry(BTC, e, {"from": deployer})
    push(oracle, report, BTC, 1, t, [50_000 * WAD] * 3)
    return e


def test_governance_waits_for_the_end_of_the_window(oracle, report, deployer):
    e = _missed(oracle, report, deployer)
    fix = window_report(report, e + 10, [50_000 * WAD] * 3)
    next_block_at(e + WINDOW)
    with reverts("SettlementWindowOpen", BTC, e, e + WINDOW):
        oracle.fixSettlementPrice(BTC, e, fix, {"from": deployer})
    next_block_at(max(e + WINDOW + 1, last_block_time() + 1))
    oracle.fixSettlementPrice(BTC, e, fix, {"from": deployer})
    assert oracle.settlementPrice(BTC, e) == 50_000 * WAD


def test_governance_observations_must_lie_in_the_window(oracle, report, deployer):
    e = _missed(oracle, report, deployer)
    next_block_at(e + 2 * HOUR)
    for at in (e - 1, e + WINDOW + 1):
        fix = window_report(report, at, [50_000 * WAD] * 3)
        with reverts("ObservationOutsideSettlementWindow", BTC, e, at, e + WINDOW):
            oracle.fixSettlementPrice(BTC, e, fix, {"from": deployer})
    oracle.fixSettlementPrice(
        BTC, e, window_report(report, e + WINDOW, [50_000 * WAD] * 3), {"from": deployer}
    )
    assert oracle.settlementPrice(BTC, e) == 50_000 * WAD


def test_governance_observations_at_the_expiry_are_in_the_window(oracle, report, deployer):
    e = _missed(oracle, report, deployer)
    next_block_at(e + 2 * HOUR)
    oracle.fixSettlementPrice(
        BTC, e, window_report(report, e, [49_000 * WAD] * 3, round_=7), {"from": deployer}
    )
    assert oracle.settlementPrice(BTC, e) == 49_000 * WAD


def test_governance_report_obeys_quorum_signers_bounds_and_spread(oracle, report, deployer):
    e = _missed(oracle, report, deployer)
    next_block_at(e + 2 * HOUR)
    at = e + 60
    with reverts("QuorumNotMet", BTC, 2, 3):
        oracle.fixSettlementPrice(
            BTC, e, window_report(report, at, [50_000 * WAD] * 2), {"from": deployer}
        )
    outsider = OUTSIDER_KEYS[0]
    with reverts("UnknownSigner", BTC, Account.from_key(outsider).address):
        oracle.fixSettlementPrice(
            BTC,
            e,
            window_report(report, at, [50_000 * WAD] * 3, keys=[K[0], K[1], outsider]),
            {"from": deployer},
        )
    with reverts("PriceOutOfBounds", BTC, 999 * WAD, 1_000 * WAD, 10_000_000 * WAD):
        oracle.fixSettlementPrice(
            BTC, e, window_report(report, at, [999 * WAD] * 3), {"from": deployer}
        )
    with reverts("ObservationSpread", BTC, 40_000 * WAD, 50_000 * WAD, V, V):
        oracle.fixSettlementPrice(
            BTC,
            e,
            window_report(report, at, [50_000 * WAD, 50_000 * WAD, 40_000 * WAD]),
            {"from": deployer},
        )
    assert oracle.settlementPrice(BTC, e) == 0


def test_governance_report_must_name_the_feed(oracle, report, deployer):
    e = _missed(oracle, report, deployer)
    next_block_at(e + 2 * HOUR)
    fix = window_report(report, e + 60, [50_000 * WAD] * 3)
    with reverts("ReportFeedMismatch", ETH, BTC):
        oracle.fixSettlementPrice(ETH, e, fix, {"from": deployer})
    with reverts("UnknownFeed", 7):
        oracle.fixSettlementPrice(7, e, fix, {"from": deployer})
    with reverts("ExpiryOutOfRange", 2**32):
        oracle.fixSettlementPrice(BTC, 2**32, fix, {"from": deployer})


def test_a_governance_fix_of_a_pending_expiry_is_passed_silently(oracle, report, deployer):
    """No report at all since the expiry: governance fixes it while it is still queued; it leaves
    the pending view at once, and the next report passes it without touching the price."""
    e = _missed(oracle, report, deployer)
    next_block_at(e + 2 * HOUR)
    oracle.fixSettlementPrice(
        BTC, e, window_report(report, e + 60, [50_000 * WAD] * 3), {"from": deployer}
    )
    assert pending(oracle, BTC) == []
    tx = push(oracle, report, BTC, 2, e + 2 * HOUR + 1, [60_000 * WAD] * 3)
    assert events(tx, "SettlementPriceFixed") == []
    assert events(tx, "SettlementWindowMissed") == []
    assert oracle.settlementPrice(BTC, e) == 50_000 * WAD


def test_registrar_cannot_fix_a_settlement_price(oracle, report, deployer, alice):
    """INV-7: the registrar's only right is registering expiries."""
    e = _missed(oracle, report, deployer)
    oracle.setRegistrar(alice, True, {"from": deployer})
    next_block_at(e + 2 * HOUR)
    with reverts("OwnableUnauthorizedAccount", alice.address):
        oracle.fixSettlementPrice(
            BTC, e, window_report(report, e + 60, [50_000 * WAD] * 3), {"from": alice}
        )
    assert oracle.settlementPrice(BTC, e) == 0
