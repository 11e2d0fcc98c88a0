"""The guardian (SPEC §8b): pauses new risk at once, and nothing else.

While paused, trades that raise an account's IM and new series revert; deposits, withdrawals of
accounts without risk, risk-reducing trades, liquidations and settlement go on. The guardian holds
no owner power, nobody else may pause, and governance (the timelock) replaces the guardian.

State (tests/fixtures/governance.py, on the liquidation stack with funding and fees off):
`gov_long` alice +1 BTC perp against `gov_short` bob −1 BTC, `gov_flat` carol with cash only;
`underwater` (tests/fixtures/liquidation.py) puts the liquidation victim below MM.
"""

from brownie import chain

from keel.deploy_engine import BTC, ETH, WAD, open_account, push_prices, trade
from keel.governance import call, execute, govern, schedule, set_guardian, wait
from tests.fixtures.governance import USDC
from tests.support import reverts
from tests.unit.governance.helpers import OWNER, RESTRICTED, state_changing

DAY = 86_400
EXPIRY_TIME_OF_DAY = 8 * 3_600  # listed expiries fall at 08:00 UTC  [s]


def pause(stack, who):
    return stack.engine.setPaused(True, {"from": who})


def spot(stack, feed=BTC) -> int:
    return stack.oracle.feed(feed)[0]


def im(stack, account) -> int:
    return stack.engine.marginBreakdown(account)[2]


def next_listing_expiry(min_ahead: int) -> int:
    """The first 08:00 UTC at least `min_ahead` seconds after the last block."""
    now = chain[-1].timestamp
    expiry = now - now % DAY + EXPIRY_TIME_OF_DAY
    while expiry < now + min_ahead:
        expiry += DAY
    return expiry


# --- Who pauses ---


def test_the_guardian_pauses_at_once(gov_stack, gov_guardian, gov_timelock):
    """No operation, no delay: the pause applies in the guardian's own transaction."""
    e = gov_stack.engine
    assert e.guardian() == gov_guardian
    assert not e.paused()
    assert not gov_timelock.hasRole(gov_timelock.PROPOSER_ROLE(), gov_guardian)
    tx = pause(gov_stack, gov_guardian)
    assert tx.events["PausedSet"] == {"paused": True, "by": gov_guardian}
    assert e.paused()
    tx = e.setPaused(False, {"from": gov_guardian})
    assert tx.events["PausedSet"] == {"paused": False, "by": gov_guardian}
    assert not e.paused()


def test_nobody_else_pauses(gov_stack, mallory, deployer, gov_proposer, gov_lister):
    """Not an attacker, the old owner, governance's own account (it acts through the timelock) or a
    lister."""
    for who in (mallory, deployer, gov_proposer, gov_lister):
        with reverts("NotGuardian", who.address):
            pause(gov_stack, who)
    assert not gov_stack.engine.paused()


def test_governance_pauses_through_the_timelock(gov_stack, gov_timelock, gov_proposer):
    govern(gov_timelock, call(gov_stack.engine.setPaused, True), gov_proposer)
    assert gov_stack.engine.paused()


def test_the_guardian_holds_no_owner_power(gov_stack, gov_guardian):
    """Every owner power of every contract refuses the guardian (only setPaused is its own)."""
    contracts = {
        "vault": gov_stack.vault,
        "oracle": gov_stack.oracle,
        "engine": gov_stack.engine,
        "liquidator": gov_stack.liquidator,
    }
    checked = 0
    for name, c in contracts.items():
        args = state_changing(c)
        for fn, error in RESTRICTED[name].items():
            if (name, fn) == ("engine", "setPaused") or fn not in args:
                continue
            with reverts(error, gov_guardian.address):
                getattr(c, fn)(*args[fn], {"from": gov_guardian})
            checked += 1
    assert (
        checked
        == sum(len(set(RESTRICTED[n]) & set(state_changing(c))) for n, c in contracts.items()) - 1
    )


def test_the_guardian_cannot_name_a_guardian(gov_stack, gov_guardian, mallory):
    with reverts(OWNER, gov_guardian.address):
        gov_stack.engine.setGuardian(mallory, {"from": gov_guardian})
    assert gov_stack.engine.guardian() == gov_guardian


def test_the_timelock_replaces_the_guardian(
    gov_stack, gov_timelock, gov_proposer, gov_guardian, keeper
):
    tx = set_guardian(gov_timelock, gov_stack.engine, keeper, gov_proposer)
    assert tx.events["GuardianSet"] == {"guardian": keeper}
    assert gov_stack.engine.guardian() == keeper
    with reverts("NotGuardian", gov_guardian.address):
        pause(gov_stack, gov_guardian)
    pause(gov_stack, keeper)
    assert gov_stack.engine.paused()


# --- What a pause stops ---


def test_a_fill_raising_im_reverts_while_paused(
    gov_stack, gov_guardian, gov_long, gov_short, gov_flat
):
    """alice sells her 1 BTC long to carol: alice's IM falls, carol's rises from 0 to the IM of a
    1 BTC long (alice's now) -> NewRiskPaused(carol, 0, that IM); nothing moves. Resumed, the same
    fill goes through and leaves carol with exactly that IM."""
    e, v = gov_stack.engine, gov_stack.vault
    im_long = im(gov_stack, gov_long[0])
    assert im_long > 0
    cash = (v.cashOf(gov_long[0]), v.cashOf(gov_flat[0]))
    pause(gov_stack, gov_guardian)
    with reverts("NewRiskPaused", gov_flat[0], 0, im_long):
        trade(gov_stack, gov_long, gov_flat, BTC, -WAD, spot(gov_stack))
    assert e.perpPosition(gov_long[0], BTC)[0] == WAD
    assert e.perpPosition(gov_flat[0], BTC)[0] == 0
    assert (v.cashOf(gov_long[0]), v.cashOf(gov_flat[0])) == cash
    e.setPaused(False, {"from": gov_guardian})
    trade(gov_stack, gov_long, gov_flat, BTC, -WAD, spot(gov_stack))
    assert e.perpPosition(gov_flat[0], BTC)[0] == WAD
    assert im(gov_stack, gov_flat[0]) == im_long


def test_a_new_series_reverts_while_paused(
    gov_stack, gov_guardian, gov_lister, gov_timelock, gov_proposer
):
    """Neither a lister nor governance (through the timelock) lists while paused; resumed, the
    lister does."""
    e = gov_stack.engine
    terms = (BTC, spot(gov_stack), next_listing_expiry(2 * DAY), True)
    count = gov_stack.store.seriesCount()
    pause(gov_stack, gov_guardian)
    with reverts("Paused"):
        e.createSeries(*terms, {"from": gov_lister})
    op = schedule(gov_timelock, call(e.createSeries, *terms), gov_proposer)
    wait(op)
    with reverts("Paused"):
        execute(gov_timelock, op, gov_proposer)
    assert gov_stack.store.seriesCount() == count
    e.setPaused(False, {"from": gov_guardian})
    e.createSeries(*terms, {"from": gov_lister})
    assert gov_stack.store.seriesCount() == count + 1


# --- What a pause never stops ---


def test_deposits_go_on_while_paused(gov_stack, gov_guardian, mallory):
    pause(gov_stack, gov_guardian)
    acct = open_account(gov_stack, mallory, {"USDC": 1_000, "WETH": 2})
    assert gov_stack.vault.cashOf(acct) == 1_000 * WAD
    assert gov_stack.vault.collateralBalance(acct, gov_stack.weth) == 2 * WAD


def test_a_risk_free_withdrawal_goes_on_while_paused(gov_stack, gov_guardian, gov_flat):
    acct, carol = gov_flat
    usdc = gov_stack.usdc
    balance = usdc.balanceOf(carol)
    pause(gov_stack, gov_guardian)
    gov_stack.vault.withdraw(acct, usdc, 100_000 * USDC, carol, {"from": carol})
    assert usdc.balanceOf(carol) == balance + 100_000 * USDC
    assert gov_stack.vault.cashOf(acct) == 0


def test_a_risk_reducing_fill_goes_on_while_paused(gov_stack, gov_guardian, gov_long, gov_short):
    """bob buys back alice's 1 BTC: both close, both IMs fall to 0."""
    pause(gov_stack, gov_guardian)
    trade(gov_stack, gov_short, gov_long, BTC, WAD, spot(gov_stack))
    for acct in (gov_long[0], gov_short[0]):
        assert gov_stack.engine.perpPosition(acct, BTC)[0] == 0
        assert im(gov_stack, acct) == 0


def test_liquidation_goes_on_while_paused(
    gov_stack, gov_guardian, underwater, liq_bidder, liq_keeper
):
    """The keeper starts the auction and the bidder takes the largest fraction, though the bidder's
    IM rises: a liquidation transfer is never new risk."""
    acct, bidder = underwater[0], liq_bidder[0]
    liq = gov_stack.liquidator
    pause(gov_stack, gov_guardian)
    auction_id = liq.startAuction(acct, liq_keeper[0], {"from": liq_keeper[1]}).return_value
    assert liq.inAuction(acct)
    q0 = gov_stack.engine.perpPosition(acct, BTC)[0]
    f = liq.maxFraction(acct)
    assert 0 < f <= WAD
    liq.bid(acct, auction_id, bidder, f, 2**256 - 1, {"from": liq_bidder[1]})
    moved = q0 * f // WAD
    assert moved > 0
    assert gov_stack.engine.perpPosition(bidder, BTC)[0] == moved
    assert gov_stack.engine.perpPosition(acct, BTC)[0] == q0 - moved
    assert im(gov_stack, bidder) > 0


def test_settlement_goes_on_while_paused(
    gov_stack, gov_guardian, gov_lister, gov_long, gov_flat, mallory
):
    """alice buys a 60,000 call from carol at its model value; paused past the expiry, the fixed
    price $61,000 settles both sides: +$1,000 / −$1,000 per call."""
    e, v = gov_stack.engine, gov_stack.vault
    expiry = next_listing_expiry(2 * 3_600)
    sid = e.createSeries(BTC, 60_000 * WAD, expiry, True, {"from": gov_lister}).return_value
    feed = gov_stack.oracle.feed(BTC)
    model = gov_stack.store.unitValue(sid, (BTC, feed[0], feed[1], feed[2]))  # [wad USD]
    trade(gov_stack, gov_long, gov_flat, (1 << 128) + sid, WAD, model)
    pause(gov_stack, gov_guardian)
    chain.sleep(expiry - chain[-1].timestamp + 1)
    push_prices(gov_stack, {BTC: (61_000 * WAD, feed[1]), ETH: gov_stack.oracle.feed(ETH)[:2]})
    assert gov_stack.oracle.settlementPrice(BTC, expiry) == 61_000 * WAD
    cash = (v.cashOf(gov_long[0]), v.cashOf(gov_flat[0]))
    e.settle(gov_long[0], sid, {"from": mallory})
    e.settle(gov_flat[0], sid, {"from": mallory})
    assert v.cashOf(gov_long[0]) == cash[0] + 1_000 * WAD
    assert v.cashOf(gov_flat[0]) == cash[1] - 1_000 * WAD
    assert e.optionPosition(gov_long[0], sid) == 0
    assert e.optionPosition(gov_flat[0], sid) == 0
    assert e.paused()
