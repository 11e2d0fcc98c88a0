"""Stateful fuzzing of trades, price moves and withdrawals between three accounts.

Invariants checked after every step:
- INV-2: an account touched by a successful fill is at or above IM afterwards, or the fill neither
  raised its IM nor its shortfall IM − AE; a successful withdrawal leaves AE ≥ IM.
- INV-6: Σ positions = 0 for the perp of each underlying and for each option series.
Rejected operations must revert with one of the engine's named errors (never a bare revert).
"""

import itertools
import os

from brownie import chain, network
from brownie.exceptions import VirtualMachineError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from keel.deploy_engine import deposit, model_price, push_prices, trade
from tests.fixtures.engine import BTC, ETH, option
from tests.unit.engine.helpers import WAD

STEPS = {"ci": 25, "local": 60}.get(os.environ.get("KEEL_PROFILE", "ci"), 25)
EXAMPLES = {"ci": 25, "local": 150}.get(os.environ.get("KEEL_PROFILE", "ci"), 25)
NAMED = (
    "BelowInitialMargin",
    "WithdrawalBelowInitialMargin",
    "ReduceOnly",
    "InsufficientCash",
    "TooMany",
    "OpenInterestCapExceeded",
    "PriceOutsideBand",
    "EquityLoss",
)
GAS_PRICES = itertools.count(1)


def test_inv2_inv6_stateful(stack, alice_pm, bob_pm, carol, carol_pm):
    deposit(stack, carol_pm[0], carol, "USDC", 30_000)
    instruments = [
        BTC,
        ETH,
        option(stack, BTC, 62_000 * WAD, 14),
        option(stack, BTC, 55_000 * WAD, 14, False),
    ]
    series = [i - (1 << 128) for i in instruments[2:]]
    accts = [alice_pm, bob_pm, carol_pm]
    chain.snapshot()

    def margin(a):
        b = stack.engine.marginBreakdown(a)
        return b[1], b[2]  # AE, IM

    class Machine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            chain.revert()
            network.gas_price(next(GAS_PRICES))

        @rule(
            m=st.integers(0, 2),
            t=st.integers(0, 2),
            inst=st.integers(0, 3),
            size=st.integers(-40, 40),
            skew=st.integers(-10, 10),
        )
        def fill(self, m, t, inst, size, skew):
            if m == t or size == 0:
                return
            i = instruments[inst]
            spot = stack.oracle.feed(BTC if i != ETH else ETH)[0]
            # ±10% around the model value: the 2% perp band and the option band cut some off
            model = spot if inst < 2 else model_price(stack, i)
            price = model * (100 + skew) // 100
            q = size * WAD // 10
            before = {a[0]: margin(a[0]) for a in (accts[m], accts[t])}
            try:
                trade(stack, accts[m], accts[t], i, q, max(price, 1))
            except VirtualMachineError as e:
                assert any(n in str(e) for n in NAMED), str(e)
                return
            for a, (ae0, im0) in before.items():
                ae, im = margin(a)
                # INV-2: at/above IM, or the fill raised neither IM nor the shortfall
                assert ae >= im or (im <= im0 and im - ae <= im0 - ae0), (a, ae0, im0, ae, im)

        @rule(feed=st.sampled_from((BTC, ETH)), move=st.integers(-8, 8))
        def move_price(self, feed, move):
            st_ = stack.oracle.feed(feed)
            push_prices(stack, {feed: (st_[0] * (100 + move) // 100, st_[1])})

        @rule(who=st.integers(0, 2), share=st.integers(1, 100))
        def withdraw(self, who, share):
            acct, owner = accts[who]
            cash = stack.vault.cashOf(acct)
            units = max(cash, 0) * share // 100 // 10**12
            if units == 0:
                return
            try:
                stack.vault.withdraw(acct, stack.usdc, units, owner, {"from": owner})
            except VirtualMachineError as e:
                assert any(n in str(e) for n in NAMED), str(e)
                return
            ae, im = margin(acct)
            assert ae >= im  # INV-2: withdrawals keep AE ≥ IM

        @invariant()
        def inv6_positions_net_to_zero(self):
            ids = [a[0] for a in accts]
            for f in (BTC, ETH):
                assert sum(stack.engine.perpPosition(i, f)[0] for i in ids) == 0
            for s in series:
                assert sum(stack.engine.optionPosition(i, s) for i in ids) == 0

    Machine.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    from hypothesis.stateful import run_state_machine_as_test

    try:
        run_state_machine_as_test(Machine, settings=Machine.TestCase.settings)
    finally:
        network.gas_price(0)
