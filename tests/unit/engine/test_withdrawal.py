"""The Vault's margin hook (SPEC §2, INV-2): withdrawals keep AE ≥ IM."""

import brownie

from tests.fixtures.engine import BTC, sleep, trade
from tests.support import reverts
from tests.unit.engine.helpers import WAD

S = 60_000 * WAD
USDC = 10**6


def test_flat_account_withdraws_without_prices(stack, alice_pm):
    """No positions and no debt: no prices needed, even when every feed is stale."""
    sleep(7_200)
    stack.vault.withdraw(
        alice_pm[0], stack.usdc, 1_000_000 * USDC, alice_pm[1], {"from": alice_pm[1]}
    )
    assert stack.vault.cashOf(alice_pm[0]) == 0


def test_withdrawal_keeping_im_passes(stack, alice_pm, bob_pm):
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    stack.vault.withdraw(
        alice_pm[0], stack.usdc, 900_000 * USDC, alice_pm[1], {"from": alice_pm[1]}
    )


def test_withdrawal_below_im_reverts(stack, alice_pm, bob_pm):
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    cash = 1_000_000 * WAD - 12 * WAD - 995_000 * WAD
    with reverts("WithdrawalBelowInitialMargin", alice_pm[0], cash - cash // 100, 9_600 * WAD):
        stack.vault.withdraw(
            alice_pm[0], stack.usdc, 995_000 * USDC, alice_pm[1], {"from": alice_pm[1]}
        )


def test_withdrawal_with_positions_needs_fresh_prices(stack, alice_pm, bob_pm):
    trade(stack, alice_pm, bob_pm, BTC, WAD, S)
    sleep(3_601)
    obs = stack.oracle.feed(BTC)[2]
    with brownie.reverts(revert_pattern=rf"StalePrice: {BTC}, {obs}, \d+"):
        stack.vault.withdraw(alice_pm[0], stack.usdc, USDC, alice_pm[1], {"from": alice_pm[1]})
