"""Withdrawals (SPEC §2): owner or RIGHT_WITHDRAW operator; cash limited to positive cash and to what
the vault holds; the margin hook decides afterwards, or without one no collateral leaves an account
in debt. Deposits and risk-free withdrawals never need prices."""

from brownie import ZERO_ADDRESS, MockERC20, chain

from keel.deploy_vault import RIGHT_TRADE, RIGHT_WITHDRAW, WAD, volatile_config
from tests.fixtures.vault import ETH, fund
from tests.unit.vault.helpers import reverts


def deposited(vault, token, owner, account, amount):
    fund(token, owner, vault, amount)
    vault.deposit(account, token, amount, {"from": owner})


def test_owner_withdraws_collateral_and_emits(vault, token, alice, carol, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    tx = vault.withdraw(alice_account, token, 30, carol, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == 70
    assert vault.totalDeposits(token) == 70
    assert token.balanceOf(carol) == 30
    assert token.balanceOf(vault) == 70
    assert tx.events["Withdrawn"] == {
        "accountId": alice_account,
        "token": token,
        "to": carol,
        "amount": 30,
    }


def test_withdrawing_everything_clears_the_held_asset(vault, token, alice, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    vault.withdraw(alice_account, token, 100, alice, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == 0
    assert vault.accountAssets(alice_account) == []
    assert token.balanceOf(alice) == 100


def test_withdraw_operator_may_withdraw(vault, token, alice, carol, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    vault.setOperator(alice_account, carol, RIGHT_WITHDRAW, {"from": alice})
    vault.withdraw(alice_account, token, 40, carol, {"from": carol})
    assert token.balanceOf(carol) == 40


def test_trade_operator_may_not_withdraw(vault, token, alice, carol, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    vault.setOperator(alice_account, carol, RIGHT_TRADE, {"from": alice})
    with reverts("NotAuthorised", alice_account, carol.address, RIGHT_WITHDRAW):
        vault.withdraw(alice_account, token, 1, carol, {"from": carol})


def test_stranger_may_not_withdraw(vault, token, alice, mallory, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    with reverts("NotAuthorised", alice_account, mallory.address, RIGHT_WITHDRAW):
        vault.withdraw(alice_account, token, 1, mallory, {"from": mallory})


def test_transfer_voids_withdraw_operator(vault, token, alice, bob, carol, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    vault.setOperator(alice_account, carol, RIGHT_WITHDRAW, {"from": alice})
    vault.transferAccount(alice_account, bob, {"from": alice})
    with reverts("NotAuthorised", alice_account, carol.address, RIGHT_WITHDRAW):
        vault.withdraw(alice_account, token, 1, carol, {"from": carol})
    with reverts("NotAuthorised", alice_account, alice.address, RIGHT_WITHDRAW):
        vault.withdraw(alice_account, token, 1, alice, {"from": alice})
    vault.withdraw(alice_account, token, 1, bob, {"from": bob})
    assert token.balanceOf(bob) == 1


def test_withdraw_more_than_balance_reverts(vault, token, alice, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    with reverts("InsufficientCollateral", alice_account, token.address, 100, 101):
        vault.withdraw(alice_account, token, 101, alice, {"from": alice})


def test_withdraw_reverts_on_zero_amount(vault, token, alice, alice_account):
    with reverts("ZeroAmount"):
        vault.withdraw(alice_account, token, 0, alice, {"from": alice})


def test_withdraw_reverts_on_zero_recipient(vault, token, alice, alice_account):
    with reverts("ZeroAddress"):
        vault.withdraw(alice_account, token, 1, ZERO_ADDRESS, {"from": alice})


def test_withdraw_reverts_for_unknown_account(vault, token, alice):
    with reverts("UnknownAccount", 3):
        vault.withdraw(3, token, 1, alice, {"from": alice})


def test_withdraw_reverts_for_unknown_asset(vault, deployer, alice, alice_account):
    other = MockERC20.deploy("Other", "OTH", 18, {"from": deployer})
    with reverts("UnknownAsset", other.address):
        vault.withdraw(alice_account, other, 1, alice, {"from": alice})


def test_disabled_asset_can_still_be_withdrawn(vault, token, deployer, alice, alice_account):
    deposited(vault, token, alice, alice_account, 100)
    vault.setAssetConfig(token, volatile_config(ETH, enabled=False).as_tuple(), {"from": deployer})
    vault.withdraw(alice_account, token, 100, alice, {"from": alice})
    assert token.balanceOf(alice) == 100


def test_cash_withdrawal_debits_cash(vault, usdc, alice, carol, alice_account):
    deposited(vault, usdc, alice, alice_account, 100 * 10**6)
    vault.withdraw(alice_account, usdc, 40 * 10**6, carol, {"from": alice})
    assert vault.cashOf(alice_account) == 60 * WAD
    assert usdc.balanceOf(carol) == 40 * 10**6
    assert vault.totalDeposits(usdc) == 60 * 10**6


def test_cash_withdrawal_limited_to_positive_cash(vault, usdc, alice, alice_account):
    deposited(vault, usdc, alice, alice_account, 100 * 10**6)
    with reverts("InsufficientCash", alice_account, 100 * WAD, 100 * WAD + 10**12):
        vault.withdraw(alice_account, usdc, 100 * 10**6 + 1, alice, {"from": alice})


def test_cash_withdrawal_rejected_when_cash_negative(
    vault, usdc, vault_module, alice, alice_account, bob_account
):
    vault.moveCash(alice_account, bob_account, 5 * WAD, {"from": vault_module})
    with reverts("InsufficientCash", alice_account, -5 * WAD, 10**12):
        vault.withdraw(alice_account, usdc, 1, alice, {"from": alice})


def test_huge_cash_withdrawal_reports_saturated_amount(vault, usdc, alice, alice_account):
    with reverts("InsufficientCash", alice_account, 0, 2**256 - 1):
        vault.withdraw(alice_account, usdc, 2**255, alice, {"from": alice})


def test_cash_withdrawal_limited_to_vault_holdings(
    vault, usdc, vault_module, alice, bob, alice_account, bob_account
):
    """Bob owes 50 to the pool: alice's 150 cash is backed by only 100 USDC in the vault."""
    deposited(vault, usdc, alice, alice_account, 100 * 10**6)
    vault.moveCash(bob_account, alice_account, 50 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == 150 * WAD
    with reverts("InsufficientVaultBalance", usdc.address, 100 * 10**6, 150 * 10**6):
        vault.withdraw(alice_account, usdc, 150 * 10**6, alice, {"from": alice})
    vault.withdraw(alice_account, usdc, 100 * 10**6, alice, {"from": alice})
    assert vault.cashOf(alice_account) == 50 * WAD
    assert vault.totalDeposits(usdc) == 0


def test_collateral_cannot_leave_indebted_account_without_hook(
    vault, token, vault_module, alice, alice_account, bob_account
):
    deposited(vault, token, alice, alice_account, 100)
    vault.moveCash(alice_account, bob_account, 1, {"from": vault_module})
    with reverts("NegativeCash", alice_account, -1):
        vault.withdraw(alice_account, token, 1, alice, {"from": alice})


def test_hook_is_consulted_after_withdrawal(
    vault, token, deployer, mock_hook, alice, alice_account
):
    deposited(vault, token, alice, alice_account, 100)
    vault.setMarginHook(mock_hook, {"from": deployer})
    mock_hook.setRejected(alice_account, True, {"from": deployer})
    with reverts("HookRejected", alice_account):
        vault.withdraw(alice_account, token, 1, alice, {"from": alice})
    mock_hook.setRejected(alice_account, False, {"from": deployer})
    vault.withdraw(alice_account, token, 1, alice, {"from": alice})
    assert token.balanceOf(alice) == 1


def test_hook_rejects_cash_withdrawal(vault, usdc, deployer, mock_hook, alice, alice_account):
    deposited(vault, usdc, alice, alice_account, 10)
    vault.setMarginHook(mock_hook, {"from": deployer})
    mock_hook.setRejected(alice_account, True, {"from": deployer})
    with reverts("HookRejected", alice_account):
        vault.withdraw(alice_account, usdc, 1, alice, {"from": alice})


def test_hook_replaces_the_negative_cash_rule(
    vault, token, deployer, vault_module, mock_hook, alice, alice_account, bob_account
):
    deposited(vault, token, alice, alice_account, 100)
    vault.moveCash(alice_account, bob_account, 1, {"from": vault_module})
    vault.setMarginHook(mock_hook, {"from": deployer})
    vault.withdraw(alice_account, token, 1, alice, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == 99


def test_deposit_and_riskfree_withdrawal_need_no_prices(
    vault, token, usdc, vault_oracle, alice, alice_account
):
    chain.sleep(3 * 3600)
    chain.mine()
    assert vault_oracle.isStale(ETH)
    deposited(vault, token, alice, alice_account, 100)
    deposited(vault, usdc, alice, alice_account, 100)
    vault.withdraw(alice_account, token, 100, alice, {"from": alice})
    vault.withdraw(alice_account, usdc, 100, alice, {"from": alice})
    assert vault.accountAssets(alice_account) == []
    assert vault.cashOf(alice_account) == 0
