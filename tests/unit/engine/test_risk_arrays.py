"""Risk arrays (docs/DESIGN.md "Margin"): per-series scenario values stored once per oracle round.

The store is exercised alone here (the deployer stands in for the engine), against the real Oracle.
"""

from types import SimpleNamespace

import pytest
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
