"""Option valuation in the margin computation against a float Black-Scholes (scipy)."""

from keel.deploy_engine import model_price
from tests.fixtures.engine import BTC, option, trade
from tests.unit.engine.helpers import WAD, breakdown, close, option_pnl


def test_long_call_value_and_scan_loss(stack, alice_pm, bob_pm):
    """E includes q·V(S, σ, τ) at valuation time observedAt; L_BTC = −min_j q·ΔV_j."""
    inst = option(stack, BTC, 66_000 * WAD, 30, is_call=True)
    sid = inst - (1 << 128)
    s = stack.store.series(sid)
    obs = stack.oracle.feed(BTC)[2]
    trade(stack, alice_pm, bob_pm, inst, 2 * WAD, model_price(stack, inst))
    b = breakdown(stack, alice_pm[0])
    value, pnl = option_pnl(True, s[3] / WAD, s[1], 2.0, 60_000.0, 0.6, obs)
    cash = stack.vault.cashOf(alice_pm[0]) / WAD
    assert close(b["E"] / WAD, cash + value)
    assert close(b["u"][BTC]["L"] / WAD, max(0.0, -min(pnl)))
    assert b["u"][BTC]["worst"] == min(range(31), key=lambda j: (pnl[j], j))


def test_short_put_scan_loss(stack, alice_pm, bob_pm):
    inst = option(stack, BTC, 57_000 * WAD, 7, is_call=False)
    s = stack.store.series(inst - (1 << 128))
    obs = stack.oracle.feed(BTC)[2]
    trade(stack, alice_pm, bob_pm, inst, -3 * WAD, model_price(stack, inst))
    b = breakdown(stack, alice_pm[0])
    _, pnl = option_pnl(False, s[3] / WAD, s[1], -3.0, 60_000.0, 0.6, obs)
    assert close(b["u"][BTC]["L"] / WAD, max(0.0, -min(pnl)))
    assert b["SOM"] == 3 * 600 * WAD
