"""Risk arrays (docs/DESIGN.md "Margin"): per-series scenario values stored once per oracle round.

The store is exercised alone here (the deployer stands in for the engine), against the real Oracle.
"""

from types import SimpleNamespace

import pytest
from brownie import chain
from eth_account import Account

from keel.deploy_engine import FEED_BOUNDS, dev_signer_keys, push_prices
from keel.deploy_oracle import deploy_oracle
from tests.support import reverts
from tests.unit.engine.helpers import WAD, bs, spot_moves, vol_states

BTC = 1
S, VOL = 60_000 * WAD, 6 * WAD // 10


@pytest.fixture(scope="module")
def env(deployer, RiskArrayStore, Oracle):
    keys = dev_signer_keys()
    oracle = deploy_oracle(
        deployer, [Account.from_key(k).address for k in keys], 3, {BTC: FEED_BOUNDS}, Oracle
    )
    ns = SimpleNamespace(oracle=oracle, signer_keys=keys, quorum=3, deployer=deployer)
    push_prices(ns, {BTC: (S, VOL)})
    ns.store = RiskArrayStore.deploy(deployer, oracle, {"from": deployer})
    return ns


def add(env, strike, days, is_call):
    expiry = env.oracle.feed(BTC)[2] + int(days * 86_400)
    tx = env.store.addSeries((BTC, expiry, is_call, strike), {"from": env.deployer})
    return tx.return_value, expiry


def expected(strike, expiry, is_call, spot, vol, observed):
    tau_s = expiry - observed
    tau = tau_s / (365 * 86_400)
    r = min(max(2.576 * vol * (2 / 365) ** 0.5, 0.16), 0.5)
    vols = vol_states(vol, tau_s)
    v0 = bs(is_call, spot, strike, vol, tau)
    out = [v0]
    for j, x in enumerate(spot_moves(r)):
        v = vols[j // 9] if j < 27 else vols[1]
        out.append(bs(is_call, spot * (1 + x), strike, v, tau) - v0)
    return out


@pytest.mark.parametrize(
    "strike,days,is_call",
    [(60_000, 30, True), (60_000, 30, False), (30_000, 1 / 24, True), (150_000, 700, True)],
)
def test_array_matches_float_black_scholes(env, strike, days, is_call):
    sid, expiry = add(env, strike * WAD, days, is_call)
    env.store.refreshRiskArrays([sid], {"from": env.deployer})
    obs, arr = env.store.storedRiskArray(sid)
    assert obs == env.oracle.feed(BTC)[2]
    want = expected(strike, expiry, is_call, 60_000.0, 0.6, obs)
    assert arr[32] == 0  # not settled
    for got, w in zip(arr[:32], want, strict=True):
        assert abs(got / WAD - w) <= 60_000 * 1e-11  # float64 reference noise dominates


def test_view_equals_stored(env):
    sid, _ = add(env, 61_000 * WAD, 14, False)
    market = (BTC, S, VOL, env.oracle.feed(BTC)[2])
    computed = env.store.riskArray(sid, market)
    env.store.refreshRiskArrays([sid], {"from": env.deployer})
    assert env.store.storedRiskArray(sid)[1] == computed
    assert env.store.riskArray(sid, market) == computed


def test_refresh_skips_current_arrays(env, keeper):
    sid, _ = add(env, 61_000 * WAD, 14, True)
    assert env.store.refreshRiskArrays([sid], {"from": keeper}).return_value == 1
    assert env.store.refreshRiskArrays([sid], {"from": keeper}).return_value == 0
    push_prices(env, {BTC: (61_000 * WAD, VOL)})
    assert env.store.refreshRiskArrays([sid], {"from": keeper}).return_value == 1


def test_stale_array_computed_in_memory_by_view(env):
    sid, _ = add(env, 61_000 * WAD, 14, True)
    env.store.refreshRiskArrays([sid], {"from": env.deployer})
    old = env.store.storedRiskArray(sid)
    push_prices(env, {BTC: (62_000 * WAD, VOL)})
    market = (BTC, 62_000 * WAD, VOL, env.oracle.feed(BTC)[2])
    value, pnl, short = env.store.optionRisk(market, [sid], [2 * WAD])
    fresh = env.store.riskArray(sid, market)
    assert env.store.storedRiskArray(sid) == old  # the view wrote nothing
    assert value == 2 * fresh[0]
    assert list(pnl) == [2 * d for d in fresh[1:32]] and short == 0


def test_only_engine_stores_through_margin_path(env, mallory):
    sid, _ = add(env, 61_000 * WAD, 14, True)
    market = (BTC, S, VOL, env.oracle.feed(BTC)[2])
    with reverts("Unauthorised", mallory.address):
        env.store.optionRiskCached(market, [sid], [WAD], {"from": mallory})
    with reverts("Unauthorised", mallory.address):
        env.store.addSeries((BTC, 10**10, True, WAD), {"from": mallory})


def test_wrong_underlying_reverts(env):
    sid, _ = add(env, 61_000 * WAD, 14, True)
    with reverts("WrongUnderlying", sid, BTC, 2):
        env.store.riskArray(sid, (2, S, VOL, env.oracle.feed(BTC)[2]))


@pytest.mark.parametrize("strike", [2**127 - 2**100, 2**127 + 2**120])
def test_array_round_trips_packed_or_in_full(env, strike):
    """Arrays are stored as int128 halves when every value fits, else as full words: either way the
    stored array is exactly the computed one (a put struck near 2^127 wad has V ≈ K: either side)."""
    sid, _ = add(env, strike, 14, False)
    market = (BTC, S, VOL, env.oracle.feed(BTC)[2])
    computed = env.store.riskArray(sid, market)
    assert (computed[0] >= 2**127) == (strike > 2**127)  # the case named
    assert min(computed[1:32]) < 0 < max(computed[1:32])  # negative halves sign-extend back
    env.store.refreshRiskArrays([sid], {"from": env.deployer})
    assert env.store.storedRiskArray(sid) == (market[3], computed)
    assert env.store.riskArray(sid, market) == computed


def test_transient_cache_returns_what_it_computed(env, RiskArrayStore, StoreCacheProbe):
    """INV-10's transient cache (one computation of a stale series per transaction): the second
    valuation in a transaction reads what the first computed, packed as int128 halves when every
    value fits and in full words when one does not (the put struck above 2^127 wad), and gives
    exactly the in-memory view's figures: value, every scenario's P&L and the short size."""
    probe = StoreCacheProbe.deploy({"from": env.deployer})
    store = RiskArrayStore.deploy(probe, env.oracle, {"from": env.deployer})
    probe.setStore(store, {"from": env.deployer})
    expiry = env.oracle.feed(BTC)[2] + 14 * 86_400
    ids = []
    for strike, is_call in (
        (61_000 * WAD, True),
        (58_000 * WAD, False),
        (2**127 - 2**100, False),
        (2**127 + 2**120, False),
    ):
        ids.append(
            probe.addSeries((BTC, expiry, is_call, strike), {"from": env.deployer}).return_value
        )
    market = (BTC, S, VOL, env.oracle.feed(BTC)[2])
    for sid, size in zip(ids, (3 * WAD, -2 * WAD, WAD, -WAD), strict=True):
        view = store.optionRisk(market, [sid], [size])
        first, second = probe.twice.call(market, [sid], [size], {"from": env.deployer})
        assert tuple(first[:3]) == tuple(view) == tuple(second[:3])
        assert second[3] * 4 < first[3]  # the second read the cache (31 N(d) pairs skipped)
    view = store.optionRisk(market, ids, [WAD, -WAD, 2 * WAD, -3 * WAD])
    first, second = probe.twice.call(market, ids, [WAD, -WAD, 2 * WAD, -3 * WAD])
    assert tuple(first[:3]) == tuple(view) == tuple(second[:3])
    # the flags word rides in the last half: a short in a settled series is out of the SOM base
    soon = env.oracle.feed(BTC)[2] + 3_600
    settled = probe.addSeries((BTC, soon, False, 61_000 * WAD), {"from": env.deployer}).return_value
    env.oracle.registerExpiry(BTC, soon, {"from": env.deployer})  # governance (the deployer)
    chain.sleep(3_700)
    push_prices(env, {BTC: (S, VOL)})
    assert env.oracle.settlementPrice(BTC, soon) == S
    market = (BTC, S, VOL, env.oracle.feed(BTC)[2])
    view = store.optionRisk(market, [settled, ids[0]], [-WAD, -WAD])
    assert view[2] == WAD  # only the live short counts
    first, second = probe.twice.call(market, [settled, ids[0]], [-WAD, -WAD])
    assert tuple(first[:3]) == tuple(view) == tuple(second[:3])
