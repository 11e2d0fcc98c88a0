"""Governance (Ownable2Step): listing, configuration bounds, modules and the margin hook."""

import pytest
from brownie import ZERO_ADDRESS, MockERC20, Vault

from keel.deploy_vault import (
    UINT128_MAX,
    WAD,
    AssetConfig,
    deploy_vault,
    list_asset,
    volatile_config,
)
from tests.fixtures.vault import ETH
from tests.unit.vault.helpers import plain, reverts


@pytest.fixture
def new_token(deployer):
    return MockERC20.deploy("New", "NEW", 18, {"from": deployer})


def test_constructor_lists_the_settlement_asset(vault, usdc, vault_oracle, deployer):
    assert vault.owner() == deployer
    assert vault.settlementAsset() == usdc
    assert vault.oracle() == vault_oracle
    assert vault.listedAssets() == [usdc]
    assert vault.assetDecimals(usdc) == 6
    assert vault.cashIndex() == WAD
    assert plain(vault.assetConfig(usdc)) == (
        0,
        0,
        WAD // 100,
        WAD // 100,
        8 * WAD // 10,
        UINT128_MAX,
        True,
    )
    assert vault.haircut(usdc) == WAD // 100


def test_constructor_rejects_settlement_above_18_decimals(deployer, vault_oracle):
    t = MockERC20.deploy("Big", "BIG", 24, {"from": deployer})
    with reverts("DecimalsOutOfBounds", t.address, 24, 18):
        deploy_vault(deployer, vault_oracle, t)


def test_constructor_rejects_priced_settlement_asset(deployer, vault_oracle, usdc):
    with reverts("SettlementAssetNotFixed", ETH, 0):
        Vault.deploy(vault_oracle, usdc, AssetConfig(price_feed=ETH).as_tuple(), {"from": deployer})


def test_constructor_rejects_zero_addresses(deployer, vault_oracle, usdc):
    with reverts("ZeroAddress"):
        Vault.deploy(ZERO_ADDRESS, usdc, AssetConfig().as_tuple(), {"from": deployer})
    with reverts("ZeroAddress"):
        Vault.deploy(vault_oracle, ZERO_ADDRESS, AssetConfig().as_tuple(), {"from": deployer})


def test_list_asset_stores_config_and_emits(vault, new_token, usdc):
    cfg = volatile_config(ETH, cap=10**24)
    tx = list_asset(vault, new_token, cfg)
    assert tx.events["AssetListed"] == {"token": new_token, "index": 1, "decimals": 18}
    assert tx.events["AssetConfigSet"] == {
        "token": new_token,
        "priceFeed": ETH,
        "linkedUnderlying": ETH,
        "baseHaircut": WAD // 20,
        "maxHaircut": WAD // 4,
        "refVol": 8 * WAD // 10,
        "cap": 10**24,
        "enabled": True,
    }
    assert plain(vault.assetConfig(new_token)) == cfg.as_tuple()
    assert vault.listedAssets() == [usdc, new_token]
    assert vault.assetDecimals(new_token) == 18


def test_list_asset_is_governance_only(vault, new_token, mallory):
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        list_asset(vault, new_token, AssetConfig(), sender=mallory)


def test_list_asset_twice_reverts(vault, new_token, usdc):
    list_asset(vault, new_token, AssetConfig())
    with reverts("AssetAlreadyListed", new_token.address):
        list_asset(vault, new_token, AssetConfig())
    with reverts("AssetAlreadyListed", usdc.address):
        list_asset(vault, usdc, AssetConfig())


def test_list_zero_address_reverts(vault):
    with reverts("ZeroAddress"):
        list_asset(vault, ZERO_ADDRESS, AssetConfig())


@pytest.mark.parametrize("dec", [0, 36])
def test_list_accepts_decimals_up_to_36(vault, deployer, dec):
    t = MockERC20.deploy("D", "D", dec, {"from": deployer})
    list_asset(vault, t, AssetConfig())
    assert vault.assetDecimals(t) == dec


def test_list_rejects_37_decimals(vault, deployer):
    t = MockERC20.deploy("D", "D", 37, {"from": deployer})
    with reverts("DecimalsOutOfBounds", t.address, 37, 36):
        list_asset(vault, t, AssetConfig())


def test_at_most_96_assets(vault, deployer):
    """The held-asset bitmap has 96 bits (it shares a slot with the owner): settlement + 95."""
    for _ in range(95):
        t = MockERC20.deploy("T", "T", 18, {"from": deployer})
        list_asset(vault, t, AssetConfig())
    assert len(vault.listedAssets()) == 96
    t = MockERC20.deploy("T", "T", 18, {"from": deployer})
    with reverts("TooManyAssets", 96):
        list_asset(vault, t, AssetConfig())


BAD_CONFIGS = [
    # h0 above h_max: the dynamic haircut would start above its own ceiling
    (dict(base_haircut=WAD // 4 + 1), ("HaircutOutOfBounds", WAD // 4 + 1, WAD // 4, WAD)),
    # h_max of 100%: collateral worth nothing (disable the asset instead)
    (dict(max_haircut=WAD), ("HaircutOutOfBounds", WAD // 100, WAD, WAD)),
    (dict(ref_vol=5 * 10**16 - 1), ("RefVolOutOfBounds", 5 * 10**16 - 1, 5 * 10**16, 5 * WAD)),
    (dict(ref_vol=5 * WAD + 1), ("RefVolOutOfBounds", 5 * WAD + 1, 5 * 10**16, 5 * WAD)),
    (dict(price_feed=2**16), ("FeedIdOutOfBounds", 2**16, 2**16 - 1)),
    (dict(price_feed=1, linked_underlying=2**16), ("FeedIdOutOfBounds", 2**16, 2**16 - 1)),
]


@pytest.mark.parametrize("fields,error", BAD_CONFIGS)
def test_list_asset_checks_bounds(vault, new_token, fields, error):
    with reverts(*error):
        list_asset(vault, new_token, AssetConfig(**fields))


@pytest.mark.parametrize("fields,error", BAD_CONFIGS)
def test_set_asset_config_checks_bounds(vault, weth, fields, error):
    with reverts(*error):
        vault.setAssetConfig(weth, AssetConfig(**fields).as_tuple(), {"from": vault.owner()})


def test_linked_asset_needs_a_price_feed(vault, new_token):
    with reverts("LinkedAssetNeedsPriceFeed", new_token.address, ETH):
        list_asset(vault, new_token, AssetConfig(linked_underlying=ETH))


def test_bounds_are_inclusive_at_their_edges(vault, new_token):
    cfg = AssetConfig(
        price_feed=2**16 - 1,
        linked_underlying=2**16 - 1,
        base_haircut=WAD - 1,
        max_haircut=WAD - 1,
        ref_vol=5 * 10**16,
        cap=UINT128_MAX,
    )
    list_asset(vault, new_token, cfg)
    assert plain(vault.assetConfig(new_token)) == cfg.as_tuple()
    cfg = AssetConfig(base_haircut=0, max_haircut=0, ref_vol=5 * WAD, cap=0)
    vault.setAssetConfig(new_token, cfg.as_tuple(), {"from": vault.owner()})
    assert plain(vault.assetConfig(new_token)) == cfg.as_tuple()


def test_set_asset_config_updates_and_emits(vault, weth, deployer):
    cfg = volatile_config(ETH, base_haircut=WAD // 10, cap=5, enabled=False)
    tx = vault.setAssetConfig(weth, cfg.as_tuple(), {"from": deployer})
    assert tx.events["AssetConfigSet"]["baseHaircut"] == WAD // 10
    assert tx.events["AssetConfigSet"]["enabled"] is False
    assert plain(vault.assetConfig(weth)) == cfg.as_tuple()


def test_settlement_config_stays_fixed(vault, usdc, deployer):
    with reverts("SettlementAssetNotFixed", 0, ETH):
        vault.setAssetConfig(
            usdc, AssetConfig(linked_underlying=ETH).as_tuple(), {"from": deployer}
        )
    vault.setAssetConfig(usdc, AssetConfig(base_haircut=WAD // 50).as_tuple(), {"from": deployer})
    assert vault.haircut(usdc) == WAD // 50


def test_set_asset_config_rejects_unknown_asset_and_strangers(vault, weth, new_token, mallory):
    with reverts("UnknownAsset", new_token.address):
        vault.setAssetConfig(new_token, AssetConfig().as_tuple(), {"from": vault.owner()})
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        vault.setAssetConfig(weth, AssetConfig().as_tuple(), {"from": mallory})


def test_set_module_and_events(vault, deployer, carol, mallory):
    tx = vault.setModule(carol, True, {"from": deployer})
    assert tx.events["ModuleSet"] == {"module": carol, "authorised": True}
    assert vault.isModule(carol)
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        vault.setModule(mallory, True, {"from": mallory})
    with reverts("ZeroAddress"):
        vault.setModule(ZERO_ADDRESS, True, {"from": deployer})


def test_set_margin_hook_and_events(vault, deployer, mock_hook, mallory):
    tx = vault.setMarginHook(mock_hook, {"from": deployer})
    assert tx.events["MarginHookSet"] == {"hook": mock_hook}
    assert vault.marginHook() == mock_hook
    vault.setMarginHook(ZERO_ADDRESS, {"from": deployer})
    assert vault.marginHook() == ZERO_ADDRESS
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        vault.setMarginHook(mallory, {"from": mallory})


def test_governance_transfer_is_two_step(vault, deployer, carol, mallory):
    vault.transferOwnership(carol, {"from": deployer})
    assert vault.owner() == deployer
    assert vault.pendingOwner() == carol
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        vault.acceptOwnership({"from": mallory})
    vault.acceptOwnership({"from": carol})
    assert vault.owner() == carol
    with reverts("OwnableUnauthorizedAccount", deployer.address):
        vault.setModule(deployer, True, {"from": deployer})
