"""Haircuts and valuation (SPEC §2): h = min(h_max, h0 * max(1, vol / ref)); values rounded down,
haircuts rounded up; stale feeds revert `StalePrice`."""

import brownie
import pytest
from brownie import MockERC20, chain

from keel.deploy_vault import WAD, AssetConfig, list_asset, volatile_config
from tests.fixtures.vault import BTC, BTC_PRICE, ETH, ETH_PRICE, fund, set_feed
from tests.unit.vault.helpers import plain, reverts

H0 = WAD // 20  # volatile default
HMAX = WAD // 4
REF = 8 * WAD // 10


def ceil_div(a, b):
    return -(-a // b)


@pytest.mark.parametrize(
    "vol,expected",
    [
        (WAD // 10, H0),  # calm market: h0
        (REF, H0),  # at the reference vol: h0
        (16 * WAD // 10, 2 * H0),  # twice the reference: 2 h0
        (REF + 1, ceil_div(H0 * (REF + 1), REF)),  # rounded up
        (8 * WAD, HMAX),  # capped at h_max
    ],
)
def test_dynamic_haircut(vault, weth, vault_oracle, vol, expected):
    set_feed(vault_oracle, ETH, ETH_PRICE, vol)
    assert vault.haircut(weth) == expected


def test_stable_haircut_ignores_vol(vault, usdc, vault_oracle):
    set_feed(vault_oracle, ETH, ETH_PRICE, 5 * WAD)
    assert vault.haircut(usdc) == WAD // 100


def test_haircut_of_unknown_asset_reverts(vault, deployer):
    t = MockERC20.deploy("X", "X", 18, {"from": deployer})
    with reverts("UnknownAsset", t.address):
        vault.haircut(t)


def test_valuation_of_cash_and_collateral(
    vault, usdc, weth, wbtc, vault_oracle, alice, alice_account
):
    set_feed(vault_oracle, ETH, ETH_PRICE + 1, 16 * WAD // 10)  # h = 10%
    fund(usdc, alice, vault, 1_000 * 10**6)
    fund(weth, alice, vault, 3 * WAD + 7)
    fund(wbtc, alice, vault, 2 * 10**8 + 3)
    vault.deposit(alice_account, usdc, 1_000 * 10**6, {"from": alice})
    vault.deposit(alice_account, wbtc, 2 * 10**8 + 3, {"from": alice})
    vault.deposit(alice_account, weth, 3 * WAD + 7, {"from": alice})
    cash, coll, cash_haircut = plain(vault.valuation(alice_account))
    assert cash == 1_000 * WAD
    assert cash_haircut == 10 * WAD
    weth_value = (3 * WAD + 7) * (ETH_PRICE + 1) // WAD
    btc_value = (2 * 10**8 + 3) * BTC_PRICE // 10**8
    # ordered by listing index: weth before wbtc (weth fixture is listed first)
    by_token = {c[0]: c for c in coll}
    assert by_token[weth.address] == (
        weth.address,
        3 * WAD + 7,
        ETH,
        ETH_PRICE + 1,
        weth_value,
        ceil_div(weth_value, 10),
    )
    assert by_token[wbtc.address] == (
        wbtc.address,
        2 * 10**8 + 3,
        BTC,
        BTC_PRICE,
        btc_value,
        ceil_div(btc_value * H0, WAD),
    )
    assert [c[0] for c in coll] == list(vault.accountAssets(alice_account))


def test_negative_cash_has_no_haircut(vault, vault_module, alice_account, bob_account):
    vault.moveCash(alice_account, bob_account, 5 * WAD, {"from": vault_module})
    assert plain(vault.valuation(alice_account)) == (-5 * WAD, (), 0)


def test_cash_haircut_rounds_up(vault, vault_module, alice_account):
    vault.adjustCash(alice_account, 101, {"from": vault_module})
    assert vault.valuation(alice_account)[2] == 2  # 1% of 101 wei = 1.01 -> 2


def test_fixed_price_collateral_needs_no_feed(vault, deployer, vault_oracle, alice, alice_account):
    dai = MockERC20.deploy("Dai", "DAI", 18, {"from": deployer})
    list_asset(vault, dai, AssetConfig(base_haircut=WAD // 50))
    fund(dai, alice, vault, 10 * WAD)
    vault.deposit(alice_account, dai, 10 * WAD, {"from": alice})
    chain.sleep(7200)
    chain.mine()
    assert plain(vault.valuation(alice_account)[1]) == (
        (dai.address, 10 * WAD, 0, WAD, 10 * WAD, WAD // 5),
    )


def test_valuation_reverts_when_price_feed_is_stale(
    vault, weth, vault_oracle, alice, alice_account
):
    fund(weth, alice, vault, WAD)
    vault.deposit(alice_account, weth, WAD, {"from": alice})
    observed = vault_oracle.feed(ETH)[2]
    chain.sleep(vault_oracle.heartbeat() + 60)
    chain.mine()
    with brownie.reverts(revert_pattern=rf"StalePrice: {ETH}, {observed}, \d+"):
        vault.valuation(alice_account)
    set_feed(vault_oracle, ETH, ETH_PRICE, 8 * WAD // 10)
    assert plain(vault.valuation(alice_account)[1][0])[4] == ETH_PRICE


def test_valuation_reverts_when_linked_vol_feed_is_stale(
    vault, deployer, vault_oracle, alice, alice_account
):
    """Priced by a fresh feed 3, linked to ETH whose report is old: the haircut needs ETH's vol."""
    t = MockERC20.deploy("Staked ETH", "SETH", 18, {"from": deployer})
    list_asset(vault, t, volatile_config(3, linked_underlying=ETH))
    fund(t, alice, vault, WAD)
    vault.deposit(alice_account, t, WAD, {"from": alice})
    observed = vault_oracle.feed(ETH)[2]
    chain.sleep(vault_oracle.heartbeat() + 60)
    chain.mine()
    set_feed(vault_oracle, 3, ETH_PRICE, WAD // 10)
    with brownie.reverts(revert_pattern=rf"StalePrice: {ETH}, {observed}, \d+"):
        vault.valuation(alice_account)
    set_feed(vault_oracle, ETH, ETH_PRICE, 16 * WAD // 10)  # fresh again: 2 h0 from ETH's vol
    value = plain(vault.valuation(alice_account)[1][0])
    assert value[3:] == (ETH_PRICE, ETH_PRICE, ceil_div(ETH_PRICE * 2 * H0, WAD))


def test_haircut_view_does_not_require_fresh_feeds(vault, weth, vault_oracle):
    set_feed(vault_oracle, ETH, ETH_PRICE, 16 * WAD // 10)
    chain.sleep(vault_oracle.heartbeat() + 60)
    chain.mine()
    assert vault_oracle.isStale(ETH)
    assert vault.haircut(weth) == 2 * H0


def test_valuation_of_unknown_or_empty_account(vault):
    assert plain(vault.valuation(77)) == (0, (), 0)
    assert vault.accountAssets(77) == ()
