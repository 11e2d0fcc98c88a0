"""Hostile tokens: fee-on-transfer, false return, no return value, re-entrancy during transfers."""

import brownie
from brownie import FalseReturnToken, FeeOnTransferToken, NoReturnToken, ReentrantToken

from keel.deploy_vault import AssetConfig, deploy_vault, list_asset
from tests.fixtures.vault import fund
from tests.unit.vault.helpers import reverts


def test_fee_on_transfer_token_is_rejected_with_amounts(vault, deployer, alice, alice_account):
    fot = FeeOnTransferToken.deploy(100, {"from": deployer})  # 1% fee
    list_asset(vault, fot, AssetConfig())
    fund(fot, alice, vault, 10_000)
    with reverts("TransferAmountMismatch", fot.address, 10_000, 9_900):
        vault.deposit(alice_account, fot, 10_000, {"from": alice})
    assert vault.collateralBalance(alice_account, fot) == 0
    assert vault.totalDeposits(fot) == 0


def test_fee_on_transfer_settlement_asset_cannot_fund_insurance(deployer, vault_oracle, alice):
    fot = FeeOnTransferToken.deploy(100, {"from": deployer})
    v = deploy_vault(deployer, vault_oracle, fot)
    fund(fot, alice, v, 10_000)
    with reverts("TransferAmountMismatch", fot.address, 10_000, 9_900):
        v.fundInsurance(10_000, {"from": alice})
    v.openAccount({"from": alice})
    with reverts("TransferAmountMismatch", fot.address, 10_000, 9_900):
        v.deposit(1, fot, 10_000, {"from": alice})


def test_false_returning_transfer_from_is_rejected(vault, deployer, alice, alice_account):
    t = FalseReturnToken.deploy({"from": deployer})
    list_asset(vault, t, AssetConfig())
    t.mint(alice, 10, {"from": alice})  # no approval: transferFrom returns false
    with reverts("SafeERC20FailedOperation", t.address):
        vault.deposit(alice_account, t, 10, {"from": alice})


def test_false_returning_transfer_is_rejected_on_withdraw(vault, deployer, alice, alice_account):
    t = FalseReturnToken.deploy({"from": deployer})
    list_asset(vault, t, AssetConfig())
    fund(t, alice, vault, 10)
    vault.deposit(alice_account, t, 10, {"from": alice})
    t.setFail(True, {"from": deployer})
    with reverts("SafeERC20FailedOperation", t.address):
        vault.withdraw(alice_account, t, 10, alice, {"from": alice})
    assert vault.collateralBalance(alice_account, t) == 10


def test_no_return_token_round_trip(vault, deployer, alice, alice_account):
    t = NoReturnToken.deploy("USDT-like", "USDT", 6, {"from": deployer})
    list_asset(vault, t, AssetConfig())
    fund(t, alice, vault, 10)
    vault.deposit(alice_account, t, 10, {"from": alice})
    vault.withdraw(alice_account, t, 4, alice, {"from": alice})
    assert t.balanceOf(alice) == 4
    assert vault.collateralBalance(alice_account, t) == 6


def test_no_return_token_failure_bubbles(vault, deployer, alice, alice_account):
    t = NoReturnToken.deploy("USDT-like", "USDT", 6, {"from": deployer})
    list_asset(vault, t, AssetConfig())
    t.mint(alice, 10, {"from": alice})
    with brownie.reverts("allowance"):
        vault.deposit(alice_account, t, 10, {"from": alice})


def _reentrant(vault, deployer, alice, alice_account):
    t = ReentrantToken.deploy({"from": deployer})
    list_asset(vault, t, AssetConfig())
    fund(t, alice, vault, 100)
    return t


def test_reentrant_deposit_during_deposit_reverts(vault, deployer, alice, alice_account):
    t = _reentrant(vault, deployer, alice, alice_account)
    t.arm(vault, vault.deposit.encode_input(alice_account, t, 1), {"from": deployer})
    with reverts("ReentrancyGuardReentrantCall"):
        vault.deposit(alice_account, t, 10, {"from": alice})


def test_reentrant_withdraw_during_deposit_reverts(vault, deployer, alice, alice_account):
    t = _reentrant(vault, deployer, alice, alice_account)
    vault.deposit(alice_account, t, 50, {"from": alice})
    # the token calls withdraw as itself: the guard fires before any authorisation check
    t.arm(vault, vault.withdraw.encode_input(alice_account, t, 50, alice), {"from": deployer})
    with reverts("ReentrancyGuardReentrantCall"):
        vault.deposit(alice_account, t, 10, {"from": alice})


def test_reentrant_call_during_withdraw_reverts(vault, deployer, alice, alice_account):
    t = _reentrant(vault, deployer, alice, alice_account)
    vault.deposit(alice_account, t, 50, {"from": alice})
    t.arm(vault, vault.fundInsurance.encode_input(1), {"from": deployer})
    with reverts("ReentrancyGuardReentrantCall"):
        vault.withdraw(alice_account, t, 10, alice, {"from": alice})
    assert vault.collateralBalance(alice_account, t) == 50


def test_reentrant_token_works_when_disarmed(vault, deployer, alice, alice_account):
    t = _reentrant(vault, deployer, alice, alice_account)
    vault.deposit(alice_account, t, 50, {"from": alice})
    vault.withdraw(alice_account, t, 50, alice, {"from": alice})
    assert t.balanceOf(alice) == 100
