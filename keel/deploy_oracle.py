"""Deploying and feeding the Keel oracle (contracts/Oracle.sol) through brownie.

Shared by the tests, the scripts and the relayer's integration tests, so that every caller builds
the same deployment and the same `Report` calldata (docs/DESIGN.md, "Oracle").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from eth_account import Account

from keel.eip712 import Domain
from keel.observations import (
    NO_VOL_FLOOR,
    CorrelationObservation,
    Observation,
    correlation_calldata,
    oracle_domain,
    report_calldata,
)

# setParam's names (bytes32, right-padded ASCII, as Solidity's `bytes32 x = "heartbeat"`).
PARAMS = (
    "heartbeat",
    "maxFutureDrift",
    "jumpThreshold",
    "coolDown",
    "maxSpread",
    "maxVolSpread",
    "settlementWindow",
    "maxCorrelationSpread",
)


def param_key(name: str) -> bytes:
    """The bytes32 key `setParam` expects for parameter `name`."""
    raw = name.encode()
    if len(raw) > 32:
        raise ValueError(f"parameter name longer than 32 bytes: {name!r}")
    return raw.ljust(32, b"\0")


def deploy_oracle(
    deployer,
    signer_addresses: Sequence[str],
    quorum: int,
    feeds: Mapping[int, tuple[int, int, int]],
    container=None,
):
    """Deploys an Oracle owned by `deployer` with the given signers and quorum, then lists `feeds`
    ({feedId: (minPrice, maxPrice, maxVol)}, all wad). `container` defaults to the loaded
    project's `Oracle` ContractContainer. Returns the deployed contract."""
    if container is None:
        from brownie import Oracle as container  # noqa: N813 - the project's ContractContainer

    oracle = container.deploy(deployer, list(signer_addresses), quorum, {"from": deployer})
    for feed_id, (min_price, max_price, max_vol) in feeds.items():
        oracle.addFeed(feed_id, min_price, max_price, max_vol, {"from": deployer})
    return oracle


def domain_of(oracle) -> Domain:
    """The EIP-712 domain of a deployed oracle on the connected chain."""
    from brownie import chain

    return oracle_domain(chain.id, oracle.address)


def make_report(
    oracle,
    feed_id: int,
    round_: int,
    observed_at: int,
    observations: Iterable[tuple],
    domain: Domain | None = None,
) -> tuple:
    """`Report` calldata for `oracle.submit`: each (private_key, price, vol) or (private_key, price,
    vol, volFloor) signs its Observation (without a floor: NO_VOL_FLOOR, so σ_eff = σ).

    `domain` overrides the oracle's own domain (tests of wrong-chain or wrong-contract signatures).
    """
    domain = domain or domain_of(oracle)
    signed = []
    for key, price, vol, *rest in observations:
        vol_floor = rest[0] if rest else NO_VOL_FLOOR
        obs = Observation(feed_id, round_, observed_at, price, vol, vol_floor)
        signed.append((price, vol, vol_floor, obs.sign(key, domain)))
    return report_calldata(feed_id, round_, observed_at, signed)


def make_correlation_report(
    oracle,
    feed_a: int,
    feed_b: int,
    round_: int,
    observed_at: int,
    observations: Iterable[tuple[str | bytes, int]],
    domain: Domain | None = None,
) -> tuple:
    """`CorrelationReport` calldata for `oracle.submitWithCorrelations`: each (private_key, rho wad)
    signs its Correlation of the pair (feed_a, feed_b) as given (the Oracle wants feed_a < feed_b)."""
    domain = domain or domain_of(oracle)
    signed = [
        (rho, CorrelationObservation(feed_a, feed_b, round_, observed_at, rho).sign(key, domain))
        for key, rho in observations
    ]
    return correlation_calldata(feed_a, feed_b, round_, observed_at, signed)


def address_of(private_key: str | bytes) -> str:
    """The address of a signer key."""
    return Account.from_key(private_key).address
