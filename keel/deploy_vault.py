"""Deploying the Keel Vault and listing collateral: shared by tests, the demo and scripts.

Defaults follow SPEC §2: USDC h0 1%, WETH/WBTC h0 5%, h_max 25%, sigma_ref 80%.
All haircuts and vols are wad (1e18 = 100%); caps are in the token's own units.
"""

from __future__ import annotations

from dataclasses import dataclass

WAD = 10**18
UINT128_MAX = 2**128 - 1

RIGHT_TRADE = 1
RIGHT_WITHDRAW = 2

DEFAULT_MAX_HAIRCUT = WAD // 4  # h_max 25%
DEFAULT_REF_VOL = WAD * 8 // 10  # sigma_ref 80%
DEFAULT_STABLE_HAIRCUT = WAD // 100  # USDC h0 1%
DEFAULT_VOLATILE_HAIRCUT = WAD // 20  # WETH / WBTC h0 5%


@dataclass(frozen=True)
class AssetConfig:
    """Python mirror of IVault.AssetConfig (field order = the Solidity struct)."""

    price_feed: int = 0  # oracle feed pricing the token (0: fixed $1)   [feedId]
    linked_underlying: int = 0  # underlying moving the token (0: none)  [feedId]
    base_haircut: int = DEFAULT_STABLE_HAIRCUT  # h0                     [wad]
    max_haircut: int = DEFAULT_MAX_HAIRCUT  # h_max                      [wad]
    ref_vol: int = DEFAULT_REF_VOL  # sigma_ref                          [wad]
    cap: int = UINT128_MAX  # max total deposits                         [token units]
    enabled: bool = True  # deposits allowed

    def as_tuple(self) -> tuple:
        return (
            self.price_feed,
            self.linked_underlying,
            self.base_haircut,
            self.max_haircut,
            self.ref_vol,
            self.cap,
            self.enabled,
        )


def volatile_config(feed_id: int, **overrides) -> AssetConfig:
    """Config of a token priced by, and moving with, underlying `feed_id` (WETH -> ETH)."""
    fields = {
        "price_feed": feed_id,
        "linked_underlying": feed_id,
        "base_haircut": DEFAULT_VOLATILE_HAIRCUT,
    }
    fields.update(overrides)
    return AssetConfig(**fields)


def deploy_vault(
    deployer,
    oracle,
    settlement_token,
    *,
    base_haircut: int = DEFAULT_STABLE_HAIRCUT,
    cap: int = UINT128_MAX,
    enabled: bool = True,
    modules=(),
    margin_hook=None,
):
    """Deploy a Vault owned by `deployer`, with `settlement_token` as cash (fixed $1, haircut h0).

    Optionally authorises `modules` and sets `margin_hook`. Returns the brownie contract.
    """
    settlement = AssetConfig(
        base_haircut=base_haircut, max_haircut=base_haircut, cap=cap, enabled=enabled
    )
    from keel.chain import project

    vault = project().Vault.deploy(
        oracle, settlement_token, settlement.as_tuple(), {"from": deployer}
    )
    for module in modules:
        vault.setModule(module, True, {"from": deployer})
    if margin_hook is not None:
        vault.setMarginHook(margin_hook, {"from": deployer})
    return vault


def list_asset(vault, token, config: AssetConfig | None = None, *, sender=None, **fields):
    """List `token` on `vault` with `config` (or AssetConfig(**fields)); sender defaults to the owner."""
    if config is None:
        config = AssetConfig(**fields)
    elif fields:
        config = AssetConfig(**{**config.__dict__, **fields})
    return vault.listAsset(token, config.as_tuple(), {"from": sender or vault.owner()})
