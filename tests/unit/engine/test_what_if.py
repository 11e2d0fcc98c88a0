"""What-if margin (MarginLens, interfaces/IMarginLens.sol; docs/ENGINE.md "What-if").

The lens's breakdown after proposed fills must equal, field by field, the breakdown marginBreakdown
returns after the same fills execute through the Exchange at the same block time (funding accrues
with time, so the what-if call and each fill are pinned to one timestamp); agree with the reference
model's what-if (keel.risk.what_if, SPEC §6 tolerance) on generated trades; refuse what the engine
refuses with the engine's custom error; and change nothing.

The book (alice, account `me`): BTC perp long 2 (funding accrued for an hour), a BTC call (30 d)
long 3 and a BTC put (7 d) short 2, an ETH call (60 d) short 20 and an ETH put (30 d) long 10, WETH
(linked to ETH) and WBTC collateral. A third underlying (feed 3) is listed and not held. The
counterparty `cp` takes the other side of every fill.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import brownie
import pytest
from brownie import chain, web3
from brownie.exceptions import VirtualMachineError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.client.chain import funding_owed
from keel.deploy_engine import deploy_stack, model_price, open_account, push_prices, trade
from keel.orders import OPTION_INSTRUMENT_BASE
from keel.risk import Fill, Option, Perp, what_if
from keel.risk.chain_inputs import agrees
from keel.risk_chain import MARGIN_FIGURES, reference_inputs
from tests.fixtures.engine import BTC, ETH, option, sleep
from tests.support import reverts
from tests.unit.engine.helpers import WAD

F3 = 3  # a third underlying, listed and not held by the book
FEEDS = {
    BTC: (60_000 * WAD, 6 * WAD // 10),
    ETH: (3_000 * WAD, 75 * WAD // 100),
    F3: (150 * WAD, 9 * WAD // 10),
}
S = FEEDS[BTC][0]
PROFILE = os.environ.get("KEEL_PROFILE", "ci")
EXAMPLES = {"ci": 30, "local": 300}.get(PROFILE, 30)


def key(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


@pytest.fixture(scope="module")
def wi(deployer, alice, accounts):
    stack = deploy_stack(deployer, feeds=FEEDS)
    cp = (open_account(stack, accounts[7], {"USDC": 100_000_000}), accounts[7])
    me = (open_account(stack, alice, {"USDC": 2_000_000, "WETH": 10, "WBTC": 0.5}), alice)
    inst = {
        "btc": BTC,
        "eth": ETH,
        "f3": F3,
        "btc_call": option(stack, BTC, 62_000 * WAD, 30),
        "btc_put": option(stack, BTC, 58_000 * WAD, 7, False),
        "eth_call": option(stack, ETH, 3_200 * WAD, 60),
        "eth_put": option(stack, ETH, 2_800 * WAD, 30, False),
        # not held: a new series of a held expiry, one of a new expiry, one of a new underlying
        "btc_call_2": option(stack, BTC, 64_000 * WAD, 30),
        "btc_call_14": option(stack, BTC, 64_000 * WAD, 14),
        "f3_call": option(stack, F3, 160 * WAD, 30),
    }
    # above the spot: the mark moves above it, so funding accrues on the perp
    trade(stack, me, cp, BTC, 2 * WAD, S * 1005 // 1000)
    for name, size in (("btc_call", 3), ("btc_put", -2), ("eth_call", -20), ("eth_put", 10)):
        trade(stack, me, cp, inst[name], size * WAD, model_price(stack, inst[name]))
    chain.sleep(3_600)
    push_prices(stack, FEEDS)
    size, _, at_entry = stack.engine.perpPosition(me[0], BTC)
    assert funding_owed(size, at_entry, stack.engine.fundingIndex(BTC)) != 0
    return SimpleNamespace(stack=stack, me=me, cp=cp, inst=inst)


# --- Helpers ---


def plain(x):
    """A brownie return value as nested tuples of ints."""
    if isinstance(x, (list, tuple)):
        return tuple(plain(v) for v in x)
    return x if isinstance(x, bool) else int(x)


def price_of(stack, instrument: int, skew: float = 0.0) -> int:
    """The model value (spot or V) moved by `skew` (a fraction of it) [wad USD]."""
    return model_price(stack, instrument) * (10**6 + round(skew * 1e6)) // 10**6


def proposed(instrument: int, size: int, price: int, maker: bool, by_operator: bool = False):
    """An IMarginLens.ProposedFill."""
    return (instrument, size, price, maker, by_operator)


def pin() -> int:
    """The next block gets the latest block's time: a what-if call at the latest block and a fill
    in the next one see the same block.timestamp (funding accrues with time)."""
    t = chain[-1].timestamp
    web3.provider.make_request("evm_setNextBlockTimestamp", [t])
    return t


def execute(wi, fill, account=None):
    """Executes a proposed fill through the Exchange: the account is the maker (it signs) or the
    taker (the counterparty signs the opposite side)."""
    instrument, size, price, maker, _ = fill
    me = account or wi.me
    if maker:
        return trade(wi.stack, me, wi.cp, instrument, size, price)
    return trade(wi.stack, wi.cp, me, instrument, -size, price)


def execute_at(wi, fills, t, account=None):
    for f in fills:
        web3.provider.make_request("evm_setNextBlockTimestamp", [t])
        execute(wi, f, account)


def breakdown(stack, account) -> tuple:
    return plain(stack.engine.marginBreakdown(account))


def revert_msg(fn, *args) -> str:
    """The decoded custom error of a reverting call or transaction."""
    with pytest.raises(VirtualMachineError) as e:
        fn(*args)
    return e.value.revert_msg


def assert_exact(wi, fills, account=None):
    """what-if before = marginBreakdown after executing the fills, field by field."""
    acct = (account or wi.me)[0]
    lens = wi.stack.lens
    before = breakdown(wi.stack, acct)
    t = pin()
    got = plain(lens.whatIf(acct, fills))
    checked = plain(lens.checkFills(acct, fills))
    execute_at(wi, fills, t, account)
    assert chain[-1].timestamp == t
    after = breakdown(wi.stack, acct)
    assert got == after
    assert checked == after
    assert got != before  # the fills did change the account
    return after


# --- (1) Exactness against execution ---

PERP_CASES = {
    "increase": ("btc", 1),
    "reduce": ("btc", -1),
    "close": ("btc", -2),
    "flip": ("btc", -3),
    "open_on_held_underlying": ("eth", 5),  # ETH held through options only
    "open_new_underlying": ("f3", 1_000),
}
OPTION_CASES = {
    "increase": ("btc_call", 1),
    "reduce": ("btc_call", -1),
    "close": ("btc_call", -3),
    "flip": ("btc_call", -5),
    "increase_short": ("eth_call", -5),
    "close_short": ("eth_call", 20),
    "open_series_held_expiry": ("btc_call_2", 2),
    "open_new_expiry": ("btc_call_14", -1),
    "open_new_underlying": ("f3_call", 400),
}


@pytest.mark.parametrize("maker", [True, False], ids=["maker", "taker"])
@pytest.mark.parametrize("case", sorted(PERP_CASES))
def test_perp_what_if_equals_execution(wi, case, maker):
    """Perp fills (PnL and funding realised at the fill price, entry = price, funding index
    accrued to now, maker or taker fee): what-if = marginBreakdown after the fill."""
    name, units = PERP_CASES[case]
    inst = wi.inst[name]
    fill = proposed(inst, units * WAD, price_of(wi.stack, inst, 0.01), maker)
    assert_exact(wi, [fill])


@pytest.mark.parametrize("maker", [True, False], ids=["maker", "taker"])
@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_option_what_if_equals_execution(wi, case, maker):
    """Option fills (premium rounded up buyer → seller, fee capped at 12.5% of the premium, new
    series and expiries, pruning): what-if = marginBreakdown after the fill."""
    name, units = OPTION_CASES[case]
    inst = wi.inst[name]
    fill = proposed(inst, units * WAD, price_of(wi.stack, inst, 0.05), maker)
    assert_exact(wi, [fill])


def test_what_if_equals_execution_after_loss_socialisation(wi, deployer):
    """With the Vault's cash index below 1 credits and debits round (CashMath, shared with the
    Vault): the what-if still equals execution."""
    stack = wi.stack
    stack.vault.setModule(deployer, True, {"from": deployer})
    stack.vault.socialiseLoss(1_234_567 * WAD + 89, {"from": deployer})
    assert stack.vault.cashIndex() < WAD
    fills = [
        proposed(BTC, -WAD // 3, price_of(stack, BTC, -0.013), True),
        proposed(
            wi.inst["btc_call_2"], 7 * WAD // 10, price_of(stack, wi.inst["btc_call_2"]), False
        ),
    ]
    assert_exact(wi, fills)


def test_what_if_equals_execution_into_debt(wi, accounts):
    """An account holding only WETH buys an option (its cash goes negative: a debt), then sells
    another (the credit repays part of the debt)."""
    stack = wi.stack
    dana = (open_account(stack, accounts[4], {"WETH": 200}), accounts[4])
    call, put = wi.inst["btc_call_2"], wi.inst["btc_put"]
    fills = [
        proposed(call, WAD, price_of(stack, call, 0.02), False),
        proposed(put, -WAD // 4, price_of(stack, put, -0.02), True),
    ]
    after = assert_exact(wi, fills, dana)
    assert stack.vault.cashOf(dana[0]) < 0
    assert after[0] > 0


# --- (2) A list of fills ---


def test_list_of_fills_equals_executing_them_in_order(wi):
    """Four fills on two underlyings, both sides, one closing the ETH options (ETH leaves the
    account's underlyings and returns after BTC through the WETH it holds): the what-if of the
    list = the breakdown after executing them one by one; each prefix too."""
    stack, inst = wi.stack, wi.inst
    fills = [
        proposed(BTC, WAD, price_of(stack, BTC, 0.01), True),
        proposed(inst["eth_call"], 20 * WAD, price_of(stack, inst["eth_call"], 0.03), False),
        proposed(inst["eth_put"], -10 * WAD, price_of(stack, inst["eth_put"], -0.03), True),
        proposed(inst["btc_call_14"], 2 * WAD, price_of(stack, inst["btc_call_14"]), False),
        proposed(BTC, -WAD // 2, price_of(stack, BTC, -0.005), False),
    ]
    acct = wi.me[0]
    t = pin()
    prefixes = [plain(stack.lens.whatIf(acct, fills[: k + 1])) for k in range(len(fills))]
    for k, f in enumerate(fills):
        execute_at(wi, [f], t)
        assert breakdown(stack, acct) == prefixes[k], k
    assert chain[-1].timestamp == t
    feeds = [u[0] for u in prefixes[-1][8]]
    assert feeds == [BTC, ETH]  # ETH now through WETH only, listed after the position underlyings
    assert plain(stack.engine.accountUnderlyings(acct)) == (BTC,)


def test_empty_list_is_the_current_breakdown(wi):
    acct = wi.me[0]
    assert plain(wi.stack.lens.whatIf(acct, [])) == breakdown(wi.stack, acct)
    assert plain(wi.stack.lens.checkFills(acct, [])) == breakdown(wi.stack, acct)


# --- (3) Differential: the reference model's what-if ---

POOL = (
    "btc",
    "eth",
    "f3",
    "btc_call",
    "btc_put",
    "eth_call",
    "eth_put",
    "btc_call_2",
    "btc_call_14",
    "f3_call",
)


@st.composite
def st_fills(draw):
    out = []
    for _ in range(draw(st.integers(1, 3))):
        out.append(
            (
                draw(st.sampled_from(POOL)),
                draw(st.sampled_from((-1, 1))) * draw(st.floats(1e3, 3e5)),  # notional [USD]
                draw(st.floats(-0.9, 0.9)),  # price: this fraction of the band's half-width
                draw(st.booleans()),  # maker
                draw(st.integers(0, 3)) == 0,  # closes the position exactly, if there is one
            )
        )
    return out


def band_price(stack, instrument: int, skew: float) -> int:
    """A price `skew` of the band's half-width away from the model value (SPEC v2 §5)."""
    model = model_price(stack, instrument)
    if instrument < OPTION_INSTRUMENT_BASE:
        width = model * 2 // 100
    else:
        feed = int(stack.store.series(instrument - OPTION_INSTRUMENT_BASE)[0])
        width = int(stack.oracle.feed(feed)[0]) * 5 // 1_000 + model * 10 // 100
    return max(0, model + int(skew * width))


def reference_fill(stack, instrument: int, size: int, price: int, rate: float) -> Fill:
    if instrument < OPTION_INSTRUMENT_BASE:
        return Fill(Perp(instrument, size / WAD, price / WAD), None, rate)
    feed, expiry, is_call, strike = stack.store.series(instrument - OPTION_INSTRUMENT_BASE)
    return Fill(
        Option(int(feed), strike / WAD, int(expiry), bool(is_call), size / WAD), price / WAD, rate
    )


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
@given(spec=st_fills())
def test_what_if_agrees_with_reference_model(wi, spec):
    """The lens's what-if = keel.risk.what_if (fills settled as the engine settles them) within
    SPEC §6 tolerance (1e-9 relative or $1e-6), figure by figure and underlying by underlying, on
    generated lists of perp and option fills (opening, adding to, closing and flipping positions,
    new series, expiries and underlyings; maker and taker; prices across the band)."""
    stack, acct = wi.stack, wi.me[0]
    rates = {True: stack.engine.makerFeeRate() / WAD, False: stack.engine.takerFeeRate() / WAD}
    fills, ref_fills, held = [], [], {}
    for name, notional, skew, maker, close in spec:
        inst = wi.inst[name]
        if inst < OPTION_INSTRUMENT_BASE:
            feed = inst
            q = held.get(inst, stack.engine.perpPosition(acct, inst)[0])
        else:
            sid = inst - OPTION_INSTRUMENT_BASE
            feed = int(stack.store.series(sid)[0])
            q = held.get(inst, stack.engine.optionPosition(acct, sid))
        size = -q if close and q else int(notional / (stack.oracle.feed(feed)[0] / WAD) * WAD)
        held[inst] = q + size
        price = band_price(stack, inst, skew)
        fills.append(proposed(inst, size, price, maker))
        ref_fills.append(reference_fill(stack, inst, size, price, rates[maker]))
    block = chain.height
    got = plain(stack.lens.whatIf.call(acct, fills, block_identifier=block))
    market, pf = reference_inputs(stack.engine, stack.vault, stack.oracle, [acct], block, FEEDS)
    ref = what_if(market, pf, 0, ref_fills, option_fee_cap=stack.engine.optionFeeCap() / WAD).after
    errors = [
        f"{name}: reference {getattr(ref, name)!r} chain {got[i] / WAD!r}"
        for i, name in enumerate(MARGIN_FIGURES)
        if not agrees(getattr(ref, name), got[i] / WAD)
    ]
    lines = {u[0]: u[2] for u in got[8]}
    assert set(lines) == set(ref.underlyings), (lines, ref)
    errors += [
        f"L_{f}: reference {ref.underlyings[f][0]!r} chain {loss / WAD!r}"
        for f, loss in lines.items()
        if not agrees(ref.underlyings[f][0], loss / WAD)
    ]
    assert not errors, "\n".join(errors) + f"\n{ref}\n{got}"


# --- (4) Refusals: the engine's custom errors ---


def test_perp_band_edges(wi):
    """INV-9: one wei outside the perp band reverts PriceOutsideBand (as the engine does); the
    edge itself is a what-if (and a fill)."""
    stack, acct = wi.stack, wi.me[0]
    lo, hi = S - S * 2 // 100, S + S * 2 // 100
    for price in (hi + 1, lo - 1):
        fill = proposed(BTC, WAD, price, True)
        with reverts("PriceOutsideBand", BTC, price, lo, hi):
            stack.lens.whatIf(acct, [fill])
        assert revert_msg(execute, wi, fill) == revert_msg(stack.lens.whatIf, acct, [fill])
    assert_exact(wi, [proposed(BTC, WAD, hi, True)])


def test_option_band_edges(wi):
    stack, acct = wi.stack, wi.me[0]
    inst = wi.inst["btc_call_2"]
    v = model_price(stack, inst)
    width = S * 5 // 1_000 + v * 10 // 100
    lo, hi = v - width, v + width
    for price in (hi + 1, lo - 1):
        fill = proposed(inst, WAD, price, False)
        with reverts("PriceOutsideBand", inst, price, lo, hi):
            stack.lens.whatIf(acct, [fill])
        assert revert_msg(execute, wi, fill) == revert_msg(stack.lens.whatIf, acct, [fill])
    assert_exact(wi, [proposed(inst, WAD, lo, False)])


def test_a_refused_fill_in_a_list_refuses_the_list(wi):
    stack, acct = wi.stack, wi.me[0]
    hi = S + S * 2 // 100
    fills = [proposed(BTC, WAD, S, True), proposed(BTC, WAD, hi + 1, True)]
    with reverts("PriceOutsideBand", BTC, hi + 1, S - S * 2 // 100, hi):
        stack.lens.whatIf(acct, fills)


def _limit(wi, name, value):
    wi.stack.engine.setParam(key(name), value, {"from": wi.stack.deployer})


def test_series_limit_at_the_boundary(wi):
    """SPEC §4: BTC holds 2 series; at maxSeriesPerUnderlying = 2 a third reverts TooManySeries
    (as the engine does), at 3 it is a what-if; in a list, the fill past the limit reverts."""
    stack, acct, inst = wi.stack, wi.me[0], wi.inst
    third = proposed(inst["btc_call_2"], WAD, price_of(stack, inst["btc_call_2"]), True)
    fourth = proposed(inst["btc_call_14"], WAD, price_of(stack, inst["btc_call_14"]), True)
    _limit(wi, "maxSeriesPerUnderlying", 2)
    with reverts("TooManySeries", acct, BTC, 3, 2):
        stack.lens.whatIf(acct, [third])
    assert revert_msg(execute, wi, third) == revert_msg(stack.lens.whatIf, acct, [third])
    _limit(wi, "maxSeriesPerUnderlying", 3)
    with reverts("TooManySeries", acct, BTC, 4, 3):
        stack.lens.whatIf(acct, [third, fourth])
    assert_exact(wi, [third])


def test_expiry_limit_at_the_boundary(wi):
    """BTC holds 2 expiries; at maxExpiriesPerUnderlying = 2 a series of a held expiry is a
    what-if and one of a new expiry reverts TooManyExpiries (as the engine does); at 3 it passes."""
    stack, acct, inst = wi.stack, wi.me[0], wi.inst
    held = proposed(inst["btc_call_2"], WAD, price_of(stack, inst["btc_call_2"]), True)
    new = proposed(inst["btc_call_14"], WAD, price_of(stack, inst["btc_call_14"]), True)
    _limit(wi, "maxExpiriesPerUnderlying", 2)
    stack.lens.whatIf(acct, [held])
    with reverts("TooManyExpiries", acct, BTC, 3, 2):
        stack.lens.whatIf(acct, [new])
    assert revert_msg(execute, wi, new) == revert_msg(stack.lens.whatIf, acct, [new])
    _limit(wi, "maxExpiriesPerUnderlying", 3)
    assert_exact(wi, [new])


def test_underlying_limit_at_the_boundary(wi):
    stack, acct = wi.stack, wi.me[0]
    # the account is the maker: the engine checks the maker's side first (the counterparty, which
    # holds BTC and ETH too, would meet the same limit as the taker)
    fill = proposed(F3, 100 * WAD, price_of(stack, F3), True)
    _limit(wi, "maxUnderlyings", 2)
    with reverts("TooManyUnderlyings", acct, 3, 2):
        stack.lens.whatIf(acct, [fill])
    assert revert_msg(execute, wi, fill) == revert_msg(stack.lens.whatIf, acct, [fill])
    # closing ETH first frees the slot, within one list
    eth = wi.inst["eth_call"], wi.inst["eth_put"]
    closes = [
        proposed(eth[0], 20 * WAD, price_of(stack, eth[0]), True),
        proposed(eth[1], -10 * WAD, price_of(stack, eth[1]), True),
    ]
    stack.lens.whatIf(acct, closes + [fill])
    _limit(wi, "maxUnderlyings", 3)
    assert_exact(wi, [fill])


def test_expired_series(wi):
    stack, acct = wi.stack, wi.me[0]
    inst = option(stack, BTC, S, 1 / 24)
    sid = inst - OPTION_INSTRUMENT_BASE
    expiry = stack.store.series(sid)[1]
    sleep(3_700)
    push_prices(stack, FEEDS)
    fill = proposed(inst, WAD, model_price(stack, inst), True)
    with reverts("SeriesExpired", sid, expiry, chain[-1].timestamp):
        stack.lens.whatIf(acct, [fill])


def test_unknown_instrument_zero_size_unknown_account(wi):
    stack, acct = wi.stack, wi.me[0]
    for inst in (7, OPTION_INSTRUMENT_BASE, OPTION_INSTRUMENT_BASE + 99):
        with reverts("UnknownInstrument", inst):
            stack.lens.whatIf(acct, [proposed(inst, WAD, S, True)])
    with reverts("ZeroSize"):
        stack.lens.whatIf(acct, [proposed(BTC, 0, S, True)])
    with reverts("UnknownAccount", 10**6):
        stack.lens.whatIf(10**6, [proposed(BTC, WAD, S, True)])


def test_stale_price(wi):
    stack, acct = wi.stack, wi.me[0]
    sleep(3_601)
    obs = stack.oracle.feed(BTC)[2]
    with brownie.reverts(revert_pattern=rf"StalePrice: {BTC}, {obs}, \d+"):
        stack.lens.whatIf(acct, [proposed(BTC, WAD, S, True)])


def test_paused_new_risk(wi):
    """SPEC v2 §8b: while paused a fill that raises IM reverts NewRiskPaused(account, IM before,
    IM after), as the engine does; a fill that lowers it is a what-if equal to execution."""
    stack, acct = wi.stack, wi.me[0]
    up = proposed(BTC, WAD, S, True)
    im0, im1 = breakdown(stack, acct)[2], plain(stack.lens.whatIf(acct, [up]))[2]
    assert im1 > im0
    stack.engine.setPaused(True, {"from": stack.deployer})
    with reverts("NewRiskPaused", acct, im0, im1):
        stack.lens.whatIf(acct, [up])
    assert revert_msg(execute, wi, up) == revert_msg(stack.lens.whatIf, acct, [up])
    assert_exact(wi, [proposed(BTC, -WAD, S, True)])


def test_reduce_only(wi):
    """Circuit breaker (SPEC §3): on a reduce-only underlying a fill that raises IM reverts
    ReduceOnly(account, feed, IM before, IM after), as the engine does."""
    stack, acct = wi.stack, wi.me[0]
    push_prices(stack, {BTC: (75_000 * WAD, FEEDS[BTC][1])})
    assert stack.oracle.isReduceOnly(BTC)
    up = proposed(BTC, WAD, 75_000 * WAD, True)
    msg = revert_msg(stack.lens.whatIf, acct, [up])
    assert msg.startswith(f"ReduceOnly: {acct}, {BTC}, {breakdown(stack, acct)[2]}, ")
    assert revert_msg(execute, wi, up) == msg
    assert_exact(wi, [proposed(BTC, -WAD, 75_000 * WAD, True)])


def test_check_fills_applies_the_margin_rule(wi, accounts):
    """INV-2: checkFills reverts BelowInitialMargin with the figures whatIf returns (as the engine
    does), where whatIf returns the breakdown below IM."""
    stack = wi.stack
    small = (open_account(stack, accounts[5], {"USDC": 1_000}), accounts[5])
    acct = small[0]
    big = proposed(BTC, 2 * WAD, S, False)
    b = plain(stack.lens.whatIf(acct, [big]))
    assert b[1] < b[2]  # AE < IM
    with reverts("BelowInitialMargin", acct, b[1], b[2]):
        stack.lens.checkFills(acct, [big])
    assert revert_msg(execute, wi, big, small) == revert_msg(stack.lens.checkFills, acct, [big])


def test_check_fills_equity_rule_for_an_operator(wi):
    """INV-9 equity rule: a side committed by an operator may not give equity away at the band's
    edge; checkFills reverts EquityLoss, whatIf (margin rule off) returns the breakdown."""
    stack, acct = wi.stack, wi.me[0]
    hi = S + S * 2 // 100
    give = proposed(BTC, -WAD, S - S * 2 // 100, True, True)  # sells at the band's low edge
    b = plain(stack.lens.whatIf(acct, [give]))
    e0 = breakdown(stack, acct)[0]
    fee = (S * 2 // 10_000 * WAD + WAD - 1) // WAD  # maker 2 bps of S·1, rounded up
    with reverts("EquityLoss", acct, e0, b[0], fee):
        stack.lens.checkFills(acct, [give])
    plain(stack.lens.checkFills(acct, [proposed(BTC, -WAD, hi, True, True)]))


# --- (5) Nothing changes ---


def _state(wi) -> tuple:
    stack, acct = wi.stack, wi.me[0]
    e = stack.engine
    feeds = sorted(FEEDS)
    sids = [i - OPTION_INSTRUMENT_BASE for i in wi.inst.values() if i >= OPTION_INSTRUMENT_BASE]
    return plain(
        (
            stack.vault.cashPrincipal(acct),
            stack.vault.cashPrincipal(wi.cp[0]),
            stack.vault.cashIndex(),
            stack.vault.totalCashPrincipal(),
            stack.vault.insuranceFund(),
            e.accountUnderlyings(acct),
            [e.perpPosition(acct, f) for f in feeds],
            [e.perpMarkets(f) for f in feeds],
            [e.openInterest(f) for f in feeds],
            [e.optionPosition(acct, s) for s in sids],
            [e.openInterest(OPTION_INSTRUMENT_BASE + s) for s in sids],
            [stack.store.storedRiskArray(s)[0] for s in sids],
        )
    )


def test_what_if_changes_nothing(wi):
    """Balances, positions, the funding index and clocks, open interest, stored risk arrays: the
    same before and after a what-if, even one sent as a transaction (which emits nothing)."""
    stack, acct, inst = wi.stack, wi.me[0], wi.inst
    fills = [
        proposed(BTC, -3 * WAD, price_of(stack, BTC, 0.01), True),
        proposed(inst["btc_call_14"], WAD, price_of(stack, inst["btc_call_14"]), False),
        proposed(inst["eth_call"], 20 * WAD, price_of(stack, inst["eth_call"]), True),
    ]
    before = _state(wi)
    stack.lens.whatIf(acct, fills)
    assert _state(wi) == before
    for fn in (stack.lens.whatIf, stack.lens.checkFills):
        tx = fn.transact(acct, fills, {"from": wi.me[1]})
        assert tx.status == 1 and len(tx.logs) == 0
        assert _state(wi) == before


def test_the_lens_has_no_state_changing_entry_point(wi):
    """Attack surface: a what-if must never become a way to act. Every function of the lens is a
    view (the compiler then makes each of its calls to the engine, store, vault and oracle a
    STATICCALL, which reverts on any write, transient cache included): a change that adds a
    state-changing entry point fails here."""
    kinds = {e["name"]: e["stateMutability"] for e in wi.stack.lens.abi if e["type"] == "function"}
    assert set(kinds) >= {"whatIf", "checkFills", "engine"}
    assert {n: k for n, k in kinds.items() if k not in ("view", "pure")} == {}
