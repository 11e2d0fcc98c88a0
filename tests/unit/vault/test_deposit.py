"""Deposits (SPEC §2): into an existing account, up to the cap, no fee-on-transfer; cash by
anyone, other collateral only by the owner or a trade operator (attack 12).

Every test taking `token` runs once per token kind (2, 6, 8, 18, 24 decimals and no-return).
"""

from brownie import MockERC20

from keel.deploy_vault import (
    RIGHT_TRADE,
    RIGHT_WITHDRAW,
    UINT128_MAX,
    WAD,
    AssetConfig,
    list_asset,
    volatile_config,
)
from tests.fixtures.vault import ETH, fund
from tests.unit.vault.helpers import reverts


def units(token, whole):
    return whole * 10 ** token.decimals()


def test_deposit_credits_collateral_and_emits(vault, token, alice, alice_account):
    amount = units(token, 123)
    fund(token, alice, vault, amount)
    tx = vault.deposit(alice_account, token, amount, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == amount
    assert token.balanceOf(vault) == amount
    assert token.balanceOf(alice) == 0
    assert vault.totalDeposits(token) == amount
    assert vault.accountAssets(alice_account) == [token]
    assert vault.cashOf(alice_account) == 0
    assert tx.events["Deposited"] == {
        "accountId": alice_account,
        "token": token,
        "from": alice,
        "amount": amount,
    }


def test_repeat_deposit_accumulates(vault, token, alice, alice_account):
    fund(token, alice, vault, 5)
    vault.deposit(alice_account, token, 2, {"from": alice})
    vault.deposit(alice_account, token, 3, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == 5
    assert vault.totalDeposits(token) == 5
    assert vault.accountAssets(alice_account) == [token]


def test_attack_12_third_party_linked_collateral(vault, token, alice, alice_account, mallory):
    """Attack 12: anyone could deposit any token into any account. Collateral linked to an
    underlying brings that underlying's ρ into the account's correlation rule (its PSD repair, or
    above 4 underlyings no credit), so 1 wei of WETH from a stranger raised a healthy BTC/ETH-style
    hedge's MM from $4,857 to $7,977 and the stranger started its auction (engine-level figures:
    tests/unit/engine/test_correlation_rule.py). Collateral that moves with an underlying changes
    the account's risk: only its owner or an operator with the trade right adds it. Nothing moves."""
    fund(token, mallory, vault, 1)
    with reverts("NotAuthorised", alice_account, mallory, RIGHT_TRADE):
        vault.deposit(alice_account, token, 1, {"from": mallory})
    assert vault.collateralBalance(alice_account, token) == 0
    assert vault.accountAssets(alice_account) == []
    assert token.balanceOf(mallory) == 1 and vault.totalDeposits(token) == 0
    # a withdraw-only operator may not either; a trade operator may, and so may the owner
    vault.setOperator(alice_account, mallory, RIGHT_WITHDRAW, {"from": alice})
    with reverts("NotAuthorised", alice_account, mallory, RIGHT_TRADE):
        vault.deposit(alice_account, token, 1, {"from": mallory})
    vault.setOperator(alice_account, mallory, RIGHT_TRADE, {"from": alice})
    vault.deposit(alice_account, token, 1, {"from": mallory})
    fund(token, alice, vault, 2)
    vault.deposit(alice_account, token, 2, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == 3


def test_transfer_voids_the_old_owners_deposit_rights(
    vault, token, alice, bob, carol, alice_account
):
    """Attack 12, reordered: the right to add collateral is keyed by the account's current owner.
    After transferAccount neither the old owner nor the trade operator it named may add linked
    collateral (it would move the new owner's margin); the new owner may, and its own operator."""
    vault.setOperator(alice_account, carol, RIGHT_TRADE, {"from": alice})
    vault.transferAccount(alice_account, bob, {"from": alice})
    for old in (alice, carol):
        fund(token, old, vault, 1)
        with reverts("NotAuthorised", alice_account, old.address, RIGHT_TRADE):
            vault.deposit(alice_account, token, 1, {"from": old})
        assert token.balanceOf(old) == 1
    assert vault.collateralBalance(alice_account, token) == 0
    assert vault.accountAssets(alice_account) == []
    fund(token, bob, vault, 2)
    vault.deposit(alice_account, token, 2, {"from": bob})
    vault.setOperator(alice_account, carol, RIGHT_TRADE, {"from": bob})
    vault.deposit(alice_account, token, 1, {"from": carol})
    assert vault.collateralBalance(alice_account, token) == 3


def test_anyone_may_deposit_cash_but_no_other_collateral(
    vault, usdc, deployer, alice_account, mallory
):
    """Cash adds equity and no scenario exposure: anyone may deposit it into any account (a friend
    topping up a margin call). Collateral linked to no underlying still takes one of the
    account's asset slots and, when priced, makes its margin need that feed (a stranger could
    fill the slots or tie the account to a feed it never chose): owner or trade operator only."""
    fund(usdc, mallory, vault, 7)
    vault.deposit(alice_account, usdc, 7, {"from": mallory})
    assert vault.cashOf(alice_account) == 7 * 10**12
    stable = MockERC20.deploy("Stable", "STB", 18, {"from": deployer})
    list_asset(vault, stable, AssetConfig())  # fixed $1, linked to none
    fund(stable, mallory, vault, 5)
    with reverts("NotAuthorised", alice_account, mallory, RIGHT_TRADE):
        vault.deposit(alice_account, stable, 5, {"from": mallory})
    assert vault.collateralBalance(alice_account, stable) == 0
    assert stable.balanceOf(mallory) == 5 and vault.accountAssets(alice_account) == []


def test_settlement_deposit_credits_cash_in_wad(vault, usdc, alice, alice_account):
    fund(usdc, alice, vault, 100 * 10**6 + 1)
    tx = vault.deposit(alice_account, usdc, 100 * 10**6 + 1, {"from": alice})
    assert vault.cashOf(alice_account) == 100 * WAD + 10**12
    assert vault.cashPrincipal(alice_account) == 100 * WAD + 10**12
    assert vault.totalCashPrincipal() == 100 * WAD + 10**12
    assert vault.collateralBalance(alice_account, usdc) == 0
    assert vault.accountAssets(alice_account) == []
    assert vault.totalDeposits(usdc) == 100 * 10**6 + 1
    assert tx.events["Deposited"]["amount"] == 100 * 10**6 + 1


def test_deposit_reverts_on_zero_amount(vault, token, alice, alice_account):
    with reverts("ZeroAmount"):
        vault.deposit(alice_account, token, 0, {"from": alice})


def test_deposit_reverts_for_unknown_account(vault, token, alice):
    fund(token, alice, vault, 1)
    with reverts("UnknownAccount", 42):
        vault.deposit(42, token, 1, {"from": alice})


def test_deposit_reverts_for_unknown_asset(vault, deployer, alice, alice_account):
    other = MockERC20.deploy("Other", "OTH", 18, {"from": deployer})
    fund(other, alice, vault, 1)
    with reverts("UnknownAsset", other.address):
        vault.deposit(alice_account, other, 1, {"from": alice})


def test_deposit_reverts_for_disabled_asset(vault, token, deployer, alice, alice_account):
    vault.setAssetConfig(token, volatile_config(ETH, enabled=False).as_tuple(), {"from": deployer})
    fund(token, alice, vault, 1)
    with reverts("AssetDisabled", token.address):
        vault.deposit(alice_account, token, 1, {"from": alice})


def test_deposit_up_to_cap_then_reverts(vault, token, deployer, alice, alice_account):
    cap = units(token, 10)
    vault.setAssetConfig(token, volatile_config(ETH, cap=cap).as_tuple(), {"from": deployer})
    fund(token, alice, vault, cap + 1)
    vault.deposit(alice_account, token, cap - 1, {"from": alice})
    vault.deposit(alice_account, token, 1, {"from": alice})
    assert vault.totalDeposits(token) == cap
    with reverts("DepositCapExceeded", token.address, 1, cap, cap):
        vault.deposit(alice_account, token, 1, {"from": alice})


def test_cap_counts_all_accounts(vault, token, deployer, alice, bob, alice_account, bob_account):
    vault.setAssetConfig(token, volatile_config(ETH, cap=10).as_tuple(), {"from": deployer})
    fund(token, alice, vault, 6)
    fund(token, bob, vault, 6)
    vault.deposit(alice_account, token, 6, {"from": alice})
    with reverts("DepositCapExceeded", token.address, 6, 6, 10):
        vault.deposit(bob_account, token, 6, {"from": bob})
    vault.deposit(bob_account, token, 4, {"from": bob})


def test_withdrawal_frees_cap(vault, token, deployer, alice, alice_account):
    vault.setAssetConfig(token, volatile_config(ETH, cap=10).as_tuple(), {"from": deployer})
    fund(token, alice, vault, 10)
    vault.deposit(alice_account, token, 10, {"from": alice})
    vault.withdraw(alice_account, token, 4, alice, {"from": alice})
    token.approve(vault, 4, {"from": alice})
    vault.deposit(alice_account, token, 4, {"from": alice})
    assert vault.totalDeposits(token) == 10


def test_zero_cap_blocks_deposits(vault, token, deployer, alice, alice_account):
    vault.setAssetConfig(token, volatile_config(ETH, cap=0).as_tuple(), {"from": deployer})
    fund(token, alice, vault, 1)
    with reverts("DepositCapExceeded", token.address, 1, 0, 0):
        vault.deposit(alice_account, token, 1, {"from": alice})


def test_deposit_of_uint128_max_fills_the_cap(vault, token, alice, alice_account):
    """Values at type limits: the whole uint128 cap in one deposit, then one unit more."""
    fund(token, alice, vault, UINT128_MAX + 1)
    vault.deposit(alice_account, token, UINT128_MAX, {"from": alice})
    assert vault.collateralBalance(alice_account, token) == UINT128_MAX
    assert vault.totalDeposits(token) == UINT128_MAX
    with reverts("DepositCapExceeded", token.address, 1, UINT128_MAX, UINT128_MAX):
        vault.deposit(alice_account, token, 1, {"from": alice})


def test_deposit_of_uint256_max_reports_the_cap_not_an_overflow(vault, token, alice, alice_account):
    amount = 2**256 - 1
    with reverts("DepositCapExceeded", token.address, amount, 0, UINT128_MAX):
        vault.deposit(alice_account, token, amount, {"from": alice})


def test_settlement_deposit_at_uint128_max(vault, usdc, alice, alice_account):
    fund(usdc, alice, vault, UINT128_MAX)
    vault.deposit(alice_account, usdc, UINT128_MAX, {"from": alice})
    assert vault.cashOf(alice_account) == UINT128_MAX * 10**12


def test_deposit_reverts_without_allowance(vault, deployer, alice, alice_account):
    t = MockERC20.deploy("T", "T", 18, {"from": deployer})
    list_asset(vault, t, volatile_config(ETH))
    t.mint(alice, 5, {"from": alice})
    t.approve(vault, 4, {"from": alice})
    with reverts("ERC20InsufficientAllowance", vault.address, 4, 5):
        vault.deposit(alice_account, t, 5, {"from": alice})


def test_ninth_collateral_token_reverts(vault, deployer, alice, alice_account):
    """SPEC §4: at most 8 collateral assets per account (the settlement asset is cash, not one)."""
    tokens = []
    for i in range(9):
        t = MockERC20.deploy(f"T{i}", f"T{i}", 18, {"from": deployer})
        list_asset(vault, t, AssetConfig())
        fund(t, alice, vault, 2)
        tokens.append(t)
    for t in tokens[:8]:
        vault.deposit(alice_account, t, 1, {"from": alice})
    with reverts("TooManyCollateralAssets", alice_account, 8):
        vault.deposit(alice_account, tokens[8], 1, {"from": alice})
    # more of a token already held is fine, and so is cash
    vault.deposit(alice_account, tokens[0], 1, {"from": alice})
    assert vault.accountAssets(alice_account) == tokens[:8]
    # emptying one slot makes room
    vault.withdraw(alice_account, tokens[3], 1, alice, {"from": alice})
    vault.deposit(alice_account, tokens[8], 1, {"from": alice})
    assert set(vault.accountAssets(alice_account)) == {t.address for t in tokens} - {
        tokens[3].address
    }
