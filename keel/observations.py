"""The oracle's signed message (docs/DESIGN.md, "Oracle") and how a signer signs it."""

from __future__ import annotations

from dataclasses import dataclass

from keel.eip712 import Domain, Signature, sign_typed, typed_digest

DOMAIN_NAME = "Keel Oracle"
DOMAIN_VERSION = "1"

OBSERVATION_TYPES = {
    "Observation": [
        {"name": "feedId", "type": "uint256"},
        {"name": "round", "type": "uint256"},
        {"name": "observedAt", "type": "uint256"},
        {"name": "price", "type": "uint256"},
        {"name": "vol", "type": "uint256"},
    ]
}


def oracle_domain(chain_id: int, oracle_address: str) -> Domain:
    return Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, oracle_address)


@dataclass(frozen=True)
class Observation:
    """One signer's view of one feed for one round. Prices and vols in wad."""

    feed_id: int
    round: int
    observed_at: int  # [unix s]
    price: int  # [wad USD]
    vol: int  # [wad]

    def message(self) -> dict:
        return {
            "feedId": self.feed_id,
            "round": self.round,
            "observedAt": self.observed_at,
            "price": self.price,
            "vol": self.vol,
        }

    def digest(self, domain: Domain) -> bytes:
        return typed_digest(domain, OBSERVATION_TYPES, "Observation", self.message())

    def sign(self, private_key: str | bytes, domain: Domain) -> Signature:
        return sign_typed(private_key, domain, OBSERVATION_TYPES, "Observation", self.message())


def report_calldata(feed_id: int, round_: int, observed_at: int, signed: list) -> tuple:
    """ABI tuple for `Oracle.submit`'s `Report` from [(price, vol, Signature), ...]."""
    return (
        feed_id,
        round_,
        observed_at,
        [(price, vol, sig.v, sig.r, sig.s) for price, vol, sig in signed],
    )
