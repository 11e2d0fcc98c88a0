"""INV-10 machinery: risk arrays cached for one transaction, and positions stored one slot each.

- A margin check on the trade or liquidation path keeps the stale arrays it computes in transient
  storage (RiskArrayStore.optionRiskCached), keyed by the oracle round; nothing is stored for good
  (only keepers' refreshRiskArrays write SSTORE2 arrays). The attacker's question: can a value
  cached for one round be used for another? A contract that values an account, moves the oracle to
  a new round and values it again in one transaction must see the new round's figures. Nor may an
  array of an expired series made before its price was fixed outlive the fix: governance fixes a
  missed settlement price without a new round, so such an array is flagged provisional and
  computed again once the price is fixed (who gains otherwise: whoever holds the option that the
  stale intrinsic value at S overvalues, for the rest of the round).
- An option position is one storage slot (series, expiry, size); the SPEC §4 expiry limit is
  counted from the slots, so closing the last position of an expiry frees it.
"""

from __future__ import annotations

from keel.deploy_engine import model_price, open_account, refresh_feeds
from keel.deploy_oracle import make_report
from tests.fixtures.engine import BTC, BTC_VOL, ETH, fresh, option, sleep, trade
from tests.support import reverts
from tests.unit.engine.helpers import WAD

S = 60_000 * WAD


def key(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


def _series(instrument: int) -> int:
    return instrument - (1 << 128)


def _report(stack, feed_id, price, vol, observed_at):
    round_ = stack.oracle.feed(feed_id)[3] + 1
    obs = [(k, price, vol) for k in stack.signer_keys[: stack.quorum]]
    return make_report(stack.oracle, feed_id, round_, observed_at, obs)


def test_fill_after_new_round_stores_no_array(stack, alice_pm, bob_pm):
    call = option(stack, BTC, 62_000 * WAD, 20)
    trade(stack, alice_pm, bob_pm, call, WAD, model_price(stack, call))
    sid = _series(call)
    stack.store.refreshRiskArrays([sid], {"from": stack.deployer})
    stored = stack.store.storedRiskArray(sid)
    assert stored[0] == stack.oracle.feed(BTC)[2]
    fresh(stack, {BTC: (S * 101 // 100, BTC_VOL)})  # a new round: the stored array is stale
    tx = trade(stack, alice_pm, bob_pm, call, WAD // 10, model_price(stack, call))
    assert "Traded" in tx.events
    assert "RiskArrayStored" not in tx.events  # the trade path writes no array for good
    assert stack.store.storedRiskArray(sid) == stored
    assert stack.engine.optionPosition(alice_pm[0], sid) == WAD + WAD // 10


def test_cached_arrays_never_cross_a_round(stack, alice_pm, bob_pm, deployer, RoundCacheProbe):
    put = option(stack, BTC, 58_000 * WAD, 9, False)
    trade(stack, alice_pm, bob_pm, put, -2 * WAD, model_price(stack, put))
    fresh(stack)  # round R: every array stale, so the first check computes and caches them
    probe = RoundCacheProbe.deploy(stack.engine, stack.oracle, {"from": deployer})
    before = stack.engine.marginBreakdown(alice_pm[0])  # the view at round R (nothing cached)
    observed = stack.oracle.feed(BTC)[2] + 1
    report = _report(stack, BTC, S * 102 // 100, BTC_VOL, observed)  # round R + 1, spot +2%
    tx = probe.acrossRound(alice_pm[0], [report], {"from": deployer})
    first, second = tx.return_value
    after = stack.engine.marginBreakdown(alice_pm[0])  # the view at round R + 1
    assert stack.oracle.feed(BTC)[2] == observed
    assert first == before
    assert second == after  # not round R's cached values at round R + 1's spot
    assert second[0] != first[0]  # the round did move the account's equity


def test_price_fixed_within_a_round_replaces_the_provisional_array(
    stack, carol, mallory, deployer, RoundCacheProbe
):
    holder = (open_account(stack, carol, {"USDC": 1_000_000}), carol)
    writer = (open_account(stack, mallory, {"USDC": 1_000_000}), mallory)
    refresh_feeds(stack, (BTC, ETH))
    call = option(stack, BTC, S, 1 / 24)  # at the money, expiring in an hour
    sid = _series(call)
    expiry = stack.store.series(sid)[1]
    trade(stack, holder, writer, call, WAD, model_price(stack, call))
    # past the expiry and its 15-minute window: the next report is late and fixes no price
    sleep(expiry - stack.oracle.feed(BTC)[2] + 900 + 60)
    fresh(stack, {BTC: (S * 105 // 100, BTC_VOL)})
    assert stack.oracle.settlementPrice(BTC, expiry) == 0
    stack.store.refreshRiskArrays([sid], {"from": deployer})
    observed, stored = stack.store.storedRiskArray(sid)
    assert stored[32] == 2 and stored[0] == S * 5 // 100  # provisional: intrinsic at S = 1.05 K

    # governance fixes the price at the strike (the call pays nothing) in the same round, between
    # two checks of one transaction that values the holder before and after
    probe = RoundCacheProbe.deploy(stack.engine, stack.oracle, {"from": deployer})
    stack.oracle.transferOwnership(probe, {"from": deployer})
    probe.execute(stack.oracle, stack.oracle.acceptOwnership.encode_input(), {"from": deployer})
    obs = [(k, S, BTC_VOL) for k in stack.signer_keys[: stack.quorum]]
    fix = make_report(stack.oracle, BTC, 0, expiry + 60, obs)
    before = stack.engine.marginBreakdown(holder[0])
    data = stack.oracle.fixSettlementPrice.encode_input(BTC, expiry, fix)
    first, second = probe.acrossCall(holder[0], stack.oracle, data, {"from": deployer}).return_value
    assert stack.oracle.settlementPrice(BTC, expiry) == S
    assert stack.oracle.feed(BTC)[2] == observed  # no new round
    assert first == before
    assert second[0] == first[0] - S * 5 // 100  # the call is worth its fixed payoff, 0
    assert second == stack.engine.marginBreakdown(holder[0])
    # the stored provisional array is no longer used, and a refresh in the same round replaces it
    market = (BTC, *stack.oracle.feed(BTC)[:2], observed)
    settled = stack.store.riskArray(sid, market)
    assert settled[0] == 0 and settled[32] == 1 and list(settled[1:32]) == [0] * 31
    assert stack.store.refreshRiskArrays([sid], {"from": deployer}).return_value == 1
    assert stack.store.storedRiskArray(sid) == (observed, settled)
    assert stack.store.refreshRiskArrays([sid], {"from": deployer}).return_value == 0
    probe.execute(
        stack.oracle, stack.oracle.transferOwnership.encode_input(deployer), {"from": deployer}
    )
    stack.oracle.acceptOwnership({"from": deployer})


def test_only_the_engine_caches(stack, mallory):
    market = (BTC, *stack.oracle.feed(BTC)[:2], stack.oracle.feed(BTC)[2])
    with reverts("Unauthorised", mallory.address):
        stack.store.optionRiskCached(market, [], [], {"from": mallory})


def test_closing_an_expiry_frees_it(stack, carol, mallory, deployer):
    alice_pm = (open_account(stack, carol, {"USDC": 1_000_000}), carol)  # two fresh accounts
    bob_pm = (open_account(stack, mallory, {"USDC": 1_000_000}), mallory)
    stack.engine.setParam(key("maxExpiriesPerUnderlying"), 2, {"from": deployer})
    refresh_feeds(stack, (BTC, ETH))
    a1, a2 = option(stack, BTC, S, 10), option(stack, BTC, S, 10, False)
    b = option(stack, BTC, S, 20)
    c = option(stack, BTC, S, 40)
    for inst in (a1, a2, b):
        trade(stack, alice_pm, bob_pm, inst, WAD, model_price(stack, inst))
    # a third expiry is one too many; another series of a held expiry is not
    with reverts("TooManyExpiries", alice_pm[0], BTC, 3, 2):
        trade(stack, alice_pm, bob_pm, c, WAD, model_price(stack, c))
    b2 = option(stack, BTC, 61_000 * WAD, 20)
    trade(stack, alice_pm, bob_pm, b2, WAD, model_price(stack, b2))
    # closing one of two positions of the first expiry keeps it held
    trade(stack, alice_pm, bob_pm, a1, -WAD, model_price(stack, a1))
    with reverts("TooManyExpiries", alice_pm[0], BTC, 3, 2):
        trade(stack, alice_pm, bob_pm, c, WAD, model_price(stack, c))
    # closing the last one frees it
    trade(stack, alice_pm, bob_pm, a2, -WAD, model_price(stack, a2))
    trade(stack, alice_pm, bob_pm, c, WAD, model_price(stack, c))
    held = stack.engine.accountSeries(alice_pm[0], BTC)
    assert sorted(held) == sorted(_series(i) for i in (b, b2, c))
    for inst, q in ((a1, 0), (a2, 0), (b, WAD), (b2, WAD), (c, WAD)):
        assert stack.engine.optionPosition(alice_pm[0], _series(inst)) == q
        assert stack.engine.optionPosition(bob_pm[0], _series(inst)) == -q
