"""A whole Keel deployment on one chain: Oracle, Vault and collateral tokens with SPEC defaults.

Shared by the demo, the benchmarks and `scripts/deploy.py`, so that all of them build the same
system. Feed ids: 1 = BTC, 2 = ETH (docs/DESIGN.md). Test tokens are `MockERC20`s that anyone can
mint: only for local chains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from keel.deploy_oracle import deploy_oracle
from keel.deploy_vault import AssetConfig, deploy_vault, list_asset, volatile_config

WAD = 10**18
BTC, ETH = 1, 2
FEED_NAMES = {BTC: "BTC", ETH: "ETH"}

# Acceptance bounds per feed: (minPrice, maxPrice [wad USD], maxVol [wad]). Wide enough for the
# whole 2016-2019 history (ETH traded below $1 in early 2016) and for simulated crashes.
FEED_BOUNDS = {
    BTC: (10 * WAD, 10_000_000 * WAD, 10 * WAD),
    ETH: (WAD // 10, 1_000_000 * WAD, 10 * WAD),
}


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    decimals: int
    feed: int  # price feed and linked underlying (0: the settlement stable)    [feedId]


SETTLEMENT = TokenSpec("USDC", 6, 0)
COLLATERAL = (TokenSpec("WETH", 18, ETH), TokenSpec("WBTC", 8, BTC))


@dataclass
class System:
    """Deployed contracts of one Keel system, by role."""

    deployer: object
    oracle: object
    vault: object
    tokens: dict[str, object] = field(default_factory=dict)  # symbol -> token contract
    quorum: int = 3

    @property
    def usdc(self):
        return self.tokens[SETTLEMENT.symbol]

    def token_units(self, symbol: str, amount) -> int:
        """Whole-token `amount` (int, str or Decimal) -> the token's own units."""
        spec = next(t for t in (SETTLEMENT, *COLLATERAL) if t.symbol == symbol)
        return int(Decimal(str(amount)) * 10**spec.decimals)

    def addresses(self) -> dict[str, str]:
        out = {"oracle": self.oracle.address, "vault": self.vault.address}
        out.update({sym: tok.address for sym, tok in self.tokens.items()})
        return out


def deploy_test_tokens(deployer) -> dict[str, object]:
    """Mintable USDC (6 decimals), WETH (18) and WBTC (8) for local chains."""
    from keel.chain import project

    mock = project().MockERC20
    return {
        spec.symbol: mock.deploy(
            f"Test {spec.symbol}", spec.symbol, spec.decimals, {"from": deployer}
        )
        for spec in (SETTLEMENT, *COLLATERAL)
    }


def deploy_system(
    deployer,
    signer_addresses: Sequence[str],
    *,
    quorum: int = 3,
    tokens: Mapping[str, object] | None = None,
) -> System:
    """Deploy Oracle (feeds BTC and ETH) and Vault (USDC settlement; WETH, WBTC collateral).

    `tokens` maps symbols to existing token contracts (a live network); test tokens otherwise.
    Haircuts and caps are SPEC §2 defaults (`keel.deploy_vault`).
    """
    tokens = dict(tokens) if tokens is not None else deploy_test_tokens(deployer)
    oracle = deploy_oracle(deployer, signer_addresses, quorum, FEED_BOUNDS)
    vault = deploy_vault(deployer, oracle, tokens[SETTLEMENT.symbol])
    for spec in COLLATERAL:
        list_asset(vault, tokens[spec.symbol], volatile_config(spec.feed), sender=deployer)
    return System(deployer, oracle, vault, tokens, quorum)


def open_funded_account(system: System, owner, deposits: Mapping[str, object]) -> int:
    """Open an account for `owner`, mint it test tokens and deposit them ({symbol: whole tokens})."""
    tx = {"from": owner}
    account_id = system.vault.openAccount(tx).return_value
    for symbol, amount in deposits.items():
        units = system.token_units(symbol, amount)
        token = system.tokens[symbol]
        token.mint(owner, units, tx)
        token.approve(system.vault, units, tx)
        system.vault.deposit(account_id, token, units, tx)
    return account_id


__all__ = [
    "AssetConfig",
    "BTC",
    "COLLATERAL",
    "ETH",
    "FEED_BOUNDS",
    "FEED_NAMES",
    "SETTLEMENT",
    "System",
    "WAD",
    "deploy_system",
    "deploy_test_tokens",
    "open_funded_account",
]
