"""The vol floor σ_floor (SPEC §6 [v2] anti-procyclicality), carried in the price report.

Every observation signs (price, vol, volFloor); the report's floor is the median of the signed
floors, bounded like the vol (0 < σ_floor <= maxVol, else `VolFloorOutOfBounds`) and within
maxVolSpread (relative) of its median (else `VolFloorSpread`). The feed's vol, which `feed` and
`freshFeed` return to every consumer, is σ_eff = max(median σ, median σ_floor); `volInputs` gives
the raw medians. Expected figures here are worked by hand from the observations.
"""

import brownie
from eth_account import Account

from keel.deploy_oracle import param_key
from keel.observations import Observation, oracle_domain
from tests.fixtures.oracle import (
    BTC,
    ETH,
    SIGNER_KEYS,
    WAD,
    events,
    feed_state,
    last_block_time,
    next_block_at,
    plain,
)
from tests.support import reverts

K = SIGNER_KEYS
P = 60_000 * WAD  # [wad USD]
MAX_VOL = 10 * WAD  # the BTC test feed's maxVol [wad]


def obs(vols, floors, keys=K, price=P):
    return [(k, price, v, f) for k, v, f in zip(keys, vols, floors, strict=False)]


def push(oracle, report, rnd, vols, floors, t=None, keys=K):
    t = t if t is not None else last_block_time()
    return oracle.submit([report(BTC, rnd, t, obs(vols, floors, keys))])


# --- σ_eff ---


def test_a_binding_floor_becomes_the_feed_vol(oracle, report):
    """σ = 40% under σ_floor = 65%: every reader gets 65%, the raw medians stay readable."""
    t = last_block_time()
    tx = push(oracle, report, 1, [4 * WAD // 10] * 3, [65 * WAD // 100] * 3, t=t)
    assert feed_state(oracle, BTC) == (P, 65 * WAD // 100, t, 1)
    assert plain(oracle.freshFeed(BTC)) == (P, 65 * WAD // 100, t)
    assert plain(oracle.volInputs(BTC)) == (4 * WAD // 10, 65 * WAD // 100)
    assert events(tx, "FeedUpdated") == [
        {"feedId": BTC, "round": 1, "price": P, "vol": 4 * WAD // 10}
        | {"volFloor": 65 * WAD // 100, "observedAt": t}
    ]


def test_a_vol_above_the_floor_is_kept(oracle, report):
    push(oracle, report, 1, [9 * WAD // 10] * 3, [65 * WAD // 100] * 3)
    assert feed_state(oracle, BTC)[1] == 9 * WAD // 10
    assert plain(oracle.volInputs(BTC)) == (9 * WAD // 10, 65 * WAD // 100)


def test_vol_equal_to_the_floor(oracle, report):
    push(oracle, report, 1, [7 * WAD // 10] * 3, [7 * WAD // 10] * 3)
    assert feed_state(oracle, BTC)[1] == 7 * WAD // 10


def test_floor_and_vol_medians_are_taken_apart(oracle, report):
    """Medians are independent: vols (0.50, 0.52, 0.51) -> 0.51, floors (0.60, 0.58, 0.59) -> 0.59,
    so σ_eff = 0.59 although no signer signed (0.51, 0.59) together."""
    c = WAD // 100
    push(oracle, report, 1, [50 * c, 52 * c, 51 * c], [60 * c, 58 * c, 59 * c])
    assert plain(oracle.volInputs(BTC)) == (51 * c, 59 * c)
    assert feed_state(oracle, BTC)[1] == 59 * c


def test_even_count_floor_median_is_the_floor_of_the_middle_mean(oracle, report):
    f = 6 * WAD // 10
    push(oracle, report, 1, [WAD // 2] * 4, [f + 1, f + 4, f, f + 9])
    assert plain(oracle.volInputs(BTC))[1] == f + 2  # middle two f + 1, f + 4 -> floor(f + 2.5)


def test_each_report_replaces_the_floor(oracle, report):
    """A lower floor in the next round lowers σ_eff: the floor is the relayer's, not a ratchet."""
    t = last_block_time() - 10
    push(oracle, report, 1, [WAD // 2] * 3, [8 * WAD // 10] * 3, t=t)
    assert feed_state(oracle, BTC)[1] == 8 * WAD // 10
    push(oracle, report, 2, [WAD // 2] * 3, [6 * WAD // 10] * 3, t=t + 1)
    assert feed_state(oracle, BTC)[1] == 6 * WAD // 10
    assert plain(oracle.volInputs(BTC)) == (WAD // 2, 6 * WAD // 10)


def test_feeds_keep_their_own_floors(oracle, report):
    t = last_block_time()
    oracle.submit(
        [
            report(BTC, 1, t, obs([WAD // 2] * 3, [7 * WAD // 10] * 3)),
            report(ETH, 1, t, obs([WAD] * 3, [8 * WAD // 10] * 3, price=3_000 * WAD)),
        ]
    )
    assert feed_state(oracle, BTC)[1] == 7 * WAD // 10
    assert feed_state(oracle, ETH)[1] == WAD
    assert plain(oracle.volInputs(ETH)) == (WAD, 8 * WAD // 10)


def test_vol_inputs_of_a_feed_never_reported_are_zero(oracle):
    assert plain(oracle.volInputs(ETH)) == (0, 0)


# --- Bounds (like the vol's) ---


def test_floor_bounds_are_inclusive(oracle, report):
    t = last_block_time() - 10
    push(oracle, report, 1, [WAD // 2] * 3, [1] * 3, t=t)
    assert plain(oracle.volInputs(BTC)) == (WAD // 2, 1)
    push(oracle, report, 2, [WAD // 2] * 3, [MAX_VOL] * 3, t=t + 1)
    assert feed_state(oracle, BTC)[1] == MAX_VOL


def test_zero_floor_reverts(oracle, report):
    with reverts("VolFloorOutOfBounds", BTC, 0, MAX_VOL):
        push(oracle, report, 1, [WAD // 2] * 3, [WAD // 2, 0, WAD // 2])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


def test_floor_one_above_max_vol_reverts(oracle, report):
    with reverts("VolFloorOutOfBounds", BTC, MAX_VOL + 1, MAX_VOL):
        push(oracle, report, 1, [WAD // 2] * 3, [MAX_VOL, MAX_VOL + 1, MAX_VOL])
    assert plain(oracle.volInputs(BTC)) == (0, 0)


def test_floor_bound_follows_set_feed_bounds(oracle, report, deployer):
    oracle.setFeedBounds(BTC, 1_000 * WAD, 10_000_000 * WAD, 2 * WAD, {"from": deployer})
    with reverts("VolFloorOutOfBounds", BTC, 2 * WAD + 1, 2 * WAD):
        push(oracle, report, 1, [WAD // 2] * 3, [2 * WAD + 1] * 3)


def test_price_and_vol_bounds_are_checked_before_the_floor(oracle, report):
    with reverts("VolOutOfBounds", BTC, 0, MAX_VOL):
        push(oracle, report, 1, [0] * 3, [0] * 3)


# --- Spread (relative, maxVolSpread = 10%) ---


def test_floor_spread_at_the_limit_passes(oracle, report):
    f = 6 * WAD // 10
    push(oracle, report, 1, [WAD // 2] * 3, [f - f // 10, f, f + f // 10])
    assert plain(oracle.volInputs(BTC))[1] == f


def test_floor_one_wei_beyond_the_spread_reverts(oracle, report):
    f = 6 * WAD // 10
    with reverts("VolFloorSpread", BTC, f + f // 10 + 1, f):
        push(oracle, report, 1, [WAD // 2] * 3, [f - f // 10, f, f + f // 10 + 1])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


def test_floor_spread_reports_the_low_end_when_it_is_farther(oracle, report):
    f = 6 * WAD // 10
    with reverts("VolFloorSpread", BTC, f - f // 10 - 1, f):
        push(oracle, report, 1, [WAD // 2] * 3, [f - f // 10 - 1, f, f + f // 10])


def test_floor_spread_follows_max_vol_spread(oracle, report, deployer):
    oracle.setParam(param_key("maxVolSpread"), WAD // 5, {"from": deployer})
    f = 6 * WAD // 10
    push(oracle, report, 1, [WAD // 2] * 3, [f - f // 5, f, f + f // 5])
    assert plain(oracle.volInputs(BTC))[1] == f


def test_attack_colluders_cannot_carry_the_floor(oracle, report):
    """Who gains from a high floor: an attacker short the accounts it can then liquidate (every
    scan range and haircut rises with it). Two colluders (f + 1) signing the floor at maxVol with
    one honest observation copied in: the median is theirs, but the honest floor lies 94% from it
    and the report reverts VolFloorSpread; nothing is stored."""
    honest = 6 * WAD // 10
    with reverts("VolFloorSpread", BTC, honest, MAX_VOL):
        push(oracle, report, 1, [WAD // 2] * 3, [MAX_VOL, MAX_VOL, honest])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)
    assert plain(oracle.volInputs(BTC)) == (0, 0)


# --- Signatures cover the floor ---


def test_a_floor_changed_after_signing_fails_the_signature(oracle, report):
    """The submitter cannot swap a signed floor: the signature then recovers to a stranger."""
    t = last_block_time()
    r = report(BTC, 1, t, obs([WAD // 2] * 3, [6 * WAD // 10] * 3))
    feed_id, rnd, at, rows = r
    rows = list(rows)
    price, vol, _, v, rr, s = rows[0]
    rows[0] = (price, vol, 9 * WAD // 10, v, rr, s)
    digest = Observation(BTC, 1, at, price, vol, 9 * WAD // 10).digest(
        oracle_domain(brownie.chain.id, oracle.address)
    )
    stranger = Account._recover_hash(digest, vrs=(v, rr, s))  # noqa: SLF001
    assert stranger not in {Account.from_key(k).address for k in K}
    with reverts("UnknownSigner", BTC, stranger):
        oracle.submit([(feed_id, rnd, at, rows)])
    assert feed_state(oracle, BTC) == (0, 0, 0, 0)


def test_governance_settlement_report_checks_floors_too(oracle, report, deployer):
    """fixSettlementPrice runs the same observation checks, the floor's included."""
    expiry = last_block_time() + 100
    oracle.registerExpiry(BTC, expiry, {"from": deployer})
    next_block_at(expiry + 901)
    bad = report(BTC, 0, expiry + 10, obs([WAD // 2] * 3, [0] * 3))
    with reverts("VolFloorOutOfBounds", BTC, 0, MAX_VOL):
        oracle.fixSettlementPrice(BTC, expiry, bad, {"from": deployer})
    good = report(BTC, 0, expiry + 10, obs([WAD // 2] * 3, [WAD] * 3))
    oracle.fixSettlementPrice(BTC, expiry, good, {"from": deployer})
    assert oracle.settlementPrice(BTC, expiry) == P
