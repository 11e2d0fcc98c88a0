"""INV-1 (token conservation, SPEC §2 and §8) under random sequences of Vault operations.

A hypothesis RuleBasedStateMachine (brownie's `state_machine` fixture is broken in 1.22) runs
deposits, withdrawals, moveCash, collectFee, payFromInsurance, moveCollateral and loss write-offs
(adjustCash + socialiseLoss) over five tokens (settlement 6 decimals; collateral 2, 8, 18 and 24
decimals) and three accounts, reverting the chain to a snapshot before every example. After every
step it checks INV-1 and that the Vault agrees with an exact Python model of its integer arithmetic.
"""

import itertools
import os

from brownie import MockERC20, VaultLens, chain
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from keel.deploy_vault import WAD, AssetConfig, list_asset
from tests.unit.vault.helpers import reverts

# Fuzz depth: KEEL_PROFILE=ci (default, CI's time budget) or local (deeper).
PROFILE = os.environ.get("KEEL_PROFILE", "ci")
MAX_EXAMPLES = {"ci": 25, "local": 300}.get(PROFILE, 25)
STEPS = {"ci": 25, "local": 60}.get(PROFILE, 25)

SUPPLY = 2**126  # minted to every user for every token: far beyond any generated amount
N_ACCOUNTS = 3

st_account = st.integers(0, N_ACCOUNTS - 1)
# mostly everyday sizes, sometimes huge ones (values near the top of the uint128 caps)
st_amount = st.one_of(st.integers(1, 10**6), st.integers(1, 10**24), st.integers(1, 2**110))
st_fraction = st.integers(1, 100)  # percent of what may be taken
# cash amounts [wad USD]: mostly up to $10k (the scale of the seeded balances), sometimes huge
st_cash = st.one_of(st.integers(1, 10**22), st.integers(1, 2**120))


# After chain.revert() an identical transaction (same sender, nonce and calldata) has the same hash
# as one mined before the revert, and brownie then reports it "dropped". A unique gas limit per
# transaction keeps every hash new.
_GAS_LIMITS = itertools.count(3_000_000)


def tx(sender):
    return {"from": sender, "gas_limit": next(_GAS_LIMITS)}


def ceil_div(a, b):
    return -(-a // b)


class CashModel:
    """Exact Python mirror of the Vault's cash words (principal >= 0, debt < 0) and index."""

    def __init__(self):
        self.words = {}
        self.index = WAD
        self.total_principal = 0

    def cash(self, a):
        w = self.words.get(a, 0)
        return w if w <= 0 else w * self.index // WAD

    def add(self, a, delta):
        w = self.words.get(a, 0)
        if delta == 0:
            return
        if delta > 0:
            credit = delta
            if w < 0:
                if credit <= -w:
                    self.words[a] = w + delta
                    return
                credit += w
                w = 0
            p = credit * WAD // self.index  # down
            self.words[a] = w + p
            self.total_principal += p
        else:
            debit = -delta
            if w > 0:
                need = ceil_div(debit * WAD, self.index)  # up
                if need <= w:
                    self.words[a] = w - need
                    self.total_principal -= need
                else:
                    owned = w * self.index // WAD
                    self.words[a] = -(debit - owned)
                    self.total_principal -= w
            else:
                self.words[a] = w - debit


def test_inv1_conservation(vault, usdc, weth, wbtc, deployer, vault_module, accounts):
    """INV-1: for every token, the vault's balance equals the sum of what it owes.

    - collateral tokens: balanceOf(vault) == Σ collateralBalance == totalDeposits;
    - settlement token: balanceOf(vault) · 10^12 == Σ cashOf + insuranceFund exactly while the cash
      index is 1e18; once a loss was socialised the vault keeps the rounding dust (never owes it):
      0 <= balance · 10^12 − (Σ cashOf + insuranceFund) <= a few wei per step;
    - the Vault's cash words, index, principal total, insurance fund and held-asset sets equal an
      exact Python model of the same integer arithmetic (rounding against the account).
    """
    cents = MockERC20.deploy("Cents", "C2", 2, {"from": deployer})
    big = MockERC20.deploy("Big", "B24", 24, {"from": deployer})
    for t in (cents, big):
        list_asset(vault, t, AssetConfig())
    tokens = [usdc, cents, wbtc, weth, big]
    collateral = tokens[1:]
    users = [accounts[1], accounts[2], accounts[3]]
    ids = [vault.openAccount({"from": u}).return_value for u in users]
    for u in users:
        for t in tokens:
            t.mint(u, SUPPLY, {"from": u})
            t.approve(vault, 2**256 - 1, {"from": u})
    scale = 10 ** (18 - usdc.decimals())
    lens = VaultLens.deploy({"from": deployer})
    token_addrs = [t.address for t in tokens]
    chain.snapshot()

    class Conservation(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            chain.revert()
            self.cash = CashModel()
            self.insurance = 0
            self.bal = {(a, t.address): 0 for a in ids for t in collateral}
            self.dust = 0  # upper bound of the rounding dust the vault has kept [wad]

        def teardown(self):
            pass

        # --- rules ---

        @initialize(cash=st.lists(st.integers(1, 10**10), min_size=N_ACCOUNTS, max_size=N_ACCOUNTS))
        def seed_cash(self, cash):
            """Every account starts with some cash (up to $10k), so that debts and write-offs
            meet positive balances early in a run."""
            for i, amount in enumerate(cash):
                self.deposit(i, 0, amount)

        @rule(i=st_account, k=st.integers(0, len(tokens) - 1), amount=st_amount)
        def deposit(self, i, k, amount):
            token, acct = tokens[k], ids[i]
            held = [t for t in collateral if self.bal[(acct, t.address)] > 0]
            if token != usdc and token not in held and len(held) >= 8:
                return  # five tokens: cannot happen, kept for clarity
            vault.deposit(acct, token, amount, tx(users[i]))
            if token == usdc:
                self.cash.add(acct, amount * scale)
            else:
                self.bal[(acct, token.address)] += amount

        @rule(i=st_account, k=st.integers(0, len(tokens) - 1), pct=st_fraction)
        def withdraw(self, i, k, pct):
            token, acct, user = tokens[k], ids[i], users[i]
            if token == usdc:
                cash = self.cash.cash(acct)
                available = min(max(cash, 0) // scale, usdc.balanceOf(vault))
                amount = available * pct // 100
                if amount == 0:
                    return
                vault.withdraw(acct, token, amount, user, tx(user))
                self.cash.add(acct, -amount * scale)
                return
            amount = self.bal[(acct, token.address)] * pct // 100
            if amount == 0:
                return
            cash = self.cash.cash(acct)
            if cash < 0:  # no margin hook: collateral stays while the account owes the pool
                with reverts("NegativeCash", acct, cash):
                    vault.withdraw(acct, token, amount, user, tx(user))
                return
            vault.withdraw(acct, token, amount, user, tx(user))
            self.bal[(acct, token.address)] -= amount

        @rule(i=st_account, j=st_account, amount=st_cash, negative=st.booleans())
        def move_cash(self, i, j, amount, negative):
            amount = -amount if negative else amount
            vault.moveCash(ids[i], ids[j], amount, tx(vault_module))
            self.cash.add(ids[i], -amount)
            self.cash.add(ids[j], amount)

        @rule(i=st_account, amount=st_cash)
        def collect_fee(self, i, amount):
            vault.collectFee(ids[i], amount, tx(vault_module))
            self.cash.add(ids[i], -amount)
            self.insurance += amount

        @rule(i=st_account, amount=st_cash)
        def pay_from_insurance(self, i, amount):
            paid = vault.payFromInsurance(ids[i], amount, tx(vault_module)).return_value
            assert paid == min(amount, self.insurance)
            self.insurance -= paid
            self.cash.add(ids[i], paid)

        @rule(i=st_account, j=st_account, k=st.integers(1, len(tokens) - 1), pct=st_fraction)
        def move_collateral(self, i, j, k, pct):
            token = tokens[k]
            amount = self.bal[(ids[i], token.address)] * pct // 100
            vault.moveCollateral(ids[i], ids[j], token, amount, tx(vault_module))
            self.bal[(ids[i], token.address)] -= amount
            self.bal[(ids[j], token.address)] += amount

        @rule(pct=st_fraction)
        def write_off_debt(self, pct):
            """Part of the most indebted account's debt is forgiven and spread over positive cash
            (SPEC §7): at most half of all positive cash, so that the loss never consumes it all."""
            acct = min(ids, key=self.cash.cash)
            positive = self.cash.total_principal * self.cash.index // WAD
            loss = min(-self.cash.cash(acct), positive // 2) * pct // 100
            if loss <= 0:
                return
            vault.adjustCash(acct, loss, tx(vault_module))
            self.cash.add(acct, loss)
            vault.socialiseLoss(loss, tx(vault_module))
            self.cash.index -= ceil_div(loss * WAD, self.cash.total_principal)
            # the index cut is rounded up: one index wei is worth total principal / 1e18 of cash
            self.dust += ceil_div(self.cash.total_principal, WAD) + 1

        # --- invariants ---

        @invariant()
        def inv1_conservation(self):
            """INV-1 for every token, the model's agreement, and the held-asset sets."""
            (vault_bal, totals, coll, held, cash, words, index, principal, fund) = lens.read(
                vault, ids, token_addrs
            )
            nt = len(tokens)
            # collateral tokens: balanceOf(vault) == Σ collateralBalance == totalDeposits
            for k in range(1, nt):
                t = token_addrs[k]
                expected = [self.bal[(a, t)] for a in ids]
                assert [coll[n * nt + k] for n in range(N_ACCOUNTS)] == expected
                assert vault_bal[k] == sum(expected)
                assert totals[k] == sum(expected)
                # the held-asset bitmap lists exactly the tokens with a non-zero balance
                assert [held[n * nt + k] for n in range(N_ACCOUNTS)] == [b > 0 for b in expected]
            assert [coll[n * nt] for n in range(N_ACCOUNTS)] == [
                0
            ] * N_ACCOUNTS  # cash, not collateral

            # settlement token: the model first, then conservation
            assert list(cash) == [self.cash.cash(a) for a in ids]
            assert list(words) == [self.cash.words.get(a, 0) for a in ids]
            assert (index, principal, fund) == (
                self.cash.index,
                self.cash.total_principal,
                self.insurance,
            )
            self.dust += 2  # at most two rounded conversions per step, < 1 wei each
            slack = vault_bal[0] * scale - (sum(cash) + fund)
            if index == WAD:
                assert slack == 0
            else:
                # the vault keeps the dust of rounded conversions and index cuts, plus one wei per
                # account lost by reading cashOf rounded down; it never owes any
                assert 0 <= slack <= self.dust + N_ACCOUNTS

    run_state_machine_as_test(
        Conservation,
        settings=settings(max_examples=MAX_EXAMPLES, stateful_step_count=STEPS, deadline=None),
    )
