"""Rounding against the account (SPEC §1) at the 2- and 24-decimal edges, and values at type limits."""

import pytest
from brownie import MockERC20

from keel.deploy_vault import UINT128_MAX, WAD, deploy_vault, list_asset, volatile_config
from tests.fixtures.vault import ETH, fund, set_feed
from tests.unit.vault.helpers import plain, reverts

H0 = WAD // 20


def ceil_div(a, b):
    return -(-a // b)


def listed(vault, deployer, dec):
    t = MockERC20.deploy(f"D{dec}", f"D{dec}", dec, {"from": deployer})
    list_asset(vault, t, volatile_config(ETH))
    return t


@pytest.mark.parametrize(
    "dec,amount,price",
    [
        (2, 1, WAD + 1),  # 0.01 token at just over $1: value 1e16 + 0.01 -> 1e16
        (2, 3, 333_333_333_333_333_333),  # 0.03 at $0.333...: 9_999_999_999_999_999.99 -> down
        (24, 1, 3_000 * WAD),  # 1e-24 token at $3000: 3e-21 USD -> 0
        (24, 10**6 + 1, 3_000 * WAD),  # 3000.003 wei -> 3000
        (24, 333, WAD + 1),  # sub-wei value -> 0
        (6, 1, 1),  # one micro-unit at 1e-18 USD -> 0
    ],
)
def test_collateral_value_rounds_down_and_haircut_up(
    vault, deployer, vault_oracle, alice, alice_account, dec, amount, price
):
    t = listed(vault, deployer, dec)
    set_feed(vault_oracle, ETH, price, 8 * WAD // 10)
    fund(t, alice, vault, amount)
    vault.deposit(alice_account, t, amount, {"from": alice})
    (_, _, _, p, value, haircut) = plain(vault.valuation(alice_account)[1][0])
    assert p == price
    assert value == amount * price // 10**dec
    assert value * 10**dec <= amount * price  # never more than owned
    assert haircut == ceil_div(value * H0, WAD)
    assert haircut * WAD >= value * H0  # never less than owed


def test_haircut_of_one_wei_of_value_is_one_wei(
    vault, deployer, vault_oracle, alice, alice_account
):
    t = listed(vault, deployer, 24)
    set_feed(vault_oracle, ETH, WAD, 8 * WAD // 10)
    fund(t, alice, vault, 10**6)  # 1e-18 token at $1 = 1 wei of USD
    vault.deposit(alice_account, t, 10**6, {"from": alice})
    assert plain(vault.valuation(alice_account)[1][0])[4:] == (1, 1)


def test_value_at_type_limits(vault, deployer, vault_oracle, alice, alice_account):
    """uint128 max of a 24-decimal token at the largest uint128 price: no overflow, exact floor."""
    t = listed(vault, deployer, 24)
    price = UINT128_MAX
    set_feed(vault_oracle, ETH, price, 2**64 - 1)  # vol at uint64 max: haircut capped at h_max
    fund(t, alice, vault, UINT128_MAX)
    vault.deposit(alice_account, t, UINT128_MAX, {"from": alice})
    (_, amount, _, _, value, haircut) = plain(vault.valuation(alice_account)[1][0])
    assert amount == UINT128_MAX
    assert value == UINT128_MAX * price // 10**24
    assert haircut == ceil_div(value * (WAD // 4), WAD)
    assert vault.haircut(t) == WAD // 4


def test_value_at_type_limits_of_a_2_decimal_token(
    vault, deployer, vault_oracle, alice, alice_account
):
    t = listed(vault, deployer, 2)
    set_feed(vault_oracle, ETH, UINT128_MAX, 8 * WAD // 10)
    fund(t, alice, vault, UINT128_MAX)
    vault.deposit(alice_account, t, UINT128_MAX, {"from": alice})
    value = plain(vault.valuation(alice_account)[1][0])[4]
    assert value == UINT128_MAX * UINT128_MAX // 100


@pytest.fixture
def cents(deployer, vault_oracle, vault_module):
    """A vault whose settlement asset has 2 decimals: 1 unit = 1e16 wad of cash."""
    usd2 = MockERC20.deploy("Cents", "USD2", 2, {"from": deployer})
    return deploy_vault(deployer, vault_oracle, usd2, modules=[vault_module]), usd2


def test_two_decimal_settlement_converts_exactly(cents, alice):
    vault, usd2 = cents
    acct = vault.openAccount({"from": alice}).return_value
    fund(usd2, alice, vault, 12_345)
    vault.deposit(acct, usd2, 12_345, {"from": alice})
    assert vault.cashOf(acct) == 12_345 * 10**16
    vault.withdraw(acct, usd2, 12_345, alice, {"from": alice})
    assert vault.cashOf(acct) == 0


def test_two_decimal_settlement_withdrawal_needs_whole_units_of_cash(cents, vault_module, alice):
    """Cash of 1e16 - 1 wad cannot take out one cent: the withdrawal rounds against the account."""
    vault, usd2 = cents
    acct = vault.openAccount({"from": alice}).return_value
    other = vault.openAccount({"from": alice}).return_value
    fund(usd2, alice, vault, 1)
    vault.deposit(acct, usd2, 1, {"from": alice})
    vault.moveCash(acct, other, 1, {"from": vault_module})
    with reverts("InsufficientCash", acct, 10**16 - 1, 10**16):
        vault.withdraw(acct, usd2, 1, alice, {"from": alice})


def test_deposit_after_socialisation_rounds_principal_down(cents, vault_module, alice, bob):
    vault, usd2 = cents
    a = vault.openAccount({"from": alice}).return_value
    b = vault.openAccount({"from": bob}).return_value
    fund(usd2, alice, vault, 300)
    vault.deposit(a, usd2, 300, {"from": alice})  # 3e18 cash
    vault.socialiseLoss(1, {"from": vault_module})  # index 1e18 - ceil(1e18 / 3e18) = 1e18 - 1
    index = vault.cashIndex()
    assert index == WAD - 1
    fund(usd2, bob, vault, 1)
    vault.deposit(b, usd2, 1, {"from": bob})  # 1e16 cash -> principal floor(1e16 * 1e18 / index)
    principal = 10**16 * WAD // index
    assert vault.cashPrincipal(b) == principal
    assert vault.cashOf(b) == principal * index // WAD
    assert vault.cashOf(b) == 10**16 - 1  # both conversions rounded down
    # so withdrawing the cent back is refused: the account holds a hair less than 1e16
    with reverts("InsufficientCash", b, 10**16 - 1, 10**16):
        vault.withdraw(b, usd2, 1, bob, {"from": bob})


def test_withdraw_after_socialisation_consumes_principal_rounded_up(
    vault, usdc, vault_module, alice
):
    a = vault.openAccount({"from": alice}).return_value
    fund(usdc, alice, vault, 300 * 10**6)
    vault.deposit(a, usdc, 300 * 10**6, {"from": alice})
    vault.socialiseLoss(7, {"from": vault_module})
    index = vault.cashIndex()
    p = vault.cashPrincipal(a)
    vault.withdraw(a, usdc, 10**6, alice, {"from": alice})
    assert vault.cashPrincipal(a) == p - ceil_div(WAD * WAD, index)
    assert vault.totalCashPrincipal() == p - ceil_div(WAD * WAD, index)
