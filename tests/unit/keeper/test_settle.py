"""`keel-keeper settle`: expired options settled once their price is fixed; risk arrays refreshed
after an oracle round."""

import brownie

from keel.deploy_engine import ETH, WAD, open_account, trade
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

    brownie.chain.sleep(2 * DAY)
    set_price(s, ETH, spot * 12 // 10)  # the first report after expiry fixes its price
    assert s.oracle.settlementPrice(ETH, expiry) == spot * 12 // 10
    settler.step()
    settled = [e for e in events_of(s.engine, "OptionSettled", start) if e["accountId"] == acct]
    assert len(settled) == 1 and settled[0]["seriesId"] == sid
    assert s.engine.optionPosition(acct, sid) == 0
    settler.step()  # nothing left to settle: no second transaction
    assert (
        len([e for e in events_of(s.engine, "OptionSettled", start) if e["accountId"] == acct]) == 1
    )
