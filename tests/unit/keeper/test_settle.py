"""`keel-keeper settle`: expired options settled once their price is fixed; risk arrays refreshed
after an oracle round. A price is fixed by a report observed within the Oracle's settlement window
after the expiry (SPEC v2 §3), or, when the window was missed, by governance."""

import brownie

from keel.deploy_engine import ETH, WAD, make_report, open_account, trade
from keeper.settle import Settler
from tests.fixtures.keeper import (
    DAY,
    events_of,
    keeper_config,
    option_price,
    series_instrument,
    set_price,
)


def test_settler_refreshes_risk_arrays_and_settles_expired_options(
    kp_stack, kp_maker, alice, accounts, tmp_path
):
    s = kp_stack
    acct = open_account(s, alice, {"USDC": 50_000})
    spot, _, observed, _ = s.oracle.feed(ETH)
    expiry, strike = observed + DAY, spot // 10**18 * 10**18
    instrument = series_instrument(s, ETH, strike, expiry, True)
    sid = instrument - (1 << 128)
    trade(
        s, kp_maker, (acct, alice), instrument, -2 * WAD, option_price(s, ETH, strike, expiry, True)
    )
    start = brownie.chain.height
    settler = Settler(keeper_config(s, 0, accounts[6], tmp_path / "settler.json"))

    set_price(s, ETH, spot * 11 // 10)  # a new round: the stored arrays are out of date
    settler.step()
    assert s.store.storedRiskArray(sid)[0] == s.oracle.feed(ETH)[2]

    window = s.oracle.settlementWindow()  # [s]
    brownie.chain.sleep(expiry + 60 - brownie.chain.time())  # one minute after the expiry
    set_price(s, ETH, spot * 12 // 10)  # a report inside the window fixes the settlement price
    assert expiry < s.oracle.feed(ETH)[2] <= expiry + window
    assert s.oracle.settlementPrice(ETH, expiry) == spot * 12 // 10
    settler.step()
    settled = [e for e in events_of(s.engine, "OptionSettled", start) if e["accountId"] == acct]
    assert len(settled) == 1 and settled[0]["seriesId"] == sid
    assert s.engine.optionPosition(acct, sid) == 0
    settler.step()  # nothing left to settle: no second transaction
    assert (
        len([e for e in events_of(s.engine, "OptionSettled", start) if e["accountId"] == acct]) == 1
    )


def test_settler_waits_on_a_missed_window_and_settles_at_governance_price(
    kp_stack, kp_maker, alice, accounts, tmp_path
):
    """No report inside the window: the late report passes the expiry without fixing it, the
    settler waits (no transaction), and settles once governance fixed the price from observations
    of the window (Oracle.fixSettlementPrice)."""
    s = kp_stack
    acct = open_account(s, alice, {"USDC": 50_000})
    spot, vol, observed, _ = s.oracle.feed(ETH)
    expiry, strike = observed + DAY, spot // 10**18 * 10**18
    instrument = series_instrument(s, ETH, strike, expiry, True)
    sid = instrument - (1 << 128)
    trade(
        s, kp_maker, (acct, alice), instrument, -2 * WAD, option_price(s, ETH, strike, expiry, True)
    )
    start = brownie.chain.height
    settler = Settler(keeper_config(s, 0, accounts[6], tmp_path / "settler.json"))
    window = s.oracle.settlementWindow()  # [s]

    brownie.chain.sleep(expiry + window + 1 - brownie.chain.time())  # just past the window
    tx = set_price(s, ETH, spot * 12 // 10)
    assert tx.events["SettlementWindowMissed"]["expiry"] == expiry
    assert s.oracle.settlementPrice(ETH, expiry) == 0
    settler.step()  # price not fixed: nothing to settle, no transaction
    assert events_of(s.engine, "OptionSettled", start) == []
    assert s.engine.optionPosition(acct, sid) == 2 * WAD

    fixed = spot * 11 // 10  # [wad USD] observed inside the window, signed for round 0
    obs = [(k, fixed, vol) for k in s.signer_keys[: s.quorum]]
    report = make_report(s.oracle, ETH, 0, expiry + 60, obs)
    s.oracle.fixSettlementPrice(ETH, expiry, report, {"from": s.deployer})
    assert s.oracle.settlementPrice(ETH, expiry) == fixed
    settler.step()
    settled = [e for e in events_of(s.engine, "OptionSettled", start) if e["accountId"] == acct]
    assert (
        len(settled) == 1
        and settled[0]["seriesId"] == sid
        and settled[0]["settlementPrice"] == fixed
    )
    assert s.engine.optionPosition(acct, sid) == 0
