"""The oracle's signed messages (docs/DESIGN.md, "Oracle") and how a signer signs them.

Two messages, both under the domain ("Keel Oracle", "1", chainId, the Oracle):
- `Observation`: one signer's price, vol and [v2] vol floor σ_floor of one feed for one round
  (SPEC §3; the feed's vol becomes σ_eff = max(median σ, median σ_floor), SPEC §6);
- `Correlation` [v2]: one signer's EWMA correlation ρ of a pair of feeds (feedA < feedB) for one
  round of that pair (SPEC §3 correlation feed).
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.eip712 import Domain, Signature, sign_typed, typed_digest

DOMAIN_NAME = "Keel Oracle"
DOMAIN_VERSION = "1"
# [wad] the least vol floor the Oracle accepts (it is bounded like a vol, > 0): with it σ_eff = σ.
NO_VOL_FLOOR = 1

OBSERVATION_TYPES = {
    "Observation": [
        {"name": "feedId", "type": "uint256"},
        {"name": "round", "type": "uint256"},
        {"name": "observedAt", "type": "uint256"},
        {"name": "price", "type": "uint256"},
        {"name": "vol", "type": "uint256"},
        {"name": "volFloor", "type": "uint256"},
    ]
}

CORRELATION_TYPES = {
    "Correlation": [
        {"name": "feedA", "type": "uint256"},
        {"name": "feedB", "type": "uint256"},
        {"name": "round", "type": "uint256"},
        {"name": "observedAt", "type": "uint256"},
        {"name": "rho", "type": "int256"},
    ]
}


def oracle_domain(chain_id: int, oracle_address: str) -> Domain:
    return Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, oracle_address)


def pair_id(feed_a: int, feed_b: int) -> int:
    """The Oracle's id of the pair feed_a < feed_b: feed_a << 128 | feed_b (>= 2^128, never a feed
    id); the header and signature errors of a correlation report name the pair by it."""
    if not 0 <= feed_a < feed_b < 2**128:
        raise ValueError(f"a pair is two feed ids a < b < 2^128, got ({feed_a}, {feed_b})")
    return feed_a << 128 | feed_b


@dataclass(frozen=True)
class Observation:
    """One signer's view of one feed for one round. Prices and vols in wad."""

    feed_id: int
    round: int
    observed_at: int  # [unix s]
    price: int  # [wad USD]
    vol: int  # [wad]
    vol_floor: int = NO_VOL_FLOOR  # [wad] σ_floor (SPEC §6 [v2])

    def message(self) -> dict:
        return {
            "feedId": self.feed_id,
            "round": self.round,
            "observedAt": self.observed_at,
            "price": self.price,
            "vol": self.vol,
            "volFloor": self.vol_floor,
        }

    def digest(self, domain: Domain) -> bytes:
        return typed_digest(domain, OBSERVATION_TYPES, "Observation", self.message())

    def sign(self, private_key: str | bytes, domain: Domain) -> Signature:
        return sign_typed(private_key, domain, OBSERVATION_TYPES, "Observation", self.message())


@dataclass(frozen=True)
class CorrelationObservation:
    """[v2] One signer's correlation of the pair feed_a < feed_b for one round of the pair."""

    feed_a: int
    feed_b: int
    round: int
    observed_at: int  # [unix s]
    rho: int  # [wad] signed, in [-1e18, 1e18]

    def message(self) -> dict:
        return {
            "feedA": self.feed_a,
            "feedB": self.feed_b,
            "round": self.round,
            "observedAt": self.observed_at,
            "rho": self.rho,
        }

    def digest(self, domain: Domain) -> bytes:
        return typed_digest(domain, CORRELATION_TYPES, "Correlation", self.message())

    def sign(self, private_key: str | bytes, domain: Domain) -> Signature:
        return sign_typed(private_key, domain, CORRELATION_TYPES, "Correlation", self.message())


def report_calldata(feed_id: int, round_: int, observed_at: int, signed: list) -> tuple:
    """ABI tuple for `Oracle.submit`'s `Report` from [(price, vol, Signature)] or
    [(price, vol, volFloor, Signature)] (without a floor: NO_VOL_FLOOR)."""
    rows = []
    for entry in signed:
        *values, sig = entry
        price, vol, vol_floor = (*values, NO_VOL_FLOOR) if len(values) == 2 else values
        rows.append((price, vol, vol_floor, sig.v, sig.r, sig.s))
    return (feed_id, round_, observed_at, rows)


def correlation_calldata(
    feed_a: int, feed_b: int, round_: int, observed_at: int, signed: list
) -> tuple:
    """ABI tuple for `Oracle.submitWithCorrelations`' `CorrelationReport` from [(rho, Signature)]."""
    return (feed_a, feed_b, round_, observed_at, [(rho, s.v, s.r, s.s) for rho, s in signed])
