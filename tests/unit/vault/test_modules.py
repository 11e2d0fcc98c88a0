"""Module functions (moveCash, adjustCash, collectFee, payFromInsurance, socialiseLoss, moveCollateral):
governance-authorised modules only (INV-7), exact cash arithmetic and the socialisation index."""

import brownie
import pytest
from brownie import MockERC20

from keel.deploy_vault import WAD, AssetConfig, list_asset
from tests.fixtures.vault import fund
from tests.unit.vault.helpers import reverts

USDC = 10**6


@pytest.fixture
def funded(vault, usdc, alice, bob, alice_account, bob_account):
    """alice 100 cash, bob 300 cash."""
    fund(usdc, alice, vault, 100 * USDC)
    fund(usdc, bob, vault, 300 * USDC)
    vault.deposit(alice_account, usdc, 100 * USDC, {"from": alice})
    vault.deposit(bob_account, usdc, 300 * USDC, {"from": bob})


MODULE_CALLS = [
    ("moveCash", (1, 2, 1)),
    ("adjustCash", (1, 1)),
    ("collectFee", (1, 1)),
    ("payFromInsurance", (1, 1)),
    ("socialiseLoss", (1,)),
    ("moveCollateral", (1, 2, None, 1)),
]


@pytest.mark.parametrize("name,args", MODULE_CALLS, ids=[c[0] for c in MODULE_CALLS])
def test_module_functions_reject_non_modules(
    vault, weth, name, args, mallory, deployer, alice_account, bob_account
):
    args = tuple(weth.address if a is None else a for a in args)
    for caller in (mallory, deployer):  # not even governance itself
        with reverts("NotModule", caller.address):
            getattr(vault, name)(*args, {"from": caller})


def test_revoked_module_is_rejected(vault, vault_module, deployer, alice_account, bob_account):
    tx = vault.setModule(vault_module, False, {"from": deployer})
    assert tx.events["ModuleSet"] == {"module": vault_module, "authorised": False}
    assert not vault.isModule(vault_module)
    with reverts("NotModule", vault_module.address):
        vault.moveCash(alice_account, bob_account, 1, {"from": vault_module})


def test_move_cash_moves_both_ways_and_emits(
    vault, vault_module, funded, alice_account, bob_account
):
    tx = vault.moveCash(alice_account, bob_account, 30 * WAD, {"from": vault_module})
    assert tx.events["CashMoved"] == {"from": alice_account, "to": bob_account, "amount": 30 * WAD}
    assert vault.cashOf(alice_account) == 70 * WAD
    assert vault.cashOf(bob_account) == 330 * WAD
    vault.moveCash(alice_account, bob_account, -50 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == 120 * WAD
    assert vault.cashOf(bob_account) == 280 * WAD
    assert vault.totalCashPrincipal() == 400 * WAD


def test_move_cash_may_create_a_debt(vault, vault_module, funded, alice_account, bob_account):
    vault.moveCash(alice_account, bob_account, 130 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == -30 * WAD
    assert vault.cashPrincipal(alice_account) == -30 * WAD
    assert vault.totalCashPrincipal() == 430 * WAD  # only positive principal counts
    # repaying part of the debt is exact, more than the debt becomes principal
    vault.moveCash(bob_account, alice_account, 10 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == -20 * WAD
    vault.moveCash(bob_account, alice_account, 25 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == 5 * WAD
    assert vault.totalCashPrincipal() == 400 * WAD


def test_move_cash_reverts_for_unknown_accounts(vault, vault_module, alice_account):
    with reverts("UnknownAccount", 9):
        vault.moveCash(alice_account, 9, 1, {"from": vault_module})
    with reverts("UnknownAccount", 9):
        vault.moveCash(9, alice_account, 1, {"from": vault_module})


def test_adjust_cash_against_the_pool(vault, vault_module, funded, alice_account):
    tx = vault.adjustCash(alice_account, 7 * WAD, {"from": vault_module})
    assert tx.events["CashAdjusted"] == {"accountId": alice_account, "delta": 7 * WAD}
    assert vault.cashOf(alice_account) == 107 * WAD
    vault.adjustCash(alice_account, -200 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == -93 * WAD


def test_adjust_cash_reverts_for_unknown_account(vault, vault_module):
    with reverts("UnknownAccount", 4):
        vault.adjustCash(4, 1, {"from": vault_module})


def test_collect_fee_moves_cash_to_insurance(vault, vault_module, funded, alice_account):
    tx = vault.collectFee(alice_account, 3 * WAD, {"from": vault_module})
    assert tx.events["FeeCollected"] == {"accountId": alice_account, "amount": 3 * WAD}
    assert vault.cashOf(alice_account) == 97 * WAD
    assert vault.insuranceFund() == 3 * WAD


def test_collect_fee_may_create_a_debt(vault, vault_module, alice_account):
    vault.collectFee(alice_account, 5, {"from": vault_module})
    assert vault.cashOf(alice_account) == -5
    assert vault.insuranceFund() == 5


def test_pay_from_insurance_pays_at_most_the_fund(vault, vault_module, funded, alice_account):
    vault.collectFee(alice_account, 10 * WAD, {"from": vault_module})
    tx = vault.payFromInsurance(alice_account, 4 * WAD, {"from": vault_module})
    assert tx.return_value == 4 * WAD
    assert tx.events["InsurancePaid"] == {"accountId": alice_account, "amount": 4 * WAD}
    tx = vault.payFromInsurance(alice_account, 100 * WAD, {"from": vault_module})
    assert tx.return_value == 6 * WAD
    assert vault.insuranceFund() == 0
    assert vault.cashOf(alice_account) == 100 * WAD
    assert vault.payFromInsurance(alice_account, 1, {"from": vault_module}).return_value == 0


def test_fund_insurance_by_anyone(vault, usdc, carol):
    fund(usdc, carol, vault, 25 * USDC)
    tx = vault.fundInsurance(25 * USDC, {"from": carol})
    assert tx.events["InsuranceFunded"] == {"from": carol, "amount": 25 * WAD}
    assert vault.insuranceFund() == 25 * WAD
    assert usdc.balanceOf(vault) == 25 * USDC
    with reverts("ZeroAmount"):
        vault.fundInsurance(0, {"from": carol})


def test_socialise_loss_scales_positive_cash_pro_rata(
    vault, vault_module, funded, carol, alice_account, bob_account
):
    """40 lost over 400 positive cash: the index falls 10%, the debt of carol's account does not."""
    carol_account = vault.openAccount({"from": carol}).return_value
    vault.moveCash(
        carol_account, bob_account, 50 * WAD, {"from": vault_module}
    )  # carol -50, bob 350
    tx = vault.socialiseLoss(40 * WAD, {"from": vault_module})
    new_index = WAD - (40 * WAD * WAD + 450 * WAD - 1) // (450 * WAD)
    assert vault.cashIndex() == new_index
    assert tx.events["LossSocialised"] == {
        "amount": 40 * WAD,
        "oldIndex": WAD,
        "newIndex": new_index,
        "positiveCash": 450 * WAD,
    }
    assert vault.cashOf(alice_account) == 100 * WAD * new_index // WAD
    assert vault.cashOf(bob_account) == 350 * WAD * new_index // WAD
    assert vault.cashOf(carol_account) == -50 * WAD
    lost = 450 * WAD - vault.cashOf(alice_account) - vault.cashOf(bob_account)
    # at least the loss; at most one index wei per 1e18 of principal (450) plus one per account
    assert 40 * WAD <= lost <= 40 * WAD + 450 + 2


def test_socialise_loss_exact_tenth(vault, vault_module, funded, alice_account, bob_account):
    vault.socialiseLoss(40 * WAD, {"from": vault_module})
    assert vault.cashIndex() == 9 * WAD // 10
    assert vault.cashOf(alice_account) == 90 * WAD
    assert vault.cashOf(bob_account) == 270 * WAD


def test_socialise_loss_rounds_against_accounts(vault, vault_module, usdc, alice, bob):
    """1 wei over 3 principals of 1e18: the index falls by a whole wei, each account loses 1 wei."""
    ids = [vault.openAccount({"from": alice}).return_value for _ in range(3)]
    for i in ids:
        vault.adjustCash(i, WAD, {"from": vault_module})
    vault.socialiseLoss(1, {"from": vault_module})
    assert vault.cashIndex() == WAD - 1
    assert [vault.cashOf(i) for i in ids] == [WAD - 1] * 3


def test_cash_after_socialisation_rounds_against_account(
    vault, vault_module, funded, alice_account
):
    vault.socialiseLoss(3 * WAD, {"from": vault_module})  # index = 1 - 3/400
    index = vault.cashIndex()
    assert index == WAD - 3 * WAD // 400
    before_p = vault.cashPrincipal(alice_account)
    vault.adjustCash(
        alice_account, 1, {"from": vault_module}
    )  # 1 wei credit: principal floor(1e18/index)
    assert vault.cashPrincipal(alice_account) == before_p + WAD // index
    p = vault.cashPrincipal(alice_account)
    vault.adjustCash(
        alice_account, -1, {"from": vault_module}
    )  # 1 wei debit: principal ceil(1e18/index)
    assert vault.cashPrincipal(alice_account) == p - -(-WAD // index)  # ceil
    assert vault.cashOf(alice_account) <= 100 * WAD * index // WAD


def test_debit_beyond_principal_turns_into_exact_debt(vault, vault_module, funded, alice_account):
    vault.socialiseLoss(40 * WAD, {"from": vault_module})  # alice 90
    vault.adjustCash(alice_account, -100 * WAD, {"from": vault_module})
    assert vault.cashOf(alice_account) == -10 * WAD
    assert vault.totalCashPrincipal() == 300 * WAD  # bob's principal only


def test_socialise_more_than_positive_cash_reverts(vault, vault_module, funded):
    with reverts("LossExceedsCash", 400 * WAD, 400 * WAD):
        vault.socialiseLoss(400 * WAD, {"from": vault_module})
    # the index cut is rounded up: a loss a hair below all positive cash still consumes it all
    with reverts("LossExceedsCash", 400 * WAD - 1, 400 * WAD):
        vault.socialiseLoss(400 * WAD - 1, {"from": vault_module})
    vault.socialiseLoss(399 * WAD, {"from": vault_module})
    assert vault.cashIndex() == WAD // 400


def test_socialise_without_positive_cash_reverts(vault, vault_module):
    with reverts("LossExceedsCash", 1, 0):
        vault.socialiseLoss(1, {"from": vault_module})


def test_socialise_zero_is_a_no_op(vault, vault_module, funded):
    tx = vault.socialiseLoss(0, {"from": vault_module})
    assert "LossSocialised" not in tx.events
    assert vault.cashIndex() == WAD


def test_move_collateral_between_accounts(
    vault, weth, vault_module, alice, alice_account, bob_account
):
    fund(weth, alice, vault, 10)
    vault.deposit(alice_account, weth, 10, {"from": alice})
    tx = vault.moveCollateral(alice_account, bob_account, weth, 4, {"from": vault_module})
    assert tx.events["CollateralMoved"] == {
        "from": alice_account,
        "to": bob_account,
        "token": weth,
        "amount": 4,
    }
    assert vault.collateralBalance(alice_account, weth) == 6
    assert vault.collateralBalance(bob_account, weth) == 4
    assert vault.accountAssets(bob_account) == [weth]
    assert vault.totalDeposits(weth) == 10
    vault.moveCollateral(alice_account, bob_account, weth, 6, {"from": vault_module})
    assert vault.accountAssets(alice_account) == []
    assert vault.collateralBalance(bob_account, weth) == 10


def test_move_collateral_to_same_account_keeps_it(vault, weth, vault_module, alice, alice_account):
    fund(weth, alice, vault, 10)
    vault.deposit(alice_account, weth, 10, {"from": alice})
    vault.moveCollateral(alice_account, alice_account, weth, 10, {"from": vault_module})
    assert vault.collateralBalance(alice_account, weth) == 10
    assert vault.accountAssets(alice_account) == [weth]


def test_move_collateral_rejections(
    vault, weth, usdc, deployer, vault_module, alice, alice_account, bob_account
):
    fund(weth, alice, vault, 10)
    vault.deposit(alice_account, weth, 10, {"from": alice})
    with reverts("InsufficientCollateral", alice_account, weth.address, 10, 11):
        vault.moveCollateral(alice_account, bob_account, weth, 11, {"from": vault_module})
    with reverts("SettlementAssetNotCollateral", usdc.address):
        vault.moveCollateral(alice_account, bob_account, usdc, 1, {"from": vault_module})
    other = MockERC20.deploy("O", "O", 18, {"from": deployer})
    with reverts("UnknownAsset", other.address):
        vault.moveCollateral(alice_account, bob_account, other, 1, {"from": vault_module})
    with reverts("UnknownAccount", 8):
        vault.moveCollateral(alice_account, 8, weth, 1, {"from": vault_module})


def test_move_collateral_respects_the_eight_token_limit(
    vault, deployer, vault_module, alice, bob, alice_account, bob_account
):
    tokens = []
    for i in range(9):
        t = MockERC20.deploy(f"T{i}", f"T{i}", 18, {"from": deployer})
        list_asset(vault, t, AssetConfig())
        tokens.append(t)
    for t in tokens[:8]:
        fund(t, bob, vault, 1)
        vault.deposit(bob_account, t, 1, {"from": bob})
    fund(tokens[8], alice, vault, 1)
    vault.deposit(alice_account, tokens[8], 1, {"from": alice})
    with reverts("TooManyCollateralAssets", bob_account, 8):
        vault.moveCollateral(alice_account, bob_account, tokens[8], 1, {"from": vault_module})


def test_move_cash_of_int256_min_is_rejected_not_wrapped(
    vault, vault_module, alice_account, bob_account
):
    """-type(int256).min has no int256: checked arithmetic panics (not an amount any module uses)."""
    with brownie.reverts("Integer overflow"):
        vault.moveCash(alice_account, bob_account, -(2**255), {"from": vault_module})
